/**
 * Bearer tokens that authenticate xDS clients for groups (`authorization: Bearer <token>` in the
 * gRPC metadata of the stream; Envoy sends it with `initial_metadata` on its ADS `grpc_service`).
 *
 * Table format (a file given by `--tokens-file`, or the text of `ATTACHE_XDS_TOKENS`): one entry
 * per line, `#` starts a comment, blank lines are ignored, and `;` also separates entries (so the
 * environment form fits on one line):
 *
 *     <group>[,<group>...]  <token>
 *     <group>[,<group>...]  sha256:<64 hex digits of sha256(token)>
 *
 * A plain token must be at least {@link MIN_TOKEN_LENGTH} characters of `[A-Za-z0-9._~+/=-]`. The
 * `sha256:` form lets the fan-out hold no usable token at all. Tokens are never compared as
 * strings: the presented token is hashed and compared with every entry's hash with
 * `timingSafeEqual`, so the time taken does not depend on how much of a token matched. A token
 * listed twice is a configuration error (its groups would be ambiguous).
 */
import { timingSafeEqual } from 'node:crypto';
import fs from 'node:fs';
import { ConfigError } from '../../../shared/runtime/errors.ts';
import { sha256Hex } from '../../../shared/xds/encoding.ts';

/** Environment variable holding the table itself (not a path): the secret flag `--xds-tokens`. */
export const TOKENS_ENV = 'ATTACHE_XDS_TOKENS';
export const MIN_TOKEN_LENGTH = 16;

const TOKEN_CHARS = /^[A-Za-z0-9._~+/=-]+$/;
const HASHED = /^sha256:([0-9a-f]{64})$/;
const GROUP = /^[A-Za-z0-9._-]+$/;

/** One accepted token: its hash and the groups it authenticates for. */
export interface TokenEntry {
  readonly digest: Buffer;
  readonly groups: readonly string[];
  /** Safe to log: the first 12 hex digits of the token's sha256. */
  readonly label: string;
}

export class TokenTable {
  private constructor(readonly entries: readonly TokenEntry[]) {}

  get size(): number {
    return this.entries.length;
  }

  /** Parses the table text; `source` names where it came from in error messages. */
  static parse(text: string, source: string): TokenTable {
    const entries: TokenEntry[] = [];
    const seen = new Set<string>();
    const lines = text.split(/[\n;]/);
    lines.forEach((raw, i) => {
      const line = raw.replace(/#.*$/, '').trim();
      if (line === '') return;
      const where = `${source}, entry ${i + 1}`;
      const parts = line.split(/\s+/);
      if (parts.length !== 2) throw new ConfigError(`${where}: expected "<group>[,<group>...] <token>"`);
      const [groupList, secret] = parts as [string, string];
      const groups = [...new Set(groupList.split(',').filter((g) => g !== ''))].sort();
      if (groups.length === 0 || !groups.every((g) => GROUP.test(g))) {
        throw new ConfigError(`${where}: groups must be names of [A-Za-z0-9._-], comma-separated`);
      }
      const hashed = HASHED.exec(secret);
      let hex: string;
      if (hashed?.[1]) hex = hashed[1];
      else {
        if (secret.length < MIN_TOKEN_LENGTH || !TOKEN_CHARS.test(secret)) {
          throw new ConfigError(
            `${where}: a token must be at least ${MIN_TOKEN_LENGTH} characters of [A-Za-z0-9._~+/=-] (or sha256:<hex>)`,
          );
        }
        hex = sha256Hex(secret);
      }
      if (seen.has(hex)) throw new ConfigError(`${where}: the same token is listed twice`);
      seen.add(hex);
      entries.push({ digest: Buffer.from(hex, 'hex'), groups, label: `sha256:${hex.slice(0, 12)}` });
    });
    return new TokenTable(entries);
  }

  /**
   * The table from `--tokens-file` and/or the text of `ATTACHE_XDS_TOKENS` (`inline`; both may be
   * given, their entries are merged). Undefined when neither is set.
   */
  static load(file: string | undefined, inline: string | undefined): TokenTable | undefined {
    const parts: TokenEntry[] = [];
    if (file) {
      let text: string;
      try {
        text = fs.readFileSync(file, 'utf8');
      } catch (err) {
        throw new ConfigError(`--tokens-file: cannot read ${file}: ${(err as Error).message}`);
      }
      parts.push(...TokenTable.parse(text, file).entries);
    }
    if (inline) parts.push(...TokenTable.parse(inline, TOKENS_ENV).entries);
    if (!file && !inline) return undefined;
    const labels = new Set<string>();
    for (const e of parts) {
      const hex = e.digest.toString('hex');
      if (labels.has(hex))
        throw new ConfigError('the same token is listed twice (tokens file and environment)');
      labels.add(hex);
    }
    if (parts.length === 0) throw new ConfigError('the bearer token table is empty');
    return new TokenTable(parts);
  }

  /** The entry of `token`, or undefined. Compares hashes of equal length in constant time. */
  match(token: string): TokenEntry | undefined {
    const digest = Buffer.from(sha256Hex(token), 'hex');
    let found: TokenEntry | undefined;
    // Every entry is compared, whether or not an earlier one matched.
    for (const e of this.entries) if (timingSafeEqual(e.digest, digest) && !found) found = e;
    return found;
  }
}
