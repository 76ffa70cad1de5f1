/**
 * Young-generation collections moved into the debounce window. A change waits `debounceMs` before
 * its compile runs anyway; a scavenge (5–20 ms with the compiler's state at 10,000 Mappings) that
 * runs then is not in the commit's path, whereas one that V8 starts when the commit's own
 * allocations fill the young generation is. So when the first change of a burst arrives and the
 * young generation is already more than {@link FILL_RATIO} full, it is collected at once.
 *
 * This takes one young-generation collection earlier than V8 would, never a full one: the old
 * generation's incremental marking and its final pause stay where V8 puts them. The collector is
 * reached through a new V8 context with `--expose-gc` set at run time (the process's own global
 * scope gets no `gc`); where that is refused, nothing is done.
 */
import v8 from 'node:v8';
import vm from 'node:vm';

/** Collect when the young generation is this full: a commit allocates ~2–3 MB of its ~16 MB. */
const FILL_RATIO = 0.5;

type GcFunction = (options: { type: 'minor' | 'major'; execution?: 'sync' | 'async' }) => void;

export class IdleScavenger {
  private readonly gc: GcFunction | undefined;

  constructor() {
    try {
      v8.setFlagsFromString('--expose-gc');
      const gc = vm.runInNewContext('typeof gc === "function" ? gc : undefined') as GcFunction | undefined;
      this.gc = gc;
    } catch {
      this.gc = undefined;
    }
  }

  /** Collects the young generation now if it is more than half full; true if it did. */
  collectIfFull(): boolean {
    if (!this.gc) return false;
    const young = v8.getHeapSpaceStatistics().find((s) => s.space_name === 'new_space');
    // `space_size` counts both semi-spaces; what can be allocated before a scavenge is used + available.
    if (!young || young.space_used_size < (young.space_used_size + young.space_available_size) * FILL_RATIO)
      return false;
    this.gc({ type: 'minor' });
    return true;
  }
}
