/**
 * The compiler checkpoint: its folded world state at one event sequence, encoded so that a
 * compiler (or `attache replay`) can load it and fold only the events after it, and get output
 * byte-identical to folding the whole log.
 *
 * What it carries, and why:
 * - `seq`: the last event folded (the tail starts at seq + 1);
 * - `last`: the identity of that event (cluster/kind/namespace/name, op, resourceVersion), so a
 *   checkpoint written against another log (a recreated stream reusing sequences) is noticed
 *   while that event is still retained;
 * - `syncing`: source clusters between a relist and its resync marker (the sync barrier's state);
 * - the world itself: every (key, record) pair, in key order, exactly as folded (msgpackr with plain
 *   maps, as the event envelope, so every value the log carried round-trips unchanged);
 * - a format version and a SHA-256 of the encoded world: anything else, or a mismatch, is a
 *   {@link CheckpointError}, and the reader falls back to the log.
 *
 * Secret material is sealed with the compiler's key ring exactly as the event log seals it
 * (shared/events/sealed-secrets.ts), and opened by the same rule on load; without keys a Secret's
 * material stays as the log delivered it (plaintext only where the log holds plaintext: `attache dev`).
 */
import { Packr } from 'msgpackr';
import { ENVELOPE_VERSION, type EventEnvelope } from '../../shared/events/envelope.ts';
import { openIncoming, type PlaintextPolicy, sealEvent } from '../../shared/events/sealed-secrets.ts';
import { AttacheError } from '../../shared/runtime/errors.ts';
import type { KeyRing } from '../../shared/runtime/secret-keys.ts';
import { sha256Hex } from '../../shared/xds/encoding.ts';
import type { SourceRecord } from './contracts.ts';

/** Checkpoint format version; a reader refuses any other (and folds the log instead). */
export const CHECKPOINT_FORMAT = 1;
const MAGIC = 'attache-checkpoint';

/** A checkpoint that cannot be used: corrupt, truncated, of another format, or of another log. */
export class CheckpointError extends AttacheError {}

/** The folded state a checkpoint holds. */
export interface CheckpointState {
  /** Last event sequence folded. */
  seq: number;
  /** Identity of the event at `seq` ({@link eventIdentity}); empty when seq = 0. */
  last: string;
  /** Source clusters with an open relist at `seq`. */
  syncing: string[];
  /** World state entries (objectKey → record), sorted by key. */
  entries: [string, SourceRecord][];
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });

/** The identity of one logged event, as a checkpoint records its last one. */
export function eventIdentity(e: EventEnvelope): string {
  return JSON.stringify([e.cluster, e.kind, e.namespace, e.name, e.op, e.resourceVersion]);
}

export function encodeCheckpoint(state: CheckpointState, keys?: KeyRing): Uint8Array {
  const entries = keys ? state.entries.map(([k, r]) => [k, sealRecord(r, keys)]) : state.entries;
  const world = packr.pack(entries);
  return packr.pack({
    magic: MAGIC,
    format: CHECKPOINT_FORMAT,
    seq: state.seq,
    last: state.last,
    syncing: state.syncing,
    objects: state.entries.length,
    sha256: sha256Hex(world),
    world,
  });
}

/** Checkpoint fields readable without decoding the world (cheap: for listing and choosing). */
export interface CheckpointHeader {
  seq: number;
  last: string;
  objects: number;
}

/** Decodes and verifies a checkpoint; throws {@link CheckpointError} when it cannot be used. */
export function decodeCheckpoint(
  bytes: Uint8Array,
  keys: KeyRing | undefined,
  plaintext: PlaintextPolicy,
): CheckpointState & CheckpointHeader {
  let outer: Record<string, unknown>;
  try {
    outer = packr.unpack(bytes) as Record<string, unknown>;
  } catch (err) {
    throw new CheckpointError(`not a decodable checkpoint (${(err as Error).message})`);
  }
  if (!outer || typeof outer !== 'object' || outer.magic !== MAGIC)
    throw new CheckpointError('not an Attaché compiler checkpoint');
  if (outer.format !== CHECKPOINT_FORMAT)
    throw new CheckpointError(
      `checkpoint format ${String(outer.format)} is not the format this compiler reads (${CHECKPOINT_FORMAT})`,
    );
  const { seq, last, syncing, objects, sha256, world } = outer;
  if (
    typeof seq !== 'number' ||
    typeof last !== 'string' ||
    !Array.isArray(syncing) ||
    typeof objects !== 'number' ||
    typeof sha256 !== 'string' ||
    !(world instanceof Uint8Array)
  )
    throw new CheckpointError('checkpoint header is incomplete');
  if (sha256Hex(world) !== sha256)
    throw new CheckpointError(`checkpoint at sequence ${seq} fails its checksum (corrupt)`);
  let entries: [string, SourceRecord][];
  try {
    entries = packr.unpack(world) as [string, SourceRecord][];
  } catch (err) {
    throw new CheckpointError(`checkpoint world state does not decode (${(err as Error).message})`);
  }
  if (!Array.isArray(entries) || entries.length !== objects)
    throw new CheckpointError(
      `checkpoint at sequence ${seq} holds ${entries.length} objects, not ${objects}`,
    );
  return {
    seq,
    last,
    objects,
    syncing: syncing.map(String),
    entries: entries.map(([k, r]) => [k, openRecord(r, keys, plaintext)]),
  };
}

/** The envelope a Secret record would travel in (for the event log's sealing rule). */
function secretEnvelope(r: SourceRecord): EventEnvelope {
  return {
    v: ENVELOPE_VERSION,
    cluster: r.cluster,
    kind: 'Secret',
    namespace: r.object.metadata.namespace ?? '',
    name: r.object.metadata.name,
    op: 'upsert',
    resourceVersion: r.resourceVersion ?? '',
    generation: 0,
    observedAt: '',
    ingestor: '',
    object: r.object,
  };
}

function sealRecord(r: SourceRecord, keys: KeyRing): SourceRecord {
  if (r.object.kind !== 'Secret') return r;
  const sealed = sealEvent(secretEnvelope(r), keys).object;
  return sealed === r.object || !sealed ? r : { ...r, object: sealed };
}

function openRecord(r: SourceRecord, keys: KeyRing | undefined, plaintext: PlaintextPolicy): SourceRecord {
  if (r.object?.kind !== 'Secret') return r;
  const opened = openIncoming(secretEnvelope(r), keys, plaintext).event.object;
  return opened === r.object || !opened ? r : { ...r, object: opened };
}
