/**
 * The msgpack codec of event envelopes and sealed Secrets, loaded on first use: a process that
 * never packs or unpacks an event (`attache translate`, `attache --help`) does not load msgpackr
 * and its native extension, ~20 ms of start-up. The CommonJS build is the one `require` resolves;
 * it is the same library, and these options keep no state between calls.
 */
import { createRequire } from 'node:module';
import type { Packr } from 'msgpackr';

const require = createRequire(import.meta.url);
let codec: Packr | undefined;

export function packr(): Packr {
  if (!codec) {
    const lib = require('msgpackr') as typeof import('msgpackr');
    codec = new lib.Packr({ useRecords: false, moreTypes: false, structuredClone: false });
  }
  return codec;
}
