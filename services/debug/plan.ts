/**
 * `attache plan`: fold proposed objects into the current state from the log and diff the result
 * against the current snapshot, before anything is applied — like `kubectl diff` for the edge.
 * Proposed objects are upserts of the given source cluster; with `prune`, that cluster's objects
 * absent from the proposal are deleted (what the YAML ingestor does when the directory is the
 * cluster's source of truth).
 */
import type { EventEnvelope, SourceObject } from '../../shared/events/envelope.ts';
import { ENVELOPE_VERSION, objectKey } from '../../shared/events/envelope.ts';
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { WorldState } from '../compiler/runner-world.ts';
import type { LogHistory } from './log-history.ts';
import { diffViews, type SnapshotDiff } from './snapshot-diff.ts';
import { viewOfCompile } from './snapshot-view.ts';

export interface ProposedObject {
  object: SourceObject;
  origin?: { file: string; document: number };
}

export function plan(
  history: LogHistory,
  proposed: readonly ProposedObject[],
  opts: { cluster: string; prune: boolean },
): SnapshotDiff {
  const seq = history.lastSeq;
  const current = history.viewAt(seq);
  const world = new WorldState();
  for (const r of history.events) world.apply(r.seq, r.event);
  const events: LoggedEvent[] = [];
  const publish = (event: EventEnvelope) => {
    const e = { seq: seq + events.length + 1, subject: 'proposed', event };
    events.push(e);
    world.apply(e.seq, event);
  };
  const base = {
    v: ENVELOPE_VERSION,
    cluster: opts.cluster,
    generation: 0,
    observedAt: '',
    ingestor: 'attache plan',
    resourceVersion: 'proposed',
  };
  const proposedKeys = new Set<string>();
  for (const p of proposed) {
    const identity = {
      kind: p.object.kind,
      namespace: p.object.metadata.namespace ?? '',
      name: p.object.metadata.name,
    };
    proposedKeys.add(objectKey({ cluster: opts.cluster, ...identity }));
    publish({
      ...base,
      ...identity,
      op: 'upsert',
      object: p.object,
      ...(p.origin ? { origin: p.origin } : {}),
    });
  }
  if (opts.prune) {
    for (const r of world.records()) {
      const identity = {
        kind: r.object.kind,
        namespace: r.object.metadata.namespace ?? '',
        name: r.object.metadata.name,
      };
      if (r.cluster !== opts.cluster || proposedKeys.has(objectKey({ cluster: r.cluster, ...identity })))
        continue;
      publish({ ...base, ...identity, op: 'delete' });
    }
  }
  const after = viewOfCompile(history.group, world.lastSeq, history.compile(world.records()));
  return diffViews(current, after, events);
}
