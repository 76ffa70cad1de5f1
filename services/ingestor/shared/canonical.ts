/**
 * The content version of a source object: sha256 of its canonical JSON (keys sorted, `undefined`
 * dropped; shared/snapshot/manifest.ts), so the same content hashes the same whatever order its
 * keys were written in and ingestors publish only real changes.
 */
import { canonicalJson } from '../../../shared/snapshot/manifest.ts';
import { sha256Hex } from '../../../shared/xds/encoding.ts';

/** Hex SHA-256 of the canonical JSON of `value`. */
export function contentHash(value: unknown): string {
  return sha256Hex(canonicalJson(value));
}
