/**
 * A real Kubernetes API server for tests: `../shared/envtest` (kube-apiserver 1.20.2 + Debian's
 * etcd, see its README) started on free loopback ports with its own data directory, one per test
 * file (start-up takes 5–20 s here, so suites share it across cases).
 *
 * Tests that need it call {@link kubeApiServerMissing} first and skip with that message when it
 * says why it cannot run: the envtest assets exist only on this workplace's machines (or wherever
 * `ATTACHE_KUBE_APISERVER` points at a kube-apiserver binary with envtest's start.sh beside its
 * `bin/`), and etcd must be installed (`npm run test:deps`).
 *
 * Objects are written whole, like `kubectl replace` ({@link RealKube.apply});
 * {@link RealKube.kubectl} runs the real kubectl when installed.
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { KubeConfig, type KubernetesObject, KubernetesObjectApi } from '@kubernetes/client-node';
import { freePort } from './ports.ts';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

/** Where envtest's start.sh lives: beside the binary's `bin/` directory. */
function envtestDir(): string | undefined {
  const bin = process.env.ATTACHE_KUBE_APISERVER;
  const candidates = bin
    ? [path.dirname(path.dirname(path.resolve(bin)))]
    : [path.resolve(REPO, '../shared/envtest'), path.resolve(REPO, '../../shared/envtest')];
  return candidates.find(
    (d) => fs.existsSync(path.join(d, 'bin/kube-apiserver')) && fs.existsSync(path.join(d, 'start.sh')),
  );
}

/** One request as the API server's audit log records it. */
export interface AuditEvent {
  /** Kubernetes verb: list, watch, get, create, update, patch, delete. */
  verb: string;
  /** Who: e.g. `system:serviceaccount:attache:attache-ingestor`, `system:apiserver`, `admin`. */
  user: string;
  resource: string;
  uri: string;
  code: number;
  /** Epoch ms of the stage. */
  at: number;
}

/**
 * envtest's scripts beside a `bin/kube-apiserver` that runs the real one with an audit log in
 * `dir` (start.sh runs the binary next to it; this adds flags without touching ../shared).
 */
function auditingEnvtest(envtest: string, dir: string): string {
  const wrapper = path.join(dir, 'envtest-audit');
  fs.mkdirSync(path.join(wrapper, 'bin'), { recursive: true });
  for (const f of ['start.sh', 'stop.sh']) fs.copyFileSync(path.join(envtest, f), path.join(wrapper, f));
  const policy = path.join(dir, 'audit-policy.yaml');
  fs.writeFileSync(
    policy,
    'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n- level: Metadata\n',
  );
  fs.writeFileSync(
    path.join(wrapper, 'bin/kube-apiserver'),
    `#!/bin/sh\nexec ${JSON.stringify(path.join(envtest, 'bin/kube-apiserver'))} --audit-log-path=${JSON.stringify(path.join(dir, 'audit.log'))} --audit-policy-file=${JSON.stringify(policy)} --audit-log-maxsize=0 "$@"\n`,
    { mode: 0o755 },
  );
  return wrapper;
}

const onPath = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;

/** Why the real API server cannot run here (a skip message), or undefined when it can. */
export function kubeApiServerMissing(): string | undefined {
  const bin = process.env.ATTACHE_KUBE_APISERVER;
  if (!envtestDir())
    return bin
      ? `no real kube-apiserver: ATTACHE_KUBE_APISERVER=${bin} is not a kube-apiserver with envtest's start.sh beside its bin/`
      : 'no real kube-apiserver: ../shared/envtest/bin/kube-apiserver is absent and ATTACHE_KUBE_APISERVER ' +
          'is not set (envtest assets exist only on the workplace machines)';
  if (!onPath('etcd')) return 'etcd is not installed: run `npm run test:deps` (Debian package etcd-server)';
  return undefined;
}

/** Whether `kubectl` is installed (otherwise tests apply through the API and say so). */
export const hasKubectl = (): boolean => onPath('kubectl');

export interface KubeRef {
  apiVersion: string;
  kind: string;
  metadata: { name: string; namespace?: string; [k: string]: unknown };
  [k: string]: unknown;
}

const run = (cmd: string, args: string[], env: NodeJS.ProcessEnv = {}) =>
  new Promise<string>((resolve, reject) =>
    execFile(
      cmd,
      args,
      { env: { ...process.env, ...env }, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) =>
        err ? reject(new Error(`${cmd} ${args.join(' ')}: ${err.message}\n${stderr}`)) : resolve(stdout),
    ),
  );

export class RealKube {
  private api: KubernetesObjectApi;
  private kc: KubeConfig;

  private constructor(
    readonly dir: string,
    private readonly script: string,
    private readonly ports: { etcd: number; peer: number; api: number },
  ) {
    this.kc = this.loadAdmin();
    this.api = KubernetesObjectApi.makeApiClient(this.kc);
  }

