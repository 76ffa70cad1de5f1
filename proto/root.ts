/**
 * The single protobufjs root holding every Envoy message Attaché encodes or decodes. One root is
 * essential: an `Any` can only be packed when its type lives in the same root as the message being
 * serialized. Field names keep their proto (snake_case) spelling, matching the generated types in
 * `proto/gen/`.
 */
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import protobuf from 'protobufjs';
import { DESCRIPTOR_FILE, type EnvoyDescriptor, fromDescriptor } from './descriptor.ts';
import { ENVOY_INCLUDE_DIRS, ENVOY_PROTO_FILES } from './envoy-protos.ts';

const require = createRequire(import.meta.url);
const PROTOBUFJS_DIR = path.dirname(require.resolve('protobufjs/package.json'));

let cached: protobuf.Root | undefined;

/**
 * The generated descriptor: `proto/gen/` beside this file when running from source, `dist/gen/`
 * beside the bundle (scripts/build.ts copies it there; bundle chunks sit at dist/'s top level).
 */
const DESCRIPTOR_URL = new URL(`./gen/${DESCRIPTOR_FILE}`, import.meta.url);

/**
 * Loads (once per process) and returns the Envoy proto root: from the install-time JSON
 * descriptor when it is present and current, else by parsing the `.proto` files.
 */
export function envoyRoot(): protobuf.Root {
  if (cached) return cached;
  cached = loadDescriptor() ?? parseProtos();
  return cached;
}

function loadDescriptor(): protobuf.Root | null {
  let text: string;
  try {
    text = fs.readFileSync(DESCRIPTOR_URL, 'utf8');
  } catch {
    return null;
  }
  return fromDescriptor(JSON.parse(text) as EnvoyDescriptor, ENVOY_PROTO_FILES);
}

/** Parses the Envoy `.proto` files from @grpc/grpc-js-xds (the descriptor's source of truth). */
export function parseProtos(): protobuf.Root {
  const root = new protobuf.Root();
  root.resolvePath = (_origin: string, target: string): string | null => {
    if (path.isAbsolute(target)) return target;
    for (const dir of ENVOY_INCLUDE_DIRS) {
      const candidate = path.join(dir, target);
      if (fs.existsSync(candidate)) return candidate;
    }
    // google/protobuf/*.proto: bundled with protobufjs (common types are built in; descriptor.proto
    // and friends ship as files in the package).
    const bundled = path.join(PROTOBUFJS_DIR, target);
    if (target.startsWith('google/protobuf/') && fs.existsSync(bundled)) return bundled;
    return target;
  };
  root.loadSync([...ENVOY_PROTO_FILES], { keepCase: true });
  root.resolveAll();
  return root;
}

/** Looks up a message type by its fully qualified name (without a leading dot); throws if absent. */
const types = new Map<string, protobuf.Type>();

export function messageType(fullName: string): protobuf.Type {
  // By name once: the namespace walk of lookupType, per encoded message, was 5 % of a compile.
  let t = types.get(fullName);
  if (t) return t;
  t = envoyRoot().lookupType(fullName);
  if (!t) throw new Error(`proto type ${fullName} is not loaded; add its file to ENVOY_PROTO_FILES`);
  types.set(fullName, t);
  return t;
}
