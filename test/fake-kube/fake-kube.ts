/**
 * A protocol-faithful fake Kubernetes API server for tests: the one stand-in the test suite
 * allows, for faults a real kube-apiserver cannot be made to show on demand (every watch dropped
 * at a chosen instant, history forgotten, per-resource 403s, stalls) and where starting one is
 * too slow; test/e2e/kubernetes-real.test.ts runs against the real one (../shared/envtest). Real clients
 * (`@kubernetes/client-node` informers, `Watch`, typed APIs) talk to it over HTTP on loopback.
 *
 * What it does:
 * - discovery: `/api`, `/api/v1`, `/apis`, `/apis/<group>`, `/apis/<group>/<version>`, `/version`;
 * - list (namespaced and all-namespace paths) with `resourceVersion`, `limit`/`continue` chunking
 *   (an expired continue token gets 410), equality label selectors and metadata.name/namespace
 *   field selectors;
 * - watch as chunked JSON lines: ADDED/MODIFIED/DELETED from a resourceVersion (one global
 *   revision counter, as etcd), synthetic ADDED for the current state when no resourceVersion is
 *   given, BOOKMARK events with `allowWatchBookmarks`, `timeoutSeconds`, an ERROR event with code
 *   410 (then end of stream) when the revision was compacted, DELETED/ADDED when an object leaves
 *   or enters a selector;
 * - get, create (POST), replace (PUT, with resourceVersion precondition → 409), JSON merge patch,
 *   strategic merge patch (as merge patch) and JSON patch, delete; no-op writes keep the revision;
 * - the `status` subresource: PUT/PATCH `.../status` change only `.status` and bump the revision,
 *   a stale resourceVersion gets 409; writes to the main resource keep the stored status;
 * - RBAC denial (403 Forbidden Status) per resource and verb, on demand.
 *
 * What it does NOT emulate: authentication and authorization beyond `setRbacDenied`, admission
 * (mutating/validating webhooks, defaulting, schema validation, pruning of unknown fields),
 * conversion between versions (only apiVersion is rewritten), server-side apply and field
 * managers (managedFields are dropped), finalizers, graceful deletion and ownerReference garbage
 * collection, namespace lifecycle (namespaces need not exist), set-based label selectors, other
 * field selectors, `resourceVersionMatch=Exact` reads of old revisions (lists always read the
 * current state; a continued list reads the current state too, not a snapshot at the first page's
 * revision), `sendInitialEvents`, protobuf and table output, dry-run, priority and fairness, and
 * HTTPS (the kubeconfig sets skipTLSVerify so client-node accepts `http://`).
 */
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { ObjectStore, type StoreEvent, type WatchEventType } from './object-store.ts';
import { jsonPatch, mergePatch, PatchError } from './patch.ts';
import { apiVersionOf, DEFAULT_RESOURCE_TYPES, type ResourceType, storageOf } from './resource-types.ts';
import {
  parseFieldSelector,
  parseLabelSelector,
  type Selector,
  SelectorError,
  type StoredObject,
} from './selectors.ts';

export type { ResourceType } from './resource-types.ts';
export { DEFAULT_RESOURCE_TYPES } from './resource-types.ts';
export type { StoredObject } from './selectors.ts';

export interface FakeKubeOptions {
  /** Types served at start; default {@link DEFAULT_RESOURCE_TYPES}. */
  resources?: readonly ResourceType[];
  /** Served types to leave out, as `<apiVersion>/<plural>` (e.g. `getambassador.io/v3alpha1/hosts`) or a whole `<apiVersion>`. */
  exclude?: readonly string[];
  /** Interval of BOOKMARK events on watches that allow them; default 1000 ms. */
  bookmarkIntervalMs?: number;
}

/** Identifies a type by apiVersion and kind; any object satisfies it. */
export interface TypeRef {
  apiVersion: string;
  kind: string;
}

export type Verb = 'get' | 'list' | 'watch' | 'create' | 'update' | 'patch' | 'delete';

