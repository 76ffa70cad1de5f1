/**
 * Encryption at rest for Secret material (AES-256-GCM, node:crypto), with key ids so keys rotate:
 * new data is sealed with the primary key (the first configured), and data sealed with any
 * configured key opens. Keys come from `--secret-keys-file` (one `KEY_ID:BASE64` per line) or
 * the environment (`ATTACHE_SECRET_KEYS=KEY_ID:BASE64,…`; never the command line); each key is
 * 32 random bytes, e.g. `echo "k1:$(openssl rand -base64 32)"`.
 *
 * Sealed bytes: `ATSB` · format 1 · key-id length · key id · 12-byte IV · 16-byte tag · ciphertext.
 * The caller's context (what the bytes are: a Secret's identity, an SDS blob's hash) is the GCM
 * additional data, so sealed bytes cannot be moved to another object.
 *
 * The IV is derived, not random: HMAC-SHA256 over (context, plaintext) under a key derived from
 * the encryption key (HKDF, so the GCM key is never used as an HMAC key), first 12 bytes. Sealing
 * the same content twice therefore gives the same bytes: an unchanged Secret republished, or an
 * SDS blob recomputed by a replay, is byte-identical, so stores and replays stay deterministic
 * (invariant 4). This is safe because GCM breaks only when one (key, IV) pair encrypts two
 * different messages; here an IV repeats only for the same (context, plaintext), which yields the
 * same ciphertext again. What it reveals — that two sealed values are equal — the content hashes
 * next to them already reveal.
 */
import { createCipheriv, createDecipheriv, createHmac, hkdfSync } from 'node:crypto';
import fs from 'node:fs';
import { type FlagSpecs, type FlagValue, flag } from './config.ts';
import { AttacheError, ConfigError, errorMessage } from './errors.ts';

export const SECRET_KEY_FLAGS = {
  'secret-keys-file': {
    type: 'string',
    description:
      'file of KEY_ID:BASE64 lines (32-byte AES-256 keys) sealing Secret material; the first seals',
  },
  'secret-keys': {
    type: 'string',
    secret: true,
    description: 'KEY_ID:BASE64[,…] like --secret-keys-file; environment only (ATTACHE_SECRET_KEYS)',
  },
} as const satisfies FlagSpecs;

/**
 * The escape hatch of the production commands (`ingest …`, `compile`, `fanout`), which otherwise
 * refuse to start without secret keys ({@link productionSecretKeys}).
 */
export const PLAINTEXT_SECRETS_FLAG = {
  'allow-plaintext-secrets': {
    type: 'boolean',
    default: false,
    description:
      'without secret keys, carry Secret material (TLS private keys) unencrypted through NATS and Redis (insecure; logged as a warning); without keys and without this flag the command does not start',
  },
} as const satisfies FlagSpecs;

/** Sealed bytes that cannot be opened: unknown key id, wrong context, or tampered. */
export class SealError extends AttacheError {}

const MAGIC = Buffer.from('ATSB');
const FORMAT = 1;
const IV_BYTES = 12;
const TAG_BYTES = 16;

interface Key {
  id: string;
  key: Buffer;
  ivKey: Buffer;
}

/** The configured keys. Immutable. */
export class KeyRing {
  private readonly byId: ReadonlyMap<string, Key>;
  private readonly primary: Key;

  /** `entries` in order; the first seals. Throws ConfigError on a malformed entry. */
  constructor(entries: readonly { id: string; key: Buffer }[]) {
    if (entries.length === 0) throw new ConfigError('a key ring needs at least one key');
    const byId = new Map<string, Key>();
    for (const e of entries) {
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(e.id)) {
        throw new ConfigError(`secret key id ${JSON.stringify(e.id)} must be 1–64 of [A-Za-z0-9._-]`);
      }
      if (e.key.length !== 32) {
        throw new ConfigError(
          `secret key ${e.id} must be 32 bytes (base64 of openssl rand 32), got ${e.key.length}`,
        );
      }
      if (byId.has(e.id)) throw new ConfigError(`secret key id ${e.id} is configured twice`);
      const ivKey = Buffer.from(hkdfSync('sha256', e.key, Buffer.alloc(0), 'attache secret iv', 32));
      byId.set(e.id, { id: e.id, key: e.key, ivKey });
    }
    this.byId = byId;
    this.primary = byId.get(entries[0]!.id)!;
  }

  /** Id of the key new data is sealed with. */
  get primaryId(): string {
    return this.primary.id;
  }

  seal(plaintext: Uint8Array, context: string): Uint8Array {
    const k = this.primary;
    const aad = Buffer.from(context, 'utf8');
    const iv = createHmac('sha256', k.ivKey)
      .update(aad)
      .update(Buffer.from([0]))
      .update(plaintext)
      .digest()
      .subarray(0, IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', k.key, iv);
    cipher.setAAD(aad);
    const ct = Buffer.concat([cipher.update(plaintext), cipher.final()]);
    const id = Buffer.from(k.id, 'utf8');
    return Buffer.concat([MAGIC, Buffer.from([FORMAT, id.length]), id, iv, cipher.getAuthTag(), ct]);
  }

  /** Opens bytes from {@link seal} with the same context; throws {@link SealError} otherwise. */
  open(sealed: Uint8Array, context: string): Uint8Array {
    const b = Buffer.from(sealed.buffer, sealed.byteOffset, sealed.byteLength);
    if (!isSealed(b) || b[4] !== FORMAT) throw new SealError('not sealed by this version of Attaché');
    const idLen = b[5] ?? 0;
    const id = b.subarray(6, 6 + idLen).toString('utf8');
    const k = this.byId.get(id);
    if (!k) throw new SealError(`sealed with key id ${id}, which is not configured (--secret-keys-file)`);
    const at = 6 + idLen;
    const iv = b.subarray(at, at + IV_BYTES);
    const tag = b.subarray(at + IV_BYTES, at + IV_BYTES + TAG_BYTES);
    const decipher = createDecipheriv('aes-256-gcm', k.key, iv);
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(tag);
    try {
      return Buffer.concat([decipher.update(b.subarray(at + IV_BYTES + TAG_BYTES)), decipher.final()]);
    } catch (err) {
      throw new SealError(
        `sealed data for ${context} does not authenticate with key ${id}: ${errorMessage(err)}`,
      );
    }
  }
}

