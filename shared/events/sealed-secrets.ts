/**
 * Secret payloads in the event log are sealed (shared/runtime/secret-keys.ts). A Secret upsert
 * travels with its identity, `type`, labels and annotations in the clear and everything that can
 * hold key material — `data`, `stringData` and kubectl's last-applied annotation (a full copy of
 * the object) — sealed into the field {@link SEALED_FIELD}, bound to the Secret's identity.
 *
 * {@link SecretSealingEventLog} wraps any EventLog: publish seals, read/follow/durable open, so
 * ingestors, compiler, replay and `attache dev` share one rule. What it cannot carry safely
 * becomes a Secret without data and the annotation {@link REFUSED_ANNOTATION}, whose text the
 * compiler reports on the Secret (sources/tls-context-secret.ts):
 *
 *   - publishing a Secret without a key ring in `refuse` mode (production commands do not start
 *     without keys or `--allow-plaintext-secrets`, so this is a safety net, not a mode);
 *   - reading a sealed Secret whose key id is not configured, or that does not authenticate;
 *   - reading a plaintext Secret without a key ring in `refuse` mode.
 */
import type { Logger } from '../runtime/logger.ts';
import { type KeyRing, SealError } from '../runtime/secret-keys.ts';
import type { EventEnvelope, SourceObject } from './envelope.ts';
import type {
  DurableDelivery,
  DurableOptions,
  EventLog,
  FollowOptions,
  LoggedEvent,
  PublishAck,
  ReadOptions,
} from './event-log.ts';
import { packr } from './msgpack.ts';

/** Field of a sealed Secret object holding the sealed payload. */
export const SEALED_FIELD = 'attache.io/sealed';
/** Annotation on a Secret whose material was not carried, with the reason. */
export const REFUSED_ANNOTATION = 'attache.io/secret-refused';
const LAST_APPLIED = 'kubectl.kubernetes.io/last-applied-configuration';

/** `refuse`: production — never carry plaintext Secret material; `allow`: `attache dev`. */
export type PlaintextPolicy = 'refuse' | 'allow';

interface SealedPayload {
  data?: unknown;
  stringData?: unknown;
  lastApplied?: unknown;
}

const contextOf = (e: EventEnvelope) => `secret-event:${e.cluster}/${e.namespace}/${e.name}`;

function isSecretUpsert(e: EventEnvelope): e is EventEnvelope & { object: SourceObject } {
  return e.kind === 'Secret' && e.op === 'upsert' && e.object !== undefined;
}

function annotations(o: SourceObject): Record<string, string> {
  return (o.metadata.annotations ?? {}) as Record<string, string>;
}

function hasMaterial(o: SourceObject): boolean {
  return o.data !== undefined || o.stringData !== undefined || LAST_APPLIED in annotations(o);
}

/** The object without anything that can hold material (the clear part of a sealed Secret). */
function stripped(o: SourceObject): SourceObject {
  const { data: _d, stringData: _s, [SEALED_FIELD]: _x, ...rest } = o;
  if (o.metadata.annotations === undefined) return { ...rest, metadata: o.metadata };
  const { [LAST_APPLIED]: _l, ...kept } = annotations(o);
  return { ...rest, metadata: { ...o.metadata, annotations: kept } };
}

/** Marks `o` as refused: no material, the reason in an annotation. */
export function refusedSecret(o: SourceObject, reason: string): SourceObject {
  const s = stripped(o);
  return {
    ...s,
    metadata: { ...s.metadata, annotations: { ...annotations(s), [REFUSED_ANNOTATION]: reason } },
  };
}

/** Seals a Secret upsert's material; other events are returned as they are. */
export function sealEvent(e: EventEnvelope, keys: KeyRing): EventEnvelope {
  if (!isSecretUpsert(e) || !hasMaterial(e.object)) return e;
  const payload: SealedPayload = {};
  if (e.object.data !== undefined) payload.data = e.object.data;
  if (e.object.stringData !== undefined) payload.stringData = e.object.stringData;
  const lastApplied = annotations(e.object)[LAST_APPLIED];
  if (lastApplied !== undefined) payload.lastApplied = lastApplied;
  const sealed = keys.seal(packr().pack(payload), contextOf(e));
  return { ...e, object: { ...stripped(e.object), [SEALED_FIELD]: sealed } };
}

