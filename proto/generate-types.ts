/**
 * Generates TypeScript interfaces for the Envoy messages we build (`proto/gen/`, not committed)
 * with `proto-loader-gen-types`, using the same include paths and files the runtime loads.
 * Run by `npm install` (postinstall) and before every typecheck. Also writes the JSON descriptor
 * of the same root (proto/descriptor.ts) that processes load instead of parsing the `.proto` text.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { DESCRIPTOR_FILE, toDescriptor } from './descriptor.ts';
import { ENVOY_INCLUDE_DIRS, ENVOY_PROTO_FILES } from './envoy-protos.ts';
import { parseProtos } from './root.ts';

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
fs.writeFileSync(
  path.join(out, DESCRIPTOR_FILE),
  JSON.stringify(toDescriptor(parseProtos(), ENVOY_PROTO_FILES)),
);
