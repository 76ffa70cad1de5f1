/**
 * What the fan-out under test says about a push, read from its /metrics: response messages,
 * bytes written and bytes copied per stream (counters), and heap + Buffer memory (sampled while
 * the push runs, for the transient memory a push costs).
 */

export interface WriteTotals {
  messages: number;
  bytes: number;
  copied: number;
}

export interface MemoryReading {
  /** V8 heap used + memory held by Buffers outside the heap. */
  heapAndExternalBytes: number;
}

function value(text: string, name: string): number | null {
  const m = new RegExp(`^${name}(?:\\{[^}]*\\})?\\s+([0-9.e+-]+)$`, 'm').exec(text);
  return m ? Number(m[1]) : null;
}

/**
 * The heap gauges only: prom-client sets all three while collecting the first, so it comes first.
 * A full scrape collects every metric (event-loop lag and heap spaces cost most) and, polled every
 * 100 ms through a change, took the fan-out ~0.4 s of CPU per run; this costs a few percent of it.
 */
const MEMORY_ONLY = `?${[
  'nodejs_heap_size_total_bytes',
  'nodejs_heap_size_used_bytes',
  'nodejs_external_memory_bytes',
]
  .map((n) => `name=${n}`)
  .join('&')}`;

/** The fan-out's /metrics text (with `query`, e.g. {@link MEMORY_ONLY}), or null if it does not answer. */
export async function scrape(adminPort: number, query = ''): Promise<string | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${adminPort}/metrics${query}`, {
      signal: AbortSignal.timeout(5000),
    });
    return await res.text();
  } catch {
    return null;
  }
}

export function writeTotals(text: string | null): WriteTotals | null {
  if (!text) return null;
  const messages = value(text, 'attache_fanout_response_messages_total');
  const bytes = value(text, 'attache_fanout_response_bytes_total');
  const copied = value(text, 'attache_fanout_response_copied_bytes_total');
  if (messages === null || bytes === null || copied === null) return null;
  return { messages, bytes, copied };
}

export function memory(text: string | null): MemoryReading | null {
  if (!text) return null;
  const heap = value(text, 'nodejs_heap_size_used_bytes');
  const external = value(text, 'nodejs_external_memory_bytes');
  if (heap === null || external === null) return null;
  return { heapAndExternalBytes: heap + external };
}

/** Samples the fan-out's heap + external memory every `everyMs` until stopped; keeps the peak. */
export class MemoryPeak {
  private peak = 0;
  private running = true;
  private readonly loop: Promise<void>;

  constructor(
    private readonly adminPort: number,
    private readonly everyMs = 100,
  ) {
    this.loop = this.run();
  }

  private async run(): Promise<void> {
    while (this.running) {
      const m = memory(await scrape(this.adminPort, MEMORY_ONLY));
      if (m && m.heapAndExternalBytes > this.peak) this.peak = m.heapAndExternalBytes;
      await new Promise((r) => setTimeout(r, this.everyMs));
    }
  }

  async stop(): Promise<number> {
    this.running = false;
    await this.loop;
    return this.peak;
  }
}
