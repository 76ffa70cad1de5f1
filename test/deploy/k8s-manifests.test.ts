/**
 * k8s/ cannot be applied here (no cluster, no kubectl), so this is the equivalent of
 * `kubectl apply --dry-run=client` plus the consistency checks a reviewer would make: every
 * document is a known kind with a name, CRDs are well-formed, every Attaché container runs a real
 * `attache` subcommand whose flags parse strictly, probes hit the admin port that command uses,
 * URLs point at Services that exist, bindings reference existing objects, and RBAC grants exactly
 * what the ingestor watches and writes.
 */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments } from 'yaml';
import { findCommand } from '../../services/cli/commands.ts';
import { DEPENDENT_KINDS, kindId, PRIMARY_KINDS } from '../../services/ingestor/kubernetes/kinds.ts';
import { STATUS_KINDS } from '../../services/ingestor/kubernetes/status-shape.ts';
import { flag, parseFlags } from '../../shared/runtime/config.ts';
import { DEFAULT_RESOURCE_TYPES } from '../fake-kube/resource-types.ts';
import { natsUsers, redisUsers, roleOf } from './shipped-users.ts';

const K8S = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../k8s');

interface Doc {
  file: string;
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; labels?: Record<string, string> };
  [k: string]: unknown;
}

/** apiVersion/kind pairs kubectl would know on a cluster with our CRDs; namespaced or not. */
const KNOWN: Record<string, boolean> = {
  'v1/Namespace': false,
  'v1/Service': true,
  'v1/ServiceAccount': true,
  'apps/v1/Deployment': true,
  'apps/v1/StatefulSet': true,
  'rbac.authorization.k8s.io/v1/ClusterRole': false,
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': false,
  'rbac.authorization.k8s.io/v1/Role': true,
  'rbac.authorization.k8s.io/v1/RoleBinding': true,
  'apiextensions.k8s.io/v1/CustomResourceDefinition': false,
  'getambassador.io/v3alpha1/Mapping': true,
};

const files = fs.readdirSync(K8S).filter((f) => /\.ya?ml$/.test(f) && f !== 'kustomization.yaml');
const docs: Doc[] = files.flatMap((file) =>
  parseAllDocuments(fs.readFileSync(path.join(K8S, file), 'utf8')).flatMap((d) => {
    if (d.errors.length > 0) throw new Error(`${file}: ${d.errors[0]!.message}`);
    const v = d.toJS() as Doc | null;
    return v ? [{ ...v, file }] : [];
  }),
);
const ofKind = (kind: string) => docs.filter((d) => d.kind === kind);
const find = (kind: string, name: string, namespace?: string) =>
  docs.find((d) => d.kind === kind && d.metadata.name === name && d.metadata.namespace === namespace);

interface Container {
  name: string;
  image: string;
  args?: string[];
  command?: string[];
  env?: { name: string; value?: string; valueFrom?: { secretKeyRef?: { name: string; key: string } } }[];
  envFrom?: { secretRef?: { name: string } }[];
  livenessProbe?: { httpGet?: { path: string; port: number | string } };
  readinessProbe?: { httpGet?: { path: string; port: number | string } };
}
interface PodSpec {
  serviceAccountName?: string;
  containers: Container[];
}
const podSpec = (d: Doc) => (d.spec as { template: { spec: PodSpec } }).template.spec;
const workloads = docs.filter((d) => d.kind === 'Deployment' || d.kind === 'StatefulSet');
const attacheContainers = workloads.flatMap((w) =>
  podSpec(w)
    .containers.filter((c) => c.image.startsWith('attache'))
    .map((c) => ({ w, c })),
);

interface Rule {
  apiGroups: string[];
  resources: string[];
  verbs: string[];
}
/** `<resource>.<group>` (core: `<resource>`) for every (group, resource) the rules grant `verb` on. */
function granted(rules: Rule[], verb: string): Set<string> {
  return new Set(
    rules
      .filter((r) => r.verbs.includes(verb))
      .flatMap((r) => r.apiGroups.flatMap((g) => r.resources.map((res) => (g === '' ? res : `${res}.${g}`)))),
  );
}

