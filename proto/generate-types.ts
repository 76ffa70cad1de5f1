/**
 * Generates TypeScript interfaces for the Envoy messages we build (`proto/gen/`, not committed)
 * with `proto-loader-gen-types`, using the same include paths and files the runtime loads.
 * Run by `npm install` (postinstall) and before every typecheck.
 */
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ENVOY_INCLUDE_DIRS, ENVOY_PROTO_FILES } from './envoy-protos.ts';

const require = createRequire(import.meta.url);
const here = path.dirname(fileURLToPath(import.meta.url));
const bin = path.join(
  path.dirname(require.resolve('@grpc/proto-loader/package.json')),
  'build/bin/proto-loader-gen-types.js',
);
const out = path.join(here, 'gen');
execFileSync(
  process.execPath,
  [
    bin,
    '--keepCase',
    '--longs=String',
    '--enums=String',
    '--defaults',
    '--oneofs',
    '--grpcLib=@grpc/grpc-js',
    ...ENVOY_INCLUDE_DIRS.flatMap((d) => ['-I', d]),
    '-O',
    out,
    ...ENVOY_PROTO_FILES,
  ],
  { stdio: 'inherit' },
);
