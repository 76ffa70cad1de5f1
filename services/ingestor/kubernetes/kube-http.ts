/**
 * Plain JSON reads from the API server with the KubeConfig's credentials and TLS settings
 * (`applyToHTTPSOptions`). Lists are read raw, not through the generated typed clients, so list
 * items and watch events reach the ingestor in the same shape (no Date objects, no dropped
 * unknown fields).
 */
import http from 'node:http';
import https from 'node:https';
import type { KubeConfig } from '@kubernetes/client-node';
import { AttacheError } from '../../../shared/runtime/errors.ts';

/** A non-2xx answer from the API server; `statusCode` 0 when it could not be reached. */
export class KubeApiError extends AttacheError {
  constructor(
    message: string,
    readonly statusCode: number,
    readonly reason: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

export interface KubeObject {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    resourceVersion?: string;
    generation?: number;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    [k: string]: unknown;
  };
  [k: string]: unknown;
}

const REQUEST_TIMEOUT_MS = 30_000;

/** GETs `path` (with query) and parses the JSON body; throws {@link KubeApiError} on any failure. */
export async function kubeGet(
  kc: KubeConfig,
  path: string,
  query: Record<string, string | number | undefined> = {},
  signal?: AbortSignal,
): Promise<unknown> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeApiError('the kubeconfig has no current cluster', 0, 'NoCluster');
  const url = new URL(cluster.server.replace(/\/$/, '') + path);
  for (const [k, v] of Object.entries(query))
    if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
  const opts: https.RequestOptions = { method: 'GET', headers: { Accept: 'application/json' } };
  await kc.applyToHTTPSOptions(opts);
  if (cluster.skipTLSVerify) opts.rejectUnauthorized = false;
  const transport = url.protocol === 'http:' ? http : https;
  return new Promise((resolve, reject) => {
    const req = transport.request(
      url,
      { ...opts, timeout: REQUEST_TIMEOUT_MS, ...(signal ? { signal } : {}) },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('error', (err) =>
          reject(new KubeApiError(`GET ${path}: ${err.message}`, 0, 'Unreachable', { cause: err })),
        );
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          let body: unknown;
          try {
            body = JSON.parse(text);
          } catch {
            body = undefined;
          }
          const code = res.statusCode ?? 0;
          if (code >= 200 && code < 300 && body !== undefined) return resolve(body);
          const st = body as { reason?: string; message?: string } | undefined;
          reject(
            new KubeApiError(
              `GET ${path}: ${code} ${st?.reason ?? res.statusMessage ?? ''}: ${st?.message ?? text.slice(0, 200)}`,
              code,
              st?.reason ?? String(code),
            ),
          );
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${REQUEST_TIMEOUT_MS} ms`)));
    req.on('error', (err) =>
      reject(new KubeApiError(`GET ${path}: ${err.message}`, 0, 'Unreachable', { cause: err })),
    );
    req.end();
  });
}

export interface ListResult {
  items: KubeObject[];
  resourceVersion: string;
}

/**
 * Lists every object under `path` in pages of `pageSize`. All pages belong to the first page's
 * revision; when the continue token expires (410) the list starts over, as the API documents.
 */
export async function listAll(
  kc: KubeConfig,
  path: string,
  opts: { pageSize?: number; signal?: AbortSignal } = {},
): Promise<ListResult> {
  const limit = opts.pageSize ?? 500;
  for (let attempt = 0; ; attempt++) {
    const items: KubeObject[] = [];
    let token: string | undefined;
    let resourceVersion = '';
    try {
      do {
        const page = (await kubeGet(kc, path, { limit, continue: token }, opts.signal)) as {
          metadata?: { resourceVersion?: string; continue?: string };
          items?: KubeObject[];
        };
        if (!token) resourceVersion = page.metadata?.resourceVersion ?? '';
        items.push(...(page.items ?? []));
        token = page.metadata?.continue || undefined;
      } while (token);
      return { items, resourceVersion };
    } catch (err) {
      if (!(err instanceof KubeApiError && err.statusCode === 410 && attempt < 3)) throw err;
    }
  }
}

/**
 * The first of `versions` in which `group` serves `plural`, from discovery; undefined when none
 * does (the CRD is not installed). Other discovery failures throw.
 */
export async function servedVersion(
  kc: KubeConfig,
  group: string,
  versions: readonly string[],
  plural: string,
  signal?: AbortSignal,
): Promise<string | undefined> {
  for (const version of versions) {
    const path = group === '' ? `/api/${version}` : `/apis/${group}/${version}`;
    try {
      const list = (await kubeGet(kc, path, {}, signal)) as { resources?: { name?: string }[] };
      if (list.resources?.some((r) => r.name === plural)) return version;
    } catch (err) {
      if (err instanceof KubeApiError && err.statusCode === 404) continue;
      throw err;
    }
  }
  return undefined;
}