export interface StatusWrite {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  method: 'PUT' | 'PATCH';
  /** HTTP status of the response. */
  code: number;
  /** True when the write changed the stored status (and so bumped the revision). */
  changed: boolean;
  /** resourceVersion after the write ('' when it failed). */
  resourceVersion: string;
}

export interface RequestRecord {
  verb: Verb;
  /** `<plural>.<group>` (core: `<plural>.`), with `/status` for the subresource. */
  resource: string;
  namespace: string;
  code: number;
}

export interface FakeKube {
  readonly url: string;
  readonly port: number;
  /** A KubeConfig whose current context (default name `fake`) points at this server. */
  kubeconfig(contextName?: string): KubeConfig;
  /** The same as a kubeconfig YAML file on disk (removed by `close()`). */
  kubeconfigFile(contextName?: string): string;
  /** Creates or replaces an object (its status included); returns the stored copy. */
  apply(obj: Record<string, unknown>): StoredObject;
  /** Deletes an object; returns false when it did not exist. */
  delete(type: TypeRef, namespace: string | undefined, name: string): boolean;
  get(type: TypeRef, namespace: string | undefined, name: string): StoredObject | undefined;
  list(type: TypeRef, namespace?: string): StoredObject[];
  /** The current global revision. */
  resourceVersion(): string;
  /** Forgets the change history: watches and continued lists from older revisions get 410. */
  compact(): void;
  /** Ends every open watch stream cleanly; returns how many were open. */
  dropWatches(): number;
  /** Sends a BOOKMARK now on every watch that allows bookmarks. */
  bookmark(): void;
  /** Makes `verb` on `resource` (`mappings`, `mappings.getambassador.io`, `mappings/status`; verb `*` for all) answer 403. */
  setRbacDenied(resource: string, verb: Verb | '*', denied?: boolean): void;
  /** Starts or stops serving one type (`apiVersion`, plural) from {@link DEFAULT_RESOURCE_TYPES} or the given types; objects are kept. */
  setServed(apiVersion: string, plural: string, served: boolean): void;
  statusWrites(): StatusWrite[];
  /** Every resource request so far, in order. */
  requests(): RequestRecord[];
  /** Number of watch streams currently open. */
  openWatches(): number;
  close(): Promise<void>;
}

interface Watcher {
  type: ResourceType;
  storage: string;
  namespace?: string;
  label: Selector;
  field: Selector;
  res: http.ServerResponse;
  bookmarks: boolean;
}

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: Record<string, unknown>,
  ) {
    super(message);
  }
}

function status(code: number, reason: string, message: string, details?: Record<string, unknown>) {
  return {
    kind: 'Status',
    apiVersion: 'v1',
    metadata: {},
    status: code < 400 ? 'Success' : 'Failure',
    message,
    reason,
    ...(details ? { details } : {}),
    code,
  };
}

function typeLabel(t: ResourceType): string {
  return t.group === '' ? t.plural : `${t.plural}.${t.group}`;
}

