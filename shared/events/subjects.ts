/**
 * NATS subjects and JetStream names for the event log.
 *
 *   attache.ev.<cluster>.<kind>.<namespace>.<name>   configuration objects
 *   attache.ep.<cluster>.<kind>.<namespace>.<name>   Endpoints / EndpointSlices (fast path)
 *   attache.ev.<cluster>._resync._._                 end of a full relist by one ingestor
 *
 * One stream holds both, so one sequence orders every change: the log's logical clock.
 * Tokens are escaped so that names containing dots (legal in Kubernetes) stay one token.
 */
import { ENDPOINT_KINDS, type EventEnvelope } from './envelope.ts';

export const STREAM_NAME = 'ATTACHE_EVENTS';
export const CONFIG_SUBJECT_ROOT = 'attache.ev';
export const ENDPOINT_SUBJECT_ROOT = 'attache.ep';
export const STREAM_SUBJECTS: readonly string[] = [`${CONFIG_SUBJECT_ROOT}.>`, `${ENDPOINT_SUBJECT_ROOT}.>`];

/** Placeholder token for an empty namespace or name. */
const EMPTY = '_';

/**
 * Escapes one subject token: anything outside [A-Za-z0-9-] becomes `%XX` (UTF-8), so `.`, `*`,
 * `>` and whitespace never reach NATS, `_` stays reserved for "empty", and escaping is reversible.
 */
export function escapeToken(s: string): string {
  if (s === '') return EMPTY;
  let out = '';
  for (const byte of Buffer.from(s, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** Reverses {@link escapeToken}. */
export function unescapeToken(token: string): string {
  if (token === EMPTY) return '';
  return Buffer.from(
    token.replace(/%([0-9A-F]{2})/g, (_m, h: string) => String.fromCharCode(Number.parseInt(h, 16))),
    'latin1',
  ).toString('utf8');
}

/** The subject an event is published on. */
export function subjectFor(e: Pick<EventEnvelope, 'cluster' | 'kind' | 'namespace' | 'name' | 'op'>): string {
  if (e.op === 'resync') return `${CONFIG_SUBJECT_ROOT}.${escapeToken(e.cluster)}._resync.${EMPTY}.${EMPTY}`;
  const root = ENDPOINT_KINDS.has(e.kind) ? ENDPOINT_SUBJECT_ROOT : CONFIG_SUBJECT_ROOT;
  return [root, e.cluster, e.kind, e.namespace, e.name]
    .map((t, i) => (i === 0 ? t : escapeToken(t)))
    .join('.');
}

/** Subject filters matching every event of one source cluster. */
export function clusterSubjects(cluster: string): string[] {
  const c = escapeToken(cluster);
  return [`${CONFIG_SUBJECT_ROOT}.${c}.>`, `${ENDPOINT_SUBJECT_ROOT}.${c}.>`];
}

/**
 * The JetStream message id used for de-duplication: the object's identity, the operation and its
 * version. Publishing the same change twice (a retry, or a restarted ingestor) is stored once.
 */
export function messageIdFor(e: EventEnvelope): string {
  return `${e.cluster}/${e.kind}/${e.namespace}/${e.name}/${e.op}/${e.resourceVersion}`;
}

/** NATS wildcard matching (`*` one token, `>` one or more trailing tokens). */
export function subjectMatches(filter: string, subject: string): boolean {
  const f = filter.split('.');
  const s = subject.split('.');
  for (let i = 0; i < f.length; i++) {
    const ft = f[i];
    if (ft === '>') return s.length > i;
    if (i >= s.length) return false;
    if (ft !== '*' && ft !== s[i]) return false;
  }
  return f.length === s.length;
}

/**
 * The event that stands for a message in the log that is not a valid envelope (corrupt, forged,
 * from an incompatible producer): a `reject` of the object its subject names, so readers keep
 * serving that object's last good version, report it as invalid, and read on — one bad message
 * never stops a reader. A subject outside the layout above names no object; the stand-in is then
 * a `reject` of kind `InvalidEvent` named by the subject, so it is still reported. Pure: every
 * reader of the same message derives the same event, so replays stay byte-identical.
 */
export function undecodableEvent(subject: string, reason: string): EventEnvelope {
  const t = subject.split('.');
  const known =
    t.length === 6 &&
    (`${t[0]}.${t[1]}` === CONFIG_SUBJECT_ROOT || `${t[0]}.${t[1]}` === ENDPOINT_SUBJECT_ROOT);
  const [cluster, kind, namespace, name] = known
    ? (t.slice(2).map(unescapeToken) as [string, string, string, string])
    : ['', 'InvalidEvent', '', subject];
  const why = `the event on ${subject} is not a valid envelope (${reason.slice(0, 300)})`;
  return {
    v: 1,
    cluster,
    kind: kind === '_resync' ? 'InvalidEvent' : kind,
    namespace,
    name: kind === '_resync' ? subject : name,
    op: 'reject',
    resourceVersion: '',
    generation: 0,
    observedAt: '',
    ingestor: '',
    reason: why,
  };
}
