/**
 * `npm run bench:store-memory -- --mappings N [--versions V] [--groups G]`: what snapshots cost
 * in Redis, for the scale-out arithmetic in the README. Generates bench:compile's input (N
 * Mappings over N/5 Services, 5 endpoints each), compiles it, and commits it to a fresh
 * `redis-server` as G groups (the same configuration under G ambassador_ids: blobs are shared by
 * content, so this is the cheapest case; a second figure gives each group its own Mappings), then
 * V more versions of the first group each changing one Mapping. Reports the keys' memory (sum
 * of MEMORY USAGE) after each step, the encoded snapshot size, and per-version growth. Prints JSON.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { compile } from '../../services/compiler/compile.ts';
import type { SourceRecord } from '../../services/compiler/contracts.ts';
import { buildSnapshot } from '../../services/compiler/runner-snapshot.ts';
import { loadDirectory } from '../../services/ingestor/fs/load-directory.ts';
import { silentLogger } from '../../shared/runtime/logger.ts';
import { RedisSnapshotStore } from '../../shared/snapshot/redis-snapshot-store.ts';
import { startRedis } from '../../test/harness/servers.ts';
import { mappingYaml, writeInput } from '../compile/generate.ts';

const { values } = parseArgs({
  options: {
    mappings: { type: 'string', default: '1000' },
    versions: { type: 'string', default: '10' },
    groups: { type: 'string', default: '5' },
  },
});
const mappings = Number(values.mappings);
const versions = Number(values.versions);
const groups = Number(values.groups);
const shape = { mappings, services: Math.max(1, Math.floor(mappings / 5)), endpoints: mappings, hosts: 4 };

async function records(dir: string, cluster: string, mutate?: number): Promise<SourceRecord[]> {
  const { documents } = await loadDirectory(dir);
  const out = documents.map((d) => ({
    cluster,
    object: d.object,
    origin: { file: d.file, document: d.document },
  }));
  if (mutate !== undefined) {
    // Version v changes Mapping v's timeout: one route differs from the previous version.
    const i = mutate % mappings;
    const changed = documents.find((d) => d.object.kind === 'Mapping' && d.object.metadata.name === `m-${i}`);
    const yaml = await import('yaml');
    if (changed) changed.object.spec = yaml.parse(mappingYaml(i, shape, mutate + 1)).spec;
  }
  return out;
}

const redis = await startRedis();
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-store-memory-'));
try {
  writeInput(dir, shape);
  const raw = new Redis(redis.url);
  const store = await RedisSnapshotStore.connect({ url: redis.url, log: silentLogger() });
  // The sum of MEMORY USAGE over every key: the data's own footprint (used_memory also moves
  // with client buffers and allocator state, too noisy for per-version figures).
  const used = async () => {
    let total = 0;
    let cursor = '0';
    do {
      const [next, keys] = await raw.scan(cursor, 'COUNT', 1000);
      cursor = next;
      for (const k of keys) total += Number(await raw.memory('USAGE', k, 'SAMPLES', '0')) || 0;
    } while (cursor !== '0');
    return total;
  };
  const empty = await used();
  const base = await records(dir, 'bench');
  let seq = 1;
  const commit = async (group: string, recs: SourceRecord[]) => {
    // Every group's Mappings carry no ambassador_id, so each is compiled as `default` and stored
    // under its own group name.
    const snap = buildSnapshot(group, seq, compile(recs, { group: 'default' }));
    const epoch = await store.acquireEpoch(group);
    const r = await store.commit({ epoch, manifest: snap.manifest, blobs: snap.blobs });
    if (!r.committed) throw new Error(`commit ${group}@${seq} refused: ${r.reason}`);
    seq++;
    return [...snap.blobs.values()].reduce((a, b) => a + b.length, 0);
  };
  const snapshotBytes = await commit('default', base);
  const oneGroup = await used();
  // Same configuration in more groups (shared blobs), then the same count of distinct ones.
  for (let g = 1; g < groups; g++) await commit(`shared-${g}`, base);
  const sharedGroups = await used();
  for (let g = 1; g < groups; g++) {
    const own = (await records(dir, `c${g}`)).map((r) => {
      if (r.object.kind !== 'Mapping') return r;
      const spec = r.object.spec as Record<string, unknown>;
      return { ...r, object: { ...r.object, spec: { ...spec, prefix: `/g${g}${String(spec.prefix)}` } } };
    });
    await commit(`own-${g}`, own);
  }
  const distinctGroups = await used();
  for (let v = 0; v < versions; v++) await commit('default', await records(dir, 'bench', v));
  const withVersions = await used();
  const result = {
    mappings,
    groups,
    versions,
    snapshotBytes,
    redisUsedBytes: {
      empty,
      oneGroup: oneGroup - empty,
      perSharedGroup: Math.round((sharedGroups - oneGroup) / Math.max(1, groups - 1)),
      perDistinctGroup: Math.round((distinctGroups - sharedGroups) / Math.max(1, groups - 1)),
      perOneMappingVersion: Math.round((withVersions - distinctGroups) / Math.max(1, versions)),
    },
  };
  console.log(JSON.stringify(result, null, 2));
  raw.disconnect();
  await store.close();
} finally {
  await redis.dispose();
  fs.rmSync(dir, { recursive: true, force: true });
}