export async function startFakeKube(opts: FakeKubeOptions = {}): Promise<FakeKube> {
  const catalog = [...(opts.resources ?? DEFAULT_RESOURCE_TYPES)];
  const isExcluded = (t: ResourceType) =>
    (opts.exclude ?? []).some((e) => e === apiVersionOf(t) || e === `${apiVersionOf(t)}/${t.plural}`);
  const served = new Set(catalog.filter((t) => !isExcluded(t)));
  const store = new ObjectStore();
  const watchers = new Set<Watcher>();
  const denied = new Set<string>();
  const statusLog: StatusWrite[] = [];
  const requestLog: RequestRecord[] = [];
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'attache-fake-kube-'));
  const bookmarkMs = opts.bookmarkIntervalMs ?? 1000;

  const servedTypes = () => [...served];
  const findType = (apiVersion: string, plural: string) =>
    servedTypes().find((t) => apiVersionOf(t) === apiVersion && t.plural === plural);
  const typeOfRef = (ref: TypeRef) => {
    const t = catalog.find((c) => apiVersionOf(c) === ref.apiVersion && c.kind === ref.kind);
    if (!t) throw new Error(`fake-kube: no type ${ref.kind} in ${ref.apiVersion}`);
    return t;
  };

  /** The object as served through `t`: apiVersion rewritten; list items of built-in kinds carry no type. */
  const present = (o: StoredObject, t: ResourceType, inList = false): StoredObject => {
    if (inList && t.builtin) {
      const { apiVersion: _a, kind: _k, ...rest } = o;
      return rest as StoredObject;
    }
    return { ...o, apiVersion: apiVersionOf(t), kind: t.kind };
  };

  const send = (w: Watcher, type: WatchEventType | 'BOOKMARK' | 'ERROR', object: unknown) => {
    if (!w.res.writableEnded) w.res.write(`${JSON.stringify({ type, object })}\n`);
  };

  const inScope = (w: Watcher, o: StoredObject | undefined) =>
    o !== undefined &&
    (w.namespace === undefined || o.metadata.namespace === w.namespace) &&
    w.label(o) &&
    w.field(o);

  /** Delivers one change to one watcher, turning selector exits and entries into DELETED / ADDED. */
  const deliver = (w: Watcher, e: StoreEvent) => {
    if (e.storage !== w.storage) return;
    const now = e.type !== 'DELETED' && inScope(w, e.object);
    const before = e.type === 'ADDED' ? false : inScope(w, e.prev);
    if (e.type === 'DELETED') {
      if (before) send(w, 'DELETED', present(e.object, w.type));
    } else if (now && before) send(w, 'MODIFIED', present(e.object, w.type));
    else if (now) send(w, 'ADDED', present(e.object, w.type));
    else if (before) send(w, 'DELETED', present(e.object, w.type));
  };
  store.subscribe((e) => {
    for (const w of watchers) deliver(w, e);
  });

  const bookmarkTimer = setInterval(() => api.bookmark(), bookmarkMs);
  bookmarkTimer.unref();

  const checkRbac = (verb: Verb, t: ResourceType, sub: string, namespace: string) => {
    const s = sub ? `/${sub}` : '';
    const names = [`${t.plural}${s}`, `${t.plural}.${t.group}${s}`, `${t.plural}${s}.${t.group}`];
    const hit = names.some((n) => denied.has(`${verb}:${n}`) || denied.has(`*:${n}`));
    if (!hit) return;
    const scope = namespace ? `in the namespace "${namespace}"` : 'at the cluster scope';
    throw new HttpError(
      403,
      'Forbidden',
      `${typeLabel(t)} is forbidden: User "system:serviceaccount:attache:attache" cannot ${verb} resource "${t.plural}${s}" in API group "${t.group}" ${scope}`,
      { group: t.group, kind: t.plural },
    );
  };

  const resourceList = (group: string, version: string) => ({
    kind: 'APIResourceList',
    apiVersion: 'v1',
    groupVersion: group === '' ? version : `${group}/${version}`,
    resources: servedTypes()
      .filter((t) => t.group === group && t.version === version)
      .flatMap((t) => [
        {
          name: t.plural,
          singularName: t.kind.toLowerCase(),
          namespaced: t.namespaced,
          kind: t.kind,
          verbs: ['create', 'delete', 'get', 'list', 'patch', 'update', 'watch'],
        },
        ...(t.statusSubresource
          ? [
              {
                name: `${t.plural}/status`,
                singularName: '',
                namespaced: t.namespaced,
                kind: t.kind,
                verbs: ['get', 'patch', 'update'],
              },
            ]
          : []),
      ]),
  });

  const groupInfo = (group: string) => {
    const versions = [
      ...new Set(
        servedTypes()
          .filter((t) => t.group === group)
          .map((t) => t.version),
      ),
    ]
      .sort()
      .reverse();
    if (versions.length === 0) return undefined;
    const gv = versions.map((v) => ({ groupVersion: `${group}/${v}`, version: v }));
    return { name: group, versions: gv, preferredVersion: gv[0] };
  };

  const discovery = (segments: string[]): unknown => {
    if (segments[0] === 'version' && segments.length === 1)
      return { major: '1', minor: '30', gitVersion: 'v1.30.0-attache-fake', platform: 'linux/amd64' };
    if (segments[0] === 'api') {
      if (segments.length === 1)
        return { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] };
      if (segments.length === 2 && segments[1] === 'v1') return resourceList('', 'v1');
    }
    if (segments[0] === 'apis') {
      if (segments.length === 1) {
        const groups = [
          ...new Set(
            servedTypes()
              .map((t) => t.group)
              .filter((g) => g !== ''),
          ),
        ].sort();
        return { kind: 'APIGroupList', apiVersion: 'v1', groups: groups.map(groupInfo) };
      }
      const g = segments[1] as string;
      if (segments.length === 2) {
        const info = groupInfo(g);
        return info ? { kind: 'APIGroup', apiVersion: 'v1', ...info } : undefined;
      }
      if (segments.length === 3 && servedTypes().some((t) => t.group === g && t.version === segments[2]))
        return resourceList(g, segments[2] as string);
    }
    return undefined;
  };

  interface Target {
    type: ResourceType;
    namespace: string;
    name?: string;
    sub: string;
  }

  /** Resolves `/api/v1/...` or `/apis/<g>/<v>/...` to a served type, or undefined (→ 404). */
  const resolve = (segments: string[]): Target | undefined => {
    let apiVersion: string;
    let rest: string[];
    if (segments[0] === 'api' && segments[1] === 'v1') {
      apiVersion = 'v1';
      rest = segments.slice(2);
    } else if (segments[0] === 'apis' && segments.length >= 4) {
      apiVersion = `${segments[1]}/${segments[2]}`;
      rest = segments.slice(3);
    } else return undefined;
    let namespace = '';
    if (rest[0] === 'namespaces' && rest.length >= 3) {
      const t = findType(apiVersion, rest[2] as string);
      if (t?.namespaced) {
        namespace = rest[1] as string;
        rest = rest.slice(2);
      }
    }
    const t = findType(apiVersion, rest[0] as string);
    if (!t || rest.length > 3) return undefined;
    if (namespace === '' && t.namespaced && rest.length > 1) return undefined;
    const sub = rest[2] ?? '';
    if (sub !== '' && !(sub === 'status' && t.statusSubresource)) return undefined;
    return { type: t, namespace, sub, ...(rest[1] !== undefined ? { name: rest[1] } : {}) };
  };

  const parseRv = (value: string | null): number | undefined => {
    if (value === null || value === '' || value === '0') return undefined;
    if (!/^\d+$/.test(value))
      throw new HttpError(400, 'BadRequest', `invalid resourceVersion ${JSON.stringify(value)}`);
    return Number(value);
  };

  const selectors = (q: URLSearchParams) => {
    try {
      return {
        label: parseLabelSelector(q.get('labelSelector')),
        field: parseFieldSelector(q.get('fieldSelector')),
      };
    } catch (err) {
      if (err instanceof SelectorError) throw new HttpError(400, 'BadRequest', err.message);
      throw err;
    }
  };

  const list = (target: Target, q: URLSearchParams) => {
    const { type, namespace } = target;
    const { label, field } = selectors(q);
    parseRv(q.get('resourceVersion'));
    const limit = q.has('limit') ? Number(q.get('limit')) : 0;
    let listRv = store.rv;
    let after = '';
    const token = q.get('continue');
    if (token) {
      let parsed: { rv: number; after: string };
      try {
        parsed = JSON.parse(Buffer.from(token, 'base64url').toString('utf8'));
      } catch {
        throw new HttpError(400, 'BadRequest', 'invalid continue token');
      }
      if (parsed.rv < store.compactedRv)
        throw new HttpError(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.',
        );
      listRv = parsed.rv;
      after = parsed.after;
    }
    const keyOf = (o: StoredObject) => `${o.metadata.namespace ?? ''}/${o.metadata.name}`;
    const all = store
      .list(storageOf(type))
      .filter((o) => (namespace === '' || o.metadata.namespace === namespace) && label(o) && field(o))
      .filter((o) => after === '' || keyOf(o) > after);
    const page = limit > 0 ? all.slice(0, limit) : all;
    const more = limit > 0 && all.length > limit;
    const last = page[page.length - 1];
    return {
      kind: `${type.kind}List`,
      apiVersion: apiVersionOf(type),
      metadata: {
        resourceVersion: String(listRv),
        ...(more && last
          ? {
              continue: Buffer.from(JSON.stringify({ rv: listRv, after: keyOf(last) })).toString('base64url'),
              remainingItemCount: all.length - page.length,
            }
          : {}),
      },
      items: page.map((o) => present(o, type, true)),
    };
  };

  const watch = (target: Target, q: URLSearchParams, req: http.IncomingMessage, res: http.ServerResponse) => {
    const { type, namespace } = target;
    const { label, field } = selectors(q);
    const from = parseRv(q.get('resourceVersion'));
    res.writeHead(200, {
      'Content-Type': 'application/json',
      'Transfer-Encoding': 'chunked',
      'Cache-Control': 'no-cache',
    });
    res.flushHeaders();
    const w: Watcher = {
      type,
      storage: storageOf(type),
      label,
      field,
      res,
      bookmarks: q.get('allowWatchBookmarks') === 'true',
      ...(namespace ? { namespace } : {}),
    };
    if (from === undefined) {
      for (const o of store.list(w.storage)) if (inScope(w, o)) send(w, 'ADDED', present(o, type));
    } else {
      const backlog = store.since(w.storage, from);
      if (!backlog) {
        send(w, 'ERROR', status(410, 'Expired', `too old resource version: ${from} (${store.compactedRv})`));
        res.end();
        return;
      }
      for (const e of backlog) deliver(w, e);
    }
    watchers.add(w);
    const timeout = Number(q.get('timeoutSeconds') ?? 0);
    const timer = timeout > 0 ? setTimeout(() => res.end(), timeout * 1000) : undefined;
    const done = () => {
      watchers.delete(w);
      if (timer) clearTimeout(timer);
    };
    req.on('close', done);
    res.on('close', done);
  };

  const readBody = async (req: http.IncomingMessage): Promise<unknown> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    try {
      return JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
    } catch {
      throw new HttpError(400, 'BadRequest', 'request body is not valid JSON');
    }
  };

  const notFound = (t: ResourceType, name: string) =>
    new HttpError(404, 'NotFound', `${typeLabel(t)} "${name}" not found`, {
      name,
      group: t.group,
      kind: t.plural,
    });

  const conflict = (t: ResourceType, name: string) =>
    new HttpError(
      409,
      'Conflict',
      `Operation cannot be fulfilled on ${typeLabel(t)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
      { name, group: t.group, kind: t.plural },
    );

  /** Applies a body or patch to the stored object of `target` and stores the result. */
  const write = async (
    method: string,
    target: Target,
    req: http.IncomingMessage,
  ): Promise<{ code: number; body: unknown; changed: boolean }> => {
    const { type, namespace, sub } = target;
    const name = target.name as string;
    const storage = storageOf(type);
    const current = store.get(storage, namespace || undefined, name);
    const body = await readBody(req);
    if (method === 'POST') {
      const obj = body as StoredObject;
      if (!obj?.metadata?.name) throw new HttpError(422, 'Invalid', 'metadata.name: Required value');
      if (store.get(storage, namespace || undefined, obj.metadata.name))
        throw new HttpError(409, 'AlreadyExists', `${typeLabel(type)} "${obj.metadata.name}" already exists`);
      const next = { ...obj, metadata: { ...obj.metadata, ...(type.namespaced ? { namespace } : {}) } };
      const { object } = store.put(storage, next as StoredObject);
      return { code: 201, body: present(object, type), changed: true };
    }
    if (!current) throw notFound(type, name);
    let next: StoredObject;
    if (method === 'PUT') {
      next = body as StoredObject;
      const rv = next?.metadata?.resourceVersion;
      if (rv !== undefined && rv !== '' && rv !== current.metadata.resourceVersion)
        throw conflict(type, name);
    } else {
      const ct = (req.headers['content-type'] ?? '').split(';')[0]?.trim();
      try {
        if (ct === 'application/json-patch+json') next = jsonPatch(current, body) as StoredObject;
        else if (ct === 'application/merge-patch+json' || ct === 'application/strategic-merge-patch+json') {
          const rv = (body as StoredObject)?.metadata?.resourceVersion;
          if (rv !== undefined && rv !== current.metadata.resourceVersion) throw conflict(type, name);
          next = mergePatch(current, body) as StoredObject;
        } else
          throw new HttpError(
            415,
            'UnsupportedMediaType',
            `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json (got ${ct})`,
          );
      } catch (err) {
        if (err instanceof PatchError) throw new HttpError(422, 'Invalid', err.message);
        throw err;
      }
    }
    // The status subresource changes only .status; the main resource keeps the stored status.
    const base = { ...current };
    if (sub === 'status') next = { ...base, status: next.status } as StoredObject;
    else if (type.statusSubresource) {
      const { status: _dropped, ...rest } = next;
      next = { ...rest, ...(current.status !== undefined ? { status: current.status } : {}) } as StoredObject;
    }
    next = {
      ...next,
      apiVersion: current.apiVersion,
      kind: current.kind,
      metadata: { ...next.metadata, name, ...(type.namespaced ? { namespace } : {}) },
    } as StoredObject;
    const { object, changed } = store.put(storage, next);
    return { code: 200, body: present(object, type), changed };
  };

  const handle = async (req: http.IncomingMessage, res: http.ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://fake');
    const segments = url.pathname
      .split('/')
      .filter((s) => s !== '')
      .map(decodeURIComponent);
    const json = (code: number, body: unknown) => {
      res.writeHead(code, { 'Content-Type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    let target: Target | undefined;
    let verb: Verb | undefined;
    let rec: RequestRecord | undefined;
    try {
      if (req.method === 'GET') {
        const d = discovery(segments);
        if (d !== undefined) return json(200, d);
      }
      target = resolve(segments);
      if (!target) throw new HttpError(404, 'NotFound', 'the server could not find the requested resource');
      const q = url.searchParams;
      const isWatch = q.get('watch') === 'true' || q.get('watch') === '1';
      const method = req.method ?? 'GET';
      verb =
        method === 'GET'
          ? target.name === undefined
            ? isWatch
              ? 'watch'
              : 'list'
            : 'get'
          : method === 'POST'
            ? 'create'
            : method === 'PUT'
              ? 'update'
              : method === 'PATCH'
                ? 'patch'
                : 'delete';
      if ((verb === 'create') !== (target.name === undefined) && method !== 'GET')
        throw new HttpError(405, 'MethodNotAllowed', `${method} is not supported on this path`);
      rec = {
        verb,
        resource: `${typeLabel(target.type)}${target.sub ? '/status' : ''}`,
        namespace: target.namespace,
        code: 200,
      };
      requestLog.push(rec);
      checkRbac(verb, target.type, target.sub, target.namespace);
      if (verb === 'watch') return watch(target, q, req, res);
      if (verb === 'list') return json(200, list(target, q));
      if (verb === 'get') {
        const o = store.get(storageOf(target.type), target.namespace || undefined, target.name as string);
        if (!o) throw notFound(target.type, target.name as string);
        return json(200, present(o, target.type));
      }
      if (verb === 'delete') {
        const o = store.remove(storageOf(target.type), target.namespace || undefined, target.name as string);
        if (!o) throw notFound(target.type, target.name as string);
        return json(200, present(o, target.type));
      }
      const result = await write(method, target, req);
      if (target.sub === 'status')
        logStatus(target, method, result.code, result.changed, result.body as StoredObject);
      return json(result.code, result.body);
    } catch (err) {
      const e = err instanceof HttpError ? err : new HttpError(500, 'InternalError', (err as Error).message);
      if (rec) rec.code = e.code;
      if (target?.sub === 'status' && (req.method === 'PUT' || req.method === 'PATCH'))
        logStatus(target, req.method, e.code, false);
      if (!res.headersSent) json(e.code, status(e.code, e.reason, e.message, e.details));
      else res.end();
    }
  };

  const logStatus = (t: Target, method: string, code: number, changed: boolean, obj?: StoredObject) => {
    statusLog.push({
      apiVersion: apiVersionOf(t.type),
      kind: t.type.kind,
      namespace: t.namespace,
      name: t.name ?? '',
      method: method as 'PUT' | 'PATCH',
      code,
      changed,
      resourceVersion: String(obj?.metadata.resourceVersion ?? ''),
    });
  };

  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;

  const kubeconfig = (contextName = 'fake') => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: contextName, server: url, skipTLSVerify: true }],
      users: [{ name: contextName, token: 'fake-token' }],
      contexts: [{ name: contextName, cluster: contextName, user: contextName }],
      currentContext: contextName,
    });
    return kc;
  };

  const api: FakeKube = {
    url,
    port,
    kubeconfig,
    kubeconfigFile(contextName = 'fake') {
      const file = path.join(tmpDir, `kubeconfig-${contextName}.yaml`);
      fs.writeFileSync(file, kubeconfig(contextName).exportConfig());
      return file;
    },
    apply(obj) {
      const o = obj as unknown as StoredObject & TypeRef;
      const t = typeOfRef(o);
      const namespace = t.namespaced ? (o.metadata.namespace ?? 'default') : undefined;
      const next = { ...o, metadata: { ...o.metadata, namespace } } as StoredObject;
      if (!t.namespaced) delete next.metadata.namespace;
      return structuredClone(store.put(storageOf(t), next).object);
    },
    delete(type, namespace, name) {
      const t = typeOfRef(type);
      return (
        store.remove(storageOf(t), t.namespaced ? (namespace ?? 'default') : undefined, name) !== undefined
      );
    },
    get(type, namespace, name) {
      const t = typeOfRef(type);
      const o = store.get(storageOf(t), t.namespaced ? (namespace ?? 'default') : undefined, name);
      return o ? structuredClone(present(o, t)) : undefined;
    },
    list(type, namespace) {
      const t = typeOfRef(type);
      return store
        .list(storageOf(t))
        .filter((o) => namespace === undefined || o.metadata.namespace === namespace)
        .map((o) => structuredClone(present(o, t)));
    },
    resourceVersion: () => String(store.rv),
    compact: () => store.compact(),
    dropWatches() {
      const n = watchers.size;
      for (const w of [...watchers]) w.res.end();
      watchers.clear();
      return n;
    },
    bookmark() {
      for (const w of watchers)
        if (w.bookmarks)
          send(w, 'BOOKMARK', {
            kind: w.type.kind,
            apiVersion: apiVersionOf(w.type),
            metadata: { resourceVersion: String(store.rv) },
          });
    },
    setRbacDenied(resource, verb, isDenied = true) {
      const k = `${verb}:${resource}`;
      if (isDenied) denied.add(k);
      else denied.delete(k);
    },
    setServed(apiVersion, plural, on) {
      const t = [...catalog, ...DEFAULT_RESOURCE_TYPES].find(
        (c) => apiVersionOf(c) === apiVersion && c.plural === plural,
      );
      if (!t) throw new Error(`fake-kube: unknown type ${apiVersion}/${plural}`);
      if (!catalog.includes(t)) catalog.push(t);
      const existing = [...served].find((s) => s === t);
      if (on && !existing) served.add(t);
      if (!on && existing) {
        served.delete(existing);
        for (const w of [...watchers]) if (w.type === existing) w.res.end();
      }
    },
    statusWrites: () => statusLog.map((s) => ({ ...s })),
    requests: () => requestLog.map((r) => ({ ...r })),
    openWatches: () => watchers.size,
    async close() {
      clearInterval(bookmarkTimer);
      api.dropWatches();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      fs.rmSync(tmpDir, { recursive: true, force: true });
    },
  };
  return api;
}
