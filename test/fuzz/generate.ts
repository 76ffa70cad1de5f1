/**
 * Structure-aware hostile inputs for the isolation fuzzer (issue 9). Every generated item is
 * invalid by construction — it carries at least one value the compiler or the ingestor must
 * refuse — dressed in hostile but legal values (huge strings, unicode, deep nesting, regex edge
 * cases), so the oracle is exact: the snapshot with the items equals the snapshot without them,
 * and each item has an error diagnostic naming it. Pure and seeded: one seed, one input.
 */
import { randomBytes } from 'node:crypto';
import { deflateRawSync } from 'node:zlib';
import { Packr } from 'msgpackr';
import { stringify } from 'yaml';
import { prng } from '../../services/compiler/test-prng.ts';
import { escapeToken } from '../../shared/events/subjects.ts';

/** One YAML document in a batch file; diagnosed by its unique name, or by its file and index. */
export interface DocItem {
  t: 'doc';
  /** The name an error diagnostic must carry (unique, or a good object's for a duplicate). */
  name: string;
  /** A duplicate of a good object's identity: only its file and document identify it. */
  duplicate?: true;
  yaml: string;
}

/** A whole file (bytes as base64: may be non-UTF-8); diagnosed by its file name. */
export interface FileItem {
  t: 'file';
  file: string;
  b64: string;
}

/**
 * A message published straight into the event stream. `name`: the object its subject names,
 * which must be diagnosed; null for a message over the server's max_payload, which the server
 * must refuse without disturbing anything else.
 */
export interface EventItem {
  t: 'event';
  subject: string;
  b64: string;
  name: string | null;
}

export type Item = DocItem | FileItem | EventItem;

/** A good object of the golden case, which a duplicate may copy the identity of. */
export interface GoodIdentity {
  apiVersion: string;
  kind: string;
  namespace?: string;
  name: string;
}

/** Source cluster of raw events: not the directory's, so they never collide with its objects. */
export const RAW_CLUSTER = 'fzraw';

type Random = () => number;
const pick = <T>(r: Random, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)]!;

/** Legal but hostile string values for fields whose content is free (labels, annotations). */
function hostileText(r: Random): string {
  return pick(r, [
    'ünïcödé ✓',
    '\u202egnp.exe',
    '😀'.repeat(50),
    'a\u0000b',
    '\ufeffbom',
    '$' + '{HOME}',
    '{{ .Values }}',
    '../../etc/passwd',
    "'; DROP TABLE x; --",
    'x'.repeat(1 + Math.floor(r() * 20_000)),
    '\u0085\u2028\u2029',
    'ⅰⅱⅲ',
  ]);
}

/** A nested map `depth` levels deep (YAML flow-free block style nests as deep as we ask). */
function deep(depth: number): unknown {
  let v: unknown = 'bottom';
  for (let i = 0; i < depth; i++) v = { d: v };
  return v;
}

/** One definitely-invalid Mapping spec change each; every entry must yield an error. */
const BAD_MAPPING: ((r: Random) => Record<string, unknown>)[] = [
  () => ({ prefix: 42 }),
  () => ({ prefix: undefined }),
  () => ({ prefix: ['/a/'] }),
  () => ({ service: '' }),
  () => ({ service: { name: 'x' } }),
  () => ({ weight: 'lots' }),
  () => ({ weight: 101 }),
  () => ({ headers: { 'x a': '1' } }),
  () => ({ timeout_ms: -5 }),
  () => ({ rewrite: 'a\nb' }),
  () => ({ precedence: 'high' }),
  () => ({ hostname: 'a b' }),
  () => ({ hostname: 'ünï code.example' }),
  () => ({ load_balancer: { policy: 'ring_hash' } }),
  () => ({ retry_policy: { retry_on: 'bogus' } }),
  // Regexes RE2 (the data plane's engine) refuses, some of which JavaScript accepts.
  (r) => ({
    regex_headers: {
      'x-foo': pick(r, ['a{1001}', '(?=a)', '(?<n>a)', '(a)\\1', '[z-a]', '(', 'a**', '\\p{Foo}']),
    },
  }),
  (r) => ({ regex_rewrite: { pattern: pick(r, ['a{1001}', '(?!x)', '(']), substitution: 'b' } }),
  (r) => ({ prefix: pick(r, ['/(unclosed', '/(?<=a)b', '/x{2000}']), prefix_regex: true }),
  // Regexes under every per-pattern limit whose program is too large for Envoy's default.
  () => ({ regex_headers: { 'x-big': '((((a{100}){100}){100}){100})' } }),
  // Larger than any client accepts for one route.
  (r) => ({ prefix: `/big/${'x'.repeat(270_000 + Math.floor(r() * 50_000))}` }),
];

let counter = 0;