/** True when `bytes` start like sealed bytes (so they are not, e.g., a protobuf Secret). */
export function isSealed(bytes: Uint8Array): boolean {
  return bytes.length > MAGIC.length + 2 && Buffer.from(bytes.subarray(0, 4)).equals(MAGIC);
}

/** `KEY_ID:BASE64` entries separated by newlines or commas; blank lines and `#` comments skipped. */
export function parseKeyList(text: string, where: string): { id: string; key: Buffer }[] {
  const out: { id: string; key: Buffer }[] = [];
  for (const raw of text.split(/[\n,]/)) {
    const entry = raw.trim();
    if (entry === '' || entry.startsWith('#')) continue;
    const colon = entry.indexOf(':');
    if (colon <= 0) throw new ConfigError(`${where}: expected KEY_ID:BASE64, got an entry without ':'`);
    out.push({ id: entry.slice(0, colon), key: Buffer.from(entry.slice(colon + 1).trim(), 'base64') });
  }
  return out;
}

/** The key ring from `--secret-keys-file` or ATTACHE_SECRET_KEYS, or undefined when neither is set. */
export function keyRingFromFlags(flags: Record<string, FlagValue>): KeyRing | undefined {
  const file = flag.str(flags, 'secret-keys-file');
  const inline = flag.str(flags, 'secret-keys');
  if (file && inline) throw new ConfigError('give --secret-keys-file or ATTACHE_SECRET_KEYS, not both');
  if (inline) return new KeyRing(parseKeyList(inline, 'ATTACHE_SECRET_KEYS'));
  if (!file) return undefined;
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(`--secret-keys-file: cannot read ${file}: ${errorMessage(err)}`);
  }
  return new KeyRing(parseKeyList(text, file));
}

/** How a production command handles Secret material: sealed with `keys`, or `allow`ed in plaintext. */
export interface SecretHandling {
  keys?: KeyRing;
  /** What the event log does with Secret material it cannot seal or open (sealed-secrets.ts). */
  plaintext: 'refuse' | 'allow';
}

/**
 * Secret handling of a production command, decided at start: the key ring when one is configured;
 * else plaintext only with `--allow-plaintext-secrets`; else a ConfigError naming what to give, so
 * the command exits before it connects anywhere. `role` says what this command does with Secrets.
 */
export function productionSecretKeys(flags: Record<string, FlagValue>, role: string): SecretHandling {
  const keys = keyRingFromFlags(flags);
  if (keys) return { keys, plaintext: 'refuse' };
  if (flag.bool(flags, 'allow-plaintext-secrets')) return { plaintext: 'allow' };
  throw new ConfigError(
    `no secret keys: this command ${role}, and refuses to do so unencrypted. Give --secret-keys-file FILE ` +
      '(lines KEY_ID:BASE64) or ATTACHE_SECRET_KEYS=KEY_ID:BASE64 with a 32-byte key, e.g. ' +
      '`echo "k1:$(openssl rand -base64 32)"`, the same keys to every ingest, compile and fanout; ' +
      'or start with --allow-plaintext-secrets to carry Secret material unencrypted (insecure)',
  );
}

/** The start-up warning of a command running with `--allow-plaintext-secrets`. */
export const PLAINTEXT_SECRETS_WARNING =
  '--allow-plaintext-secrets: Secret material (TLS private keys) travels and rests unencrypted in NATS and Redis; give --secret-keys-file or ATTACHE_SECRET_KEYS to seal it';
