/**
 * SDS resources (Envoy `Secret`s: certificates and private keys) are stored sealed: the compiler
 * seals each SDS blob before committing it, the fan-out cache opens it before serving. A blob's
 * hash stays the hash of the plaintext resource, so manifests, versions and replays do not depend
 * on encryption, and sealing is deterministic anyway (shared/runtime/secret-keys.ts). The hash is
 * the additional data, so a sealed blob cannot be passed off as another one.
 */
import type { KeyRing } from '../runtime/secret-keys.ts';
import { isSealed } from '../runtime/secret-keys.ts';
import { SECRET_TYPE } from '../xds/type-urls.ts';
import type { Manifest } from './manifest.ts';

const contextOf = (hash: string) => `sds:${hash}`;

/**
 * `blobs` with every SDS resource of `manifest` sealed; the others are the same bytes. A snapshot
 * with nothing to seal gets `blobs` itself back (not a copy of its thousands of entries).
 */
export function sealSecretBlobs(
  manifest: Manifest,
  blobs: ReadonlyMap<string, Uint8Array>,
  keys: KeyRing,
): ReadonlyMap<string, Uint8Array> {
  let out: Map<string, Uint8Array> | undefined;
  for (const e of manifest.types[SECRET_TYPE]?.resources ?? []) {
    const bytes = blobs.get(e.hash);
    if (!bytes || isSealed(bytes)) continue;
    out ??= new Map(blobs);
    out.set(e.hash, keys.seal(bytes, contextOf(e.hash)));
  }
  return out ?? blobs;
}

/**
 * The plaintext of an SDS blob: opened when sealed (throws SealError when it cannot be), as is
 * otherwise (written by `attache dev` without keys; its hash is still checked by the caller).
 */
export function openSecretBlob(hash: string, bytes: Uint8Array, keys: KeyRing | undefined): Uint8Array {
  if (!isSealed(bytes)) return bytes;
  if (!keys) {
    throw new Error(
      'SDS secret is sealed and this fan-out has no secret keys (--secret-keys-file / ATTACHE_SECRET_KEYS)',
    );
  }
  return keys.open(bytes, contextOf(hash));
}