describe('k8s manifests', () => {
  test('k8s manifests — every document is a known kind with a name, namespaced where it must be', () => {
    assert.ok(docs.length >= 20, `only ${docs.length} documents`);
    for (const d of docs) {
      const key = `${d.apiVersion}/${d.kind}`;
      assert.ok(key in KNOWN, `${d.file}: unknown ${key}`);
      assert.ok(d.metadata?.name, `${d.file}: ${key} without metadata.name`);
      assert.equal(
        Boolean(d.metadata.namespace),
        KNOWN[key],
        `${d.file}: ${key} ${d.metadata.name} namespace`,
      );
    }
    const names = docs.map((d) => `${d.kind}/${d.metadata.namespace ?? ''}/${d.metadata.name}`);
    assert.deepEqual(
      names.filter((n, i) => names.indexOf(n) !== i),
      [],
      'no object is defined twice',
    );
    for (const d of docs) {
      const ns = d.metadata.namespace;
      if (ns && ns !== 'default')
        assert.ok(find('Namespace', ns), `${d.file}: namespace ${ns} is not created`);
    }
  });

  test('k8s manifests — kustomization lists every manifest except the example', () => {
    const k = parseAllDocuments(fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8'))[0]!.toJS() as {
      resources: string[];
    };
    assert.deepEqual([...k.resources].sort(), files.filter((f) => !f.startsWith('example')).sort());
  });

  test('k8s manifests — CRDs are well-formed, v3alpha1 is the one storage version, Mapping and Host have status', () => {
    const crds = ofKind('CustomResourceDefinition');
    const expected = new Map<string, Set<string>>();
    // Emissary's kinds under getambassador.io, plus x.getambassador.io's AmbassadorMapping.
    const CRD_GROUPS = new Set(['getambassador.io', 'x.getambassador.io']);
    for (const t of DEFAULT_RESOURCE_TYPES.filter((t) => CRD_GROUPS.has(t.group))) {
      expected.set(t.kind, (expected.get(t.kind) ?? new Set()).add(t.version));
    }
    const byKind = new Map<string, Doc>();
    for (const c of crds) {
      const spec = c.spec as {
        group: string;
        scope: string;
        names: { plural: string; singular: string; kind: string; listKind: string };
        versions: {
          name: string;
          served: boolean;
          storage: boolean;
          schema?: {
            openAPIV3Schema?: { type: string; properties?: Record<string, Record<string, unknown>> };
          };
          subresources?: { status?: object };
        }[];
      };
      const where = c.metadata.name;
      assert.ok(CRD_GROUPS.has(spec.group), `${where}: group ${spec.group}`);
      assert.equal(
        spec.group,
        DEFAULT_RESOURCE_TYPES.find((t) => t.kind === spec.names.kind)?.group,
        `${where}: the group the ingestor watches`,
      );
      assert.equal(
        c.metadata.name,
        `${spec.names.plural}.${spec.group}`,
        `${where}: name is <plural>.<group>`,
      );
      assert.equal(spec.scope, 'Namespaced', where);
      assert.equal(spec.names.singular, spec.names.kind.toLowerCase(), where);
      assert.equal(spec.names.listKind, `${spec.names.kind}List`, where);
      const storage = spec.versions.filter((v) => v.storage);
      assert.deepEqual(
        storage.map((v) => v.name),
        ['v3alpha1'],
        `${where}: exactly one storage version, v3alpha1`,
      );
      for (const v of spec.versions) {
        assert.ok(v.served, `${where} ${v.name} served`);
        const schema = v.schema?.openAPIV3Schema;
        assert.equal(schema?.type, 'object', `${where} ${v.name} schema`);
        assert.equal(
          schema?.properties?.spec?.['x-kubernetes-preserve-unknown-fields'],
          true,
          `${where} ${v.name}`,
        );
        if (spec.names.kind in STATUS_KINDS) {
          assert.ok(v.subresources?.status, `${where} ${v.name}: status subresource`);
          assert.equal(schema?.properties?.status?.['x-kubernetes-preserve-unknown-fields'], true);
        }
      }
      byKind.set(spec.names.kind, c);
      assert.deepEqual(
        new Set(spec.versions.map((v) => v.name)),
        expected.get(spec.names.kind),
        `${where}: served versions are the ones Emissary serves`,
      );
    }
    assert.deepEqual(
      [...byKind.keys()].sort(),
      [...expected.keys()].sort(),
      'one CRD per getambassador.io / x.getambassador.io kind read',
    );
  });

  test('k8s manifests — every Attaché container runs a real subcommand with valid flags and probes its admin port', () => {
    const seen = new Set<string>();
    assert.ok(attacheContainers.length >= 3);
    for (const { w, c } of attacheContainers) {
      const where = `${w.metadata.name}/${c.name}`;
      assert.equal(c.image, 'attache:dev', `${where}: one image`);
      assert.equal(c.command, undefined, `${where}: the image entrypoint is the CLI; use args`);
      const argv = c.args ?? [];
      const found = findCommand(argv);
      assert.ok(found, `${where}: '${argv.join(' ')}' is not an attache command`);
      seen.add(found.spec.path.join(' '));
      const flags = parseFlags(found.spec.flags, found.rest, {});
      const admin = flag.num(flags, 'admin-port');
      assert.deepEqual(c.livenessProbe?.httpGet, { path: '/healthz', port: admin }, `${where}: liveness`);
      assert.deepEqual(c.readinessProbe?.httpGet, { path: '/readyz', port: admin }, `${where}: readiness`);
      for (const urlFlag of ['nats', 'redis'] as const) {
        const url = flag.str(flags, urlFlag);
        if (!url) continue;
        const u = new URL(url);
        const [svcName, svcNs] = u.hostname.split('.');
        const svc = find('Service', svcName!, svcNs ?? w.metadata.namespace);
        assert.ok(svc, `${where}: --${urlFlag} ${url} names no Service`);
        const ports = (svc.spec as { ports: { port: number }[] }).ports.map((p) => p.port);
        assert.ok(
          ports.includes(Number(u.port)),
          `${where}: --${urlFlag} port ${u.port} not served by ${svcName}`,
        );
      }
    }
    assert.deepEqual([...seen].sort(), ['compile', 'fanout', 'ingest kubernetes']);
  });

  test('k8s manifests — NATS runs JetStream on a persistent volume', () => {
    const nats = find('StatefulSet', 'nats', 'attache')!;
    const c = podSpec(nats).containers[0]!;
    assert.ok([...(c.args ?? []), ...(c.command ?? [])].includes('-js'));
    const claims = (nats.spec as { volumeClaimTemplates: { metadata: { name: string } }[] })
      .volumeClaimTemplates;
    assert.ok(claims.some((v) => v.metadata.name === 'data'));
  });

  test('k8s manifests — ServiceAccounts and role bindings reference objects that exist', () => {
    for (const w of workloads) {
      const sa = podSpec(w).serviceAccountName;
      if (sa)
        assert.ok(
          find('ServiceAccount', sa, w.metadata.namespace),
          `${w.metadata.name}: ServiceAccount ${sa}`,
        );
    }
    for (const b of [...ofKind('RoleBinding'), ...ofKind('ClusterRoleBinding')]) {
      const ref = b.roleRef as { kind: string; name: string };
      const role = find(ref.kind, ref.name, ref.kind === 'Role' ? b.metadata.namespace : undefined);
      assert.ok(role, `${b.metadata.name}: roleRef ${ref.kind} ${ref.name}`);
      for (const s of b.subjects as { kind: string; name: string; namespace: string }[]) {
        assert.ok(find(s.kind, s.name, s.namespace), `${b.metadata.name}: subject ${s.kind} ${s.name}`);
      }
    }
  });

  test('k8s manifests — RBAC grants exactly what the ingestor watches, and writes only status and its Lease', () => {
    const ingestor = attacheContainers.find(({ c }) => c.args?.[0] === 'ingest')!;
    const sa = podSpec(ingestor.w).serviceAccountName;
    const bound = [...ofKind('ClusterRoleBinding'), ...ofKind('RoleBinding')].filter((b) =>
      (b.subjects as { name: string }[]).some((s) => s.name === sa),
    );
    const roles = bound.map((b) => {
      const ref = b.roleRef as { kind: string; name: string };
      return find(ref.kind, ref.name, ref.kind === 'Role' ? b.metadata.namespace : undefined)!;
    });
    const cluster = roles.filter((r) => r.kind === 'ClusterRole').flatMap((r) => r.rules as Rule[]);
    // What the ingestor watches, as it exports it (services/ingestor/kubernetes/kinds.ts).
    const watched = new Set([...PRIMARY_KINDS, ...DEPENDENT_KINDS].map(kindId));
    for (const verb of ['get', 'list', 'watch']) {
      assert.deepEqual([...granted(cluster, verb)].sort(), [...watched].sort(), `cluster-wide ${verb}`);
    }
    const statusWrites = new Set([
      ...Object.values(STATUS_KINDS).map((k) => `${k.plural}/status.${k.group}`),
      'ingresses/status.networking.k8s.io',
    ]);
    for (const verb of ['update', 'patch']) {
      assert.deepEqual([...granted(cluster, verb)].sort(), [...statusWrites].sort(), `cluster-wide ${verb}`);
    }
    for (const verb of ['create', 'delete', 'deletecollection', '*']) {
      assert.equal(granted(cluster, verb).size, 0, `no cluster-wide ${verb}`);
    }
    const namespaced = roles.filter((r) => r.kind === 'Role');
    assert.deepEqual(
      namespaced.map((r) => [r.metadata.namespace, r.rules]),
      [
        [
          'attache',
          [{ apiGroups: ['coordination.k8s.io'], resources: ['leases'], verbs: ['get', 'create', 'update'] }],
        ],
      ],
    );
    for (const other of attacheContainers.filter(({ c }) => c.args?.[0] !== 'ingest')) {
      const spec = podSpec(other.w) as PodSpec & { automountServiceAccountToken?: boolean };
      assert.equal(spec.automountServiceAccountToken, false, `${other.w.metadata.name} needs no API token`);
    }
  });

  test('k8s manifests — NATS and Redis run the shipped configuration; every tier logs in as its own user from a Secret', () => {
    const kustomization = fs.readFileSync(path.join(K8S, 'kustomization.yaml'), 'utf8');
    assert.match(kustomization, /name: nats-config[\s\S]*files: \[nats\.conf\]/);
    assert.match(kustomization, /name: redis-acl[\s\S]*files: \[redis-acl\.sh\]/);
    const nats = podSpec(find('StatefulSet', 'nats', 'attache')!).containers[0]!;
    assert.deepEqual(nats.args?.slice(0, 2), ['-c', '/etc/nats/nats.conf']);
    assert.deepEqual(nats.envFrom, [{ secretRef: { name: 'attache-nats-users' } }]);
    const redis = podSpec(find('Deployment', 'redis', 'attache')!).containers[0]!;
    assert.deepEqual(redis.command, ['sh', '/etc/attache/redis-acl.sh']);
    assert.deepEqual(redis.envFrom, [{ secretRef: { name: 'attache-redis-users' } }]);
    for (const { w, c } of attacheContainers) {
      const found = findCommand(c.args ?? [])!;
      const flags = parseFlags(found.spec.flags, found.rest, {});
      const role = roleOf(found.spec.path.join(' '), flag.str(flags, 'cluster'));
      const env = new Map((c.env ?? []).map((e) => [e.name, e]));
      const where = w.metadata.name;
      if (flag.str(flags, 'nats')) {
        assert.equal(env.get('ATTACHE_NATS_USER')?.value, role, `${where}: NATS user`);
        assert.deepEqual(
          env.get('ATTACHE_NATS_PASSWORD')?.valueFrom?.secretKeyRef,
          { name: 'attache-nats-users', key: natsUsers().get(role) },
          `${where}: NATS password from the Secret the NATS server reads`,
        );
      }
      if (flag.str(flags, 'redis')) {
        assert.equal(env.get('ATTACHE_REDIS_USER')?.value, role, `${where}: Redis user`);
        assert.deepEqual(
          env.get('ATTACHE_REDIS_PASSWORD')?.valueFrom?.secretKeyRef,
          { name: 'attache-redis-users', key: redisUsers().get(role) },
          `${where}: Redis password`,
        );
      }
    }
  });
});