function mappingDoc(r: Random, name: string): Record<string, unknown> {
  const bad = pick(r, BAD_MAPPING)(r);
  const spec: Record<string, unknown> = {
    hostname: pick(r, ['*', 'fz.example', 'ünïcödé.example']),
    prefix: `/fz/${name}/${r() < 0.3 ? encodeURIComponent(hostileText(r)).slice(0, 200) : ''}`,
    service: pick(r, ['quote', 'fz-svc:80', 'nowhere.ns:8080']),
    ...(r() < 0.3 ? { unknown_field: deep(1 + Math.floor(r() * 300)) } : {}),
    ...bad,
  };
  for (const k of Object.keys(spec)) if (spec[k] === undefined) delete spec[k];
  return {
    apiVersion: pick(r, ['getambassador.io/v3alpha1', 'getambassador.io/v2']),
    kind: 'Mapping',
    metadata: {
      name,
      namespace: 'default',
      ...(r() < 0.3 ? { labels: { fz: 'x' }, annotations: { note: hostileText(r) } } : {}),
    },
    spec,
  };
}

function otherDoc(r: Random, name: string): Record<string, unknown> {
  const [kind, spec] = pick<[string, Record<string, unknown>]>(r, [
    ['Host', { hostname: `${name}.fz.example`, tlsSecret: { name: 'does-not-exist' } }],
    ['Host', { hostname: 7 }],
    ['Host', { hostname: `${name}.fz.example`, requestPolicy: { insecure: { action: 'Teleport' } } }],
    ['TCPMapping', { port: 'x', service: 'quote:80' }],
    ['TCPMapping', { port: 6379, service: '' }],
    [
      'Listener',
      { port: 99_999, protocol: 'HTTP', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
    ],
    [
      'Listener',
      { port: 8443, protocol: 'SCTP', securityModel: 'XFP', hostBinding: { namespace: { from: 'ALL' } } },
    ],
  ]);
  return { apiVersion: 'getambassador.io/v3alpha1', kind, metadata: { name, namespace: 'default' }, spec };
}

/** A YAML document, sometimes with a hostile decoration that is still valid YAML. */
function yamlOf(object: unknown): string {
  return stringify(object, { lineWidth: 0 });
}

function docItem(r: Random, seed: number, goods: readonly GoodIdentity[]): DocItem {
  const name = `fz-${seed}-${counter++}`;
  const k = r();
  if (k < 0.1 && goods.length > 0) {
    // A later duplicate of a good object's identity with a broken service: the established copy
    // keeps serving and the duplicate is rejected naming its file and document.
    const g = pick(r, goods);
    const object = {
      apiVersion: g.apiVersion,
      kind: g.kind,
      metadata: { name: g.name, ...(g.namespace ? { namespace: g.namespace } : {}) },
      spec: { prefix: '/dup/', service: 'nowhere:1', hostname: '*' },
    };
    return { t: 'doc', name: g.name, duplicate: true, yaml: yamlOf(object) };
  }
  const object = k < 0.8 ? mappingDoc(r, name) : otherDoc(r, name);
  return { t: 'doc', name, yaml: yamlOf(object) };
}

const b64 = (s: string | Buffer) => Buffer.from(s).toString('base64');

function fileItem(r: Random, seed: number): FileItem {
  const file = `zz-fz-${seed}-${counter++}.yaml`;
  const mapping = `apiVersion: getambassador.io/v3alpha1\nkind: Mapping\nmetadata: { name: ${file.replace('.yaml', '')}, namespace: default }\nspec:\n  hostname: "*"\n  prefix: /fzfile/\n  service: quote\n`;
  const k = Math.floor(r() * 8);
  switch (k) {
    case 0: {
      // Not UTF-8: a Latin-1 byte in the prefix (would be served as U+FFFD if decoded leniently).
      const at = mapping.indexOf('/fzfile/') + 7;
      return {
        t: 'file',
        file,
        b64: Buffer.concat([
          Buffer.from(mapping.slice(0, at)),
          Buffer.from([0xe9, 0xff]),
          Buffer.from(mapping.slice(at)),
        ]).toString('base64'),
      };
    }
    case 1:
      return { t: 'file', file, b64: b64(`${mapping}  headers: [unclosed\n`) };
    case 2: {
      // Billion laughs: aliases expanding far past any sane size.
      const lines = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
      for (let i = 1; i < 9; i++)
        lines.push(
          `${'abcdefghi'[i]}: &${'abcdefghi'[i]} [${Array(10)
            .fill(`*${'abcdefghi'[i - 1]}`)
            .join(',')}]`,
        );
      return { t: 'file', file, b64: b64(`${mapping}  bomb:\n${lines.map((l) => `    ${l}`).join('\n')}\n`) };
    }
    case 3:
      return { t: 'file', file, b64: b64(mapping.replace(/name: [^,]+,/, 'name: 12345,')) };
    case 4:
      return { t: 'file', file, b64: b64(`${mapping}  prefix: /again/\n`) };
    case 5:
      return { t: 'file', file, b64: Buffer.from(`\ufeff${mapping}`, 'utf16le').toString('base64') };
    case 6:
      return { t: 'file', file, b64: b64(mapping.replace('kind: Mapping', 'kind: [Mapping]')) };
    default:
      return { t: 'file', file, b64: b64(`${mapping}\t  weight: 5\n`) };
  }
}

const packr = new Packr({ useRecords: false, moreTypes: false, structuredClone: false });

function envelope(name: string, extra: Record<string, unknown>): Record<string, unknown> {
  return {
    v: 1,
    cluster: RAW_CLUSTER,
    kind: 'Mapping',
    namespace: 'default',
    name,
    op: 'upsert',
    resourceVersion: '1',
    generation: 0,
    observedAt: '',
    ingestor: 'fuzz',
    ...extra,
  };
}

/**
 * A raw message for the stream. `maxPayload` is the server's limit: a few messages exceed it and
 * must be refused by the server.
 */
function eventItem(r: Random, seed: number, maxPayload: number, r2: Random): EventItem {
  const name = `fzraw-${seed}-${counter++}`;
  const subject = `attache.ev.${RAW_CLUSTER}.Mapping.default.${escapeToken(name)}`;
  const mapping = (spec: Record<string, unknown>) => ({
    apiVersion: 'getambassador.io/v3alpha1',
    kind: 'Mapping',
    metadata: { name, namespace: 'default' },
    spec,
  });
  const bytes = (v: unknown) => Buffer.from(packr.pack(v));
  const k = Math.floor(r() * 14);
  let data: Buffer;
  switch (k) {
    case 0:
      data = randomBytesFrom(r2, 1 + Math.floor(r() * 2000));
      break;
    case 1:
      data = bytes(pick(r, [42, 'text', [1, 2, 3], null, true]));
      break;
    case 2:
      data = bytes(envelope(name, { v: 2 }));
      break;
    case 3:
      data = bytes(envelope(name, { op: 'explode' }));
      break;
    case 4:
      data = bytes(envelope(name, { name: 5 }));
      break;
    case 5:
      data = bytes(
        envelope(name, { object: pick(r, [[1], 'str', 7, { kind: 'Mapping' }, { metadata: 'x' }]) }),
      );
      break;
    case 6:
      data = bytes(envelope(name, { objectZ: randomBytesFrom(r2, 64) }));
      break;
    case 7:
      data = bytes(envelope(name, { objectZ: 'not bytes' }));
      break;
    case 8:
      // An object under every limit whose content is invalid by construction.
      data = bytes(envelope(name, { object: mapping({ prefix: 42, service: 'quote' }) }));
      break;
    case 9:
      data = bytes(
        envelope(name, {
          object: mapping({ prefix: '/fzraw/', service: 'quote', regex_headers: { x: 'a{1001}' } }),
        }),
      );
      break;
    case 10:
      data = bytes(envelope(name, { origin: { file: 7 } }));
      break;
    case 11:
      // Truncated: a valid envelope cut short.
      data = bytes(envelope(name, { object: mapping({ prefix: '/t/', service: 'quote' }) })).subarray(0, 40);
      break;
    case 12:
      if (r() < 0.3) {
        // A deflate bomb: tiny on the wire, far larger than readers inflate.
        data = bytes(envelope(name, { objectZ: deflateRawSync(Buffer.alloc(80 * 1024 * 1024)) }));
        break;
      }
      data = randomBytesFrom(r2, Math.floor(maxPayload * 0.9));
      break;
    default:
      // Over the server's max_payload: refused by the server, never stored.
      return { t: 'event', subject, b64: '', name: null };
  }
  return { t: 'event', subject, b64: data.toString('base64'), name };
}

function randomBytesFrom(r: Random, n: number): Buffer {
  // Seeded: a reproducible byte string, mostly incompressible.
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * 256);
  return out;
}

/** Bytes of an oversize event: generated at publish time, never stored in the corpus. */
export function oversizeBytes(maxPayload: number): Buffer {
  return randomBytes(maxPayload + 1024);
}

/**
 * `resources` hostile objects (documents and whole files) and `events` raw messages for one seed.
 * `goods` are the golden case's identities a duplicate may copy.
 */
export function generate(
  seed: number,
  resources: number,
  events: number,
  goods: readonly GoodIdentity[],
  maxPayload: number,
): Item[] {
  const r = prng(seed);
  const r2 = prng(seed ^ 0x5bd1e995);
  counter = 0;
  const items: Item[] = [];
  for (let i = 0; i < resources; i++) items.push(r() < 0.08 ? fileItem(r, seed) : docItem(r, seed, goods));
  for (let i = 0; i < events; i++) items.push(eventItem(r, seed, maxPayload, r2));
  return items;
}
