/**
 * Key layout of the Redis snapshot store. Everything lives under one configurable prefix `<p>`
 * (default `attache:`), so several installations can share a Redis and `SCAN <p>*` finds exactly
 * one installation's keys.
 *
 * | key                          | type    | contents                                                  |
 * |------------------------------|---------|-----------------------------------------------------------|
 * | `<p>blob:<hash>`             | string  | one immutable blob (encoded resource, diagnostics, a      |
 * |                              |         | provenance piece or a manifest piece), addressed by its   |
 * |                              |         | content hash; written with SET NX                         |
 * | `<p>g:{<group>}:epoch`       | string  | the group's current fencing epoch (INCR); absent = 0      |
 * | `<p>g:{<group>}:head`        | string  | the group's committed version (decimal); absent = none    |
 * | `<p>g:{<group>}:m:<version>` | string  | the manifest of (group, version), its type lists as piece |
 * |                              |         | hashes (`stored-manifest.ts`; `encodeManifest` JSON, whole, |
 * |                              |         | in versions stored before pieces)                         |
 * | `<p>g:{<group>}:r:<version>` | string  | the commit record of (group, version): JSON, see          |
 * |                              |         | `commit-record.ts`; deleted with its manifest             |
 * | `<p>g:{<group>}:versions`    | zset    | stored versions, member = score = version                 |
 * | `<p>groups`                  | set     | every group ever committed (raw, unescaped names)         |
 * | `<p>log`                     | stream  | snapshot log: one entry per commit, fields `group`,       |
 * |                              |         | `version`; trimmed with approximate MAXLEN                |
 * | `<p>commits`                 | string  | commit counter (INCR per commit); lets gc detect a commit |
 * |                              |         | that raced its mark phase                                 |
 * | `<p>lease:<name>`            | string  | a leader lease: the holder id, with a PX expiry           |
 * | `<p>ckpt:<seq>`              | string  | a compiler checkpoint covering events 1..seq (binary,     |
 * |                              |         | services/compiler/checkpoint.ts)                          |
 * | `<p>ckpts`                   | zset    | stored checkpoint sequences, member = score = seq         |
 * | `<p>nudge` (pub/sub channel) | channel | published once per commit: JSON `{id, group, version}`   |
 *
 * `<group>` is escaped with {@link escapeGroup}: every byte outside `[A-Za-z0-9_.-]` becomes
 * `%XX`, so any group name (including `{`, `}`, `:`, `*`, spaces, non-ASCII) yields a distinct key
 * that cannot collide with another group's keys, break the `{…}` hash tag, or act as a SCAN glob.
 *
 * The commit script touches blob keys, group keys, the groups set and the log in one atomic
 * step, so the store needs a single Redis primary (replicas and Sentinel are fine; Redis Cluster
 * is not: README, High availability).
 */

/** Escapes a group name for use inside keys (reversible with {@link unescapeGroup}). */
export function escapeGroup(group: string): string {
  let out = '';
  for (const byte of Buffer.from(group, 'utf8')) {
    const c = String.fromCharCode(byte);
    out += /[A-Za-z0-9_.-]/.test(c) ? c : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

export function unescapeGroup(escaped: string): string {
  return decodeURIComponent(escaped);
}

/** Escapes glob metacharacters so a literal string can prefix a SCAN MATCH pattern. */
function globLiteral(s: string): string {
  return s.replace(/[*?[\]\\]/g, '\\$&');
}

/** Key builders for one prefix. */
export class RedisKeys {
  constructor(readonly prefix: string) {}

  blob(hash: string): string {
    return `${this.prefix}blob:${hash}`;
  }

  /** The hash of a blob key (inverse of {@link blob}). */
  hashOfBlobKey(key: string): string {
    return key.slice(this.prefix.length + 'blob:'.length);
  }

  private group(group: string): string {
    return `${this.prefix}g:{${escapeGroup(group)}}`;
  }

  epoch(group: string): string {
    return `${this.group(group)}:epoch`;
  }

  head(group: string): string {
    return `${this.group(group)}:head`;
  }

  manifest(group: string, version: number | string): string {
    return `${this.group(group)}:m:${version}`;
  }

  commitRecord(group: string, version: number | string): string {
    return `${this.group(group)}:r:${version}`;
  }

  versions(group: string): string {
    return `${this.group(group)}:versions`;
  }

  get groups(): string {
    return `${this.prefix}groups`;
  }

  get log(): string {
    return `${this.prefix}log`;
  }

  get commits(): string {
    return `${this.prefix}commits`;
  }

  lease(name: string): string {
    return `${this.prefix}lease:${name}`;
  }

  checkpoint(seq: number | string): string {
    return `${this.prefix}ckpt:${seq}`;
  }

  get checkpoints(): string {
    return `${this.prefix}ckpts`;
  }

  get nudgeChannel(): string {
    return `${this.prefix}nudge`;
  }

  /** SCAN pattern matching every blob key. */
  get blobPattern(): string {
    return `${globLiteral(this.prefix)}blob:*`;
  }

  /** SCAN pattern matching every manifest key of every group. */
  get manifestPattern(): string {
    return `${globLiteral(this.prefix)}g:{*}:m:*`;
  }
}