/** Opens a sealed Secret upsert (throws SealError); plaintext and other events pass unchanged. */
export function openEvent(e: EventEnvelope, keys: KeyRing | undefined): EventEnvelope {
  if (!isSecretUpsert(e)) return e;
  const sealed = e.object[SEALED_FIELD];
  if (sealed === undefined) return e;
  if (!(sealed instanceof Uint8Array)) throw new SealError(`${SEALED_FIELD} is not sealed bytes`);
  if (!keys)
    throw new SealError('this process has no secret keys (--secret-keys-file / ATTACHE_SECRET_KEYS)');
  const payload = packr().unpack(keys.open(sealed, contextOf(e))) as SealedPayload;
  const base = stripped(e.object);
  const out: SourceObject = { ...base };
  if (payload.data !== undefined) out.data = payload.data;
  if (payload.stringData !== undefined) out.stringData = payload.stringData;
  if (typeof payload.lastApplied === 'string') {
    out.metadata = {
      ...base.metadata,
      annotations: { ...annotations(base), [LAST_APPLIED]: payload.lastApplied },
    };
  }
  return { ...e, object: out };
}

/**
 * The reading rule every holder of sealed Secrets applies (the event log, compiler checkpoints):
 * opens a sealed Secret upsert; a Secret it cannot open, or plaintext material it may not hold,
 * becomes a refused Secret, with the reason in `refused`. Other events pass unchanged.
 */
export function openIncoming(
  e: EventEnvelope,
  keys: KeyRing | undefined,
  plaintext: PlaintextPolicy,
): { event: EventEnvelope; refused?: string } {
  if (!isSecretUpsert(e)) return { event: e };
  if (e.object[SEALED_FIELD] === undefined) {
    if (keys || plaintext === 'allow' || !hasMaterial(e.object)) return { event: e };
    const reason =
      'the event log holds this Secret unsealed and this process has no secret keys to protect it; not used';
    return { event: { ...e, object: refusedSecret(e.object, reason) }, refused: reason };
  }
  try {
    return { event: openEvent(e, keys) };
  } catch (err) {
    const reason = `cannot open the sealed Secret: ${err instanceof Error ? err.message : String(err)}`;
    return { event: { ...e, object: refusedSecret(e.object, reason) }, refused: reason };
  }
}

/** An EventLog that seals Secret material on publish and opens it on every read. */
export class SecretSealingEventLog implements EventLog {
  private readonly refusedLogged = new Set<string>();

  constructor(
    private readonly inner: EventLog,
    private readonly opts: { keys?: KeyRing; plaintext: PlaintextPolicy; log: Logger },
  ) {}

  publish(event: EventEnvelope, opts?: { msgId?: string }): Promise<PublishAck> {
    return this.inner.publish(this.outgoing(event), opts);
  }

  lastSeq(): Promise<number> {
    return this.inner.lastSeq();
  }

  firstSeq(): Promise<number> {
    return this.inner.firstSeq();
  }

  async *read(opts: ReadOptions): AsyncIterable<LoggedEvent> {
    for await (const e of this.inner.read(opts)) yield { ...e, event: this.incoming(e.event) };
  }

  async *follow(opts: FollowOptions): AsyncIterable<LoggedEvent> {
    for await (const e of this.inner.follow(opts)) yield { ...e, event: this.incoming(e.event) };
  }

  async *durable(name: string, opts: DurableOptions): AsyncIterable<DurableDelivery> {
    for await (const d of this.inner.durable(name, opts)) yield { ...d, event: this.incoming(d.event) };
  }

  close(): Promise<void> {
    return this.inner.close();
  }

  private outgoing(e: EventEnvelope): EventEnvelope {
    if (!isSecretUpsert(e) || !hasMaterial(e.object)) return e;
    if (this.opts.keys) return sealEvent(e, this.opts.keys);
    if (this.opts.plaintext === 'allow') return e;
    const reason =
      'the ingestor has no secret keys (--secret-keys-file / ATTACHE_SECRET_KEYS), so it does not carry Secret material';
    this.refuse(e, reason);
    return { ...e, object: refusedSecret(e.object, reason) };
  }

  private incoming(e: EventEnvelope): EventEnvelope {
    const { event, refused } = openIncoming(e, this.opts.keys, this.opts.plaintext);
    if (refused !== undefined) this.refuse(e, refused);
    return event;
  }

  private refuse(e: EventEnvelope, reason: string): void {
    const key = `${e.cluster}/${e.namespace}/${e.name}/${e.resourceVersion}`;
    if (this.refusedLogged.has(key)) return;
    if (this.refusedLogged.size > 10_000) this.refusedLogged.clear();
    this.refusedLogged.add(key);
    this.opts.log.error(
      { cluster: e.cluster, namespace: e.namespace, name: e.name },
      `Secret material not carried: ${reason}`,
    );
  }
}