  /**
   * Starts etcd + kube-apiserver in a fresh directory; resolves once /readyz answers 200. With
   * `audit`, the API server also writes an audit log (every request at level Metadata: who, verb,
   * resource) that {@link auditEvents} reads, so a test can say which client made a request — the
   * request metrics cannot, and the API server's own loopback clients also list and watch.
   */
  static async start(opts: { audit?: boolean } = {}): Promise<RealKube> {
    const envtest = envtestDir();
    if (!envtest) throw new Error(kubeApiServerMissing());
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-envtest-'));
    const script = opts.audit ? auditingEnvtest(envtest, dir) : envtest;
    const ports = { etcd: await freePort(), peer: await freePort(), api: await freePort() };
    await RealKube.launch(script, dir, ports);
    return new RealKube(dir, script, ports);
  }

  /**
   * The audit log's events so far (start with `audit: true`), one per request: the
   * ResponseComplete stage, or ResponseStarted for a watch (which completes only when it ends).
   */
  auditEvents(): AuditEvent[] {
    const file = path.join(this.dir, 'audit.log');
    if (!fs.existsSync(file)) throw new Error('no audit log: start the API server with { audit: true }');
    const out: AuditEvent[] = [];
    for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as {
        stage: string;
        verb: string;
        user?: { username?: string };
        objectRef?: { resource?: string; namespace?: string; name?: string };
        requestURI: string;
        responseStatus?: { code?: number };
        stageTimestamp: string;
      };
      if (e.stage !== (e.verb === 'watch' ? 'ResponseStarted' : 'ResponseComplete')) continue;
      out.push({
        verb: e.verb,
        user: e.user?.username ?? '',
        resource: e.objectRef?.resource ?? '',
        uri: e.requestURI,
        code: e.responseStatus?.code ?? 0,
        at: Date.parse(e.stageTimestamp),
      });
    }
    return out;
  }

  private static async launch(script: string, dir: string, p: RealKube['ports']): Promise<void> {
    await run('bash', [path.join(script, 'start.sh'), dir], {
      ETCD_PORT: String(p.etcd),
      ETCD_PEER_PORT: String(p.peer),
      APISERVER_PORT: String(p.api),
    });
  }

  private loadAdmin(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigFile);
    return kc;
  }

  get kubeconfigFile(): string {
    return path.join(this.dir, 'kubeconfig');
  }

  get server(): string {
    return `https://127.0.0.1:${this.ports.api}`;
  }

  get etcdUrl(): string {
    return `http://127.0.0.1:${this.ports.etcd}`;
  }

  /** The admin (system:masters) KubeConfig. */
  kubeconfig(): KubeConfig {
    return this.loadAdmin();
  }

  /** Runs kubectl against this server with the admin kubeconfig. */
  kubectl(...args: string[]): Promise<string> {
    return run('kubectl', ['--kubeconfig', this.kubeconfigFile, ...args]);
  }

  /**
   * Creates the object, or replaces it whole (PUT with the stored resourceVersion), like
   * `kubectl replace`: fields left out are removed. (Server-side apply would keep fields of a
   * schemaless CRD spec that an earlier apply set.) A Service keeps its allocated cluster IPs,
   * which are immutable. Returns the stored object with its new resourceVersion. A 409 Conflict
   * (someone wrote the object between the read and the replace — the ingestor writing its status
   * subresource does) reads again and retries, as `kubectl apply` does.
   */
  async apply<T extends KubeRef>(
    o: T,
  ): Promise<KubernetesObject & { metadata: { resourceVersion: string } }> {
    type Stored = KubernetesObject & { metadata: { resourceVersion: string } };
    for (let attempt = 1; ; attempt++) {
      const current = (await this.read(o)) as (Stored & { spec?: Record<string, unknown> }) | undefined;
      if (!current) return (await this.api.create(o as KubernetesObject)) as Stored;
      const body = structuredClone(o) as T & { spec?: Record<string, unknown> };
      body.metadata.resourceVersion = current.metadata.resourceVersion;
      if (o.kind === 'Service' && o.apiVersion === 'v1' && current.spec) {
        body.spec = { ...body.spec, clusterIP: current.spec.clusterIP, clusterIPs: current.spec.clusterIPs };
      }
      try {
        return (await this.api.replace(body as KubernetesObject)) as Stored;
      } catch (err) {
        if ((err as { code?: number }).code !== 409 || attempt >= 5) throw err;
      }
    }
  }

  /** Deletes an object; false when it did not exist. */
  async delete(o: KubeRef): Promise<boolean> {
    try {
      await this.api.delete(o as KubernetesObject);
      return true;
    } catch (err) {
      if ((err as { code?: number }).code === 404) return false;
      throw err;
    }
  }

  async read(o: KubeRef): Promise<KubernetesObject | undefined> {
    try {
      return await this.api.read(o as KubernetesObject & { metadata: { name: string } });
    } catch (err) {
      if ((err as { code?: number }).code === 404) return undefined;
      throw err;
    }
  }

  async list(apiVersion: string, kind: string, namespace?: string): Promise<KubernetesObject[]> {
    return (await this.api.list(apiVersion, kind, namespace)).items;
  }

  /** Raw GET with the admin credentials (e.g. `/metrics`). */
  async get(pathAndQuery: string): Promise<string> {
    return run('curl', [
      '-fsS',
      '--cacert',
      path.join(this.dir, 'pki/apiserver.crt'),
      '-H',
      `Authorization: Bearer ${this.kc.getCurrentUser()?.token ?? ''}`,
      `${this.server}${pathAndQuery}`,
    ]);
  }

  /**
   * Sum of `apiserver_request_total` samples whose labels include all of `labels` (e.g.
   * `{verb: 'LIST', resource: 'ingresses'}` or `{code: '403'}`).
   */
  async requestCount(labels: Record<string, string>): Promise<number> {
    const text = await this.get('/metrics');
    let total = 0;
    for (const line of text.split('\n')) {
      if (!line.startsWith('apiserver_request_total{')) continue;
      const close = line.lastIndexOf('}');
      const sample = Object.fromEntries(
        [...line.slice(line.indexOf('{') + 1, close).matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]]),
      );
      if (Object.entries(labels).every(([k, v]) => sample[k] === v)) total += Number(line.slice(close + 1));
    }
    return total;
  }

  /**
   * A kubeconfig file for a ServiceAccount, with a token from the TokenRequest API (what
   * `kubectl create token` does); the account must exist.
   */
  async serviceAccountKubeconfig(namespace: string, name: string): Promise<string> {
    const res = await fetchJson(this, `/api/v1/namespaces/${namespace}/serviceaccounts/${name}/token`, {
      apiVersion: 'authentication.k8s.io/v1',
      kind: 'TokenRequest',
      spec: { expirationSeconds: 3600 },
    });
    const token = (res as { status?: { token?: string } }).status?.token;
    if (!token) throw new Error(`TokenRequest for ${namespace}/${name} returned no token`);
    const file = path.join(this.dir, `kubeconfig-${namespace}-${name}`);
    const ca = fs.readFileSync(path.join(this.dir, 'pki/apiserver.crt')).toString('base64');
    fs.writeFileSync(
      file,
      [
        'apiVersion: v1',
        'kind: Config',
        'clusters:',
        `- name: envtest\n  cluster: {server: "${this.server}", certificate-authority-data: ${ca}}`,
        'users:',
        `- name: ${name}\n  user: {token: ${token}}`,
        'contexts:',
        `- name: sa\n  context: {cluster: envtest, user: ${name}, namespace: ${namespace}}`,
        'current-context: sa',
        '',
      ].join('\n'),
      { mode: 0o600 },
    );
    return file;
  }

  /** etcd's current revision. */
  async etcdRevision(): Promise<number> {
    const res = await fetch(`${this.etcdUrl}/v3/kv/range`, {
      method: 'POST',
      body: JSON.stringify({ key: Buffer.from('/').toString('base64') }),
    });
    const body = (await res.json()) as { header?: { revision?: string } };
    return Number(body.header?.revision);
  }

  /** Compacts etcd's history up to its current revision (watches from older versions get 410). */
  async compact(): Promise<number> {
    const revision = await this.etcdRevision();
    const res = await fetch(`${this.etcdUrl}/v3/kv/compaction`, {
      method: 'POST',
      body: JSON.stringify({ revision: String(revision), physical: true }),
    });
    if (!res.ok) throw new Error(`etcd compaction at ${revision}: ${res.status} ${await res.text()}`);
    return revision;
  }

  /** Stops etcd and the API server, keeping the data directory (objects survive a restart). */
  async stopServers(): Promise<void> {
    await run('bash', [path.join(this.script, 'stop.sh'), this.dir]);
  }

  /** Starts them again on the same ports and data. */
  async startServers(): Promise<void> {
    await RealKube.launch(this.script, this.dir, this.ports);
  }

  /** Stops both processes and removes the data directory. */
  async close(): Promise<void> {
    await this.stopServers();
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

async function fetchJson(kube: RealKube, urlPath: string, body: unknown): Promise<unknown> {
  const out = await run('curl', [
    '-fsS',
    '-X',
    'POST',
    '--cacert',
    path.join(kube.dir, 'pki/apiserver.crt'),
    '-H',
    `Authorization: Bearer ${kube.kubeconfig().getCurrentUser()?.token ?? ''}`,
    '-H',
    'Content-Type: application/json',
    '-d',
    JSON.stringify(body),
    `${kube.server}${urlPath}`,
  ]);
  return JSON.parse(out);
}
