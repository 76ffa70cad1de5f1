/**
 * The admin HTTP port every service exposes: `/healthz` (process alive), `/readyz` (every runner
 * ready), `/metrics` (Prometheus text) and service-specific JSON routes under `/debug/`.
 *
 * Access rule. `/healthz`, `/readyz` and `/metrics` are public: kubelet probes and Prometheus
 * reach them on a wide bind, and they show no configuration. Every other route (the `debug` map:
 * `/debug/*`, and whatever later shows configuration or snapshots) is sensitive:
 * - bound to a loopback address (`--admin-host 127.0.0.1`): served, only local processes can
 *   connect (`kubectl port-forward` arrives from loopback too);
 * - bound wider: served only with `Authorization: Bearer <admin token>` (`--admin-token-file` or
 *   `ATTACHE_ADMIN_TOKEN`, compared as hashes in constant time); without a configured token every
 *   sensitive route answers 403 and says how to enable it; with a wrong or missing one, 401.
 * Register new sensitive routes through `debug`; nothing else is needed for them to be protected.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { FlagSpecs, FlagValue } from './config.ts';
import { secretValue } from './connection-flag-specs.ts';
import { ConfigError } from './errors.ts';
import type { Logger } from './logger.ts';
import { isLoopback } from './loopback.ts';
import type { Runner } from './runner.ts';

/**
 * A debug route: returns the body to serialize as JSON, a {@link RawResponse} to send as it is
 * (HTML pages, refusals), or null for 404. It sees the request to check who is asking.
 */
export type DebugHandler = (url: URL, req: http.IncomingMessage) => Promise<unknown | null>;

/** A response a debug route sends verbatim. */
export class RawResponse {
  constructor(
    readonly body: string,
    readonly contentType = 'text/html; charset=utf-8',
    readonly status = 200,
  ) {}
}

/** Flags for the admin token; spread into the flag spec of every command with an admin port. */
export const ADMIN_ACCESS_FLAGS = {
  'admin-token': {
    type: 'string',
    secret: true,
    description:
      'bearer token for /debug/* when the admin port binds beyond loopback; environment only (ATTACHE_ADMIN_TOKEN)',
  },
  'admin-token-file': { type: 'string', description: 'file holding the admin bearer token' },
} as const satisfies FlagSpecs;

/** The admin token from `ATTACHE_ADMIN_TOKEN` or `--admin-token-file`, if any (≥ 16 characters). */
export function adminTokenFromFlags(flags: Record<string, FlagValue>): string | undefined {
  const token = secretValue(flags, 'admin-token');
  if (token !== undefined && token.length < 16) {
    throw new ConfigError('the admin token must be at least 16 characters (e.g. openssl rand -hex 24)');
  }
  return token;
}

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Runners whose readiness `/readyz` reports. */
  runners: () => readonly Runner[];
  /** Sensitive routes by path (e.g. `/debug/snapshot`): see the access rule above. */
  debug?: Record<string, DebugHandler>;
  /** Bearer token that opens the sensitive routes on a non-loopback bind. */
  token?: string;
  log: Logger;
}

const PUBLIC = new Set(['/healthz', '/readyz', '/metrics']);
/** Most metric names one `/metrics?name=…` request reads. */
const MAX_METRIC_NAMES = 32;

export class AdminServer implements Runner {
  readonly name = 'admin';
  private server?: http.Server;
  private listening = false;
  private readonly tokenDigest?: Buffer;

  constructor(private readonly opts: AdminServerOptions) {
    if (opts.token !== undefined) this.tokenDigest = sha256(opts.token);
  }

  /** The bound port (useful when started with port 0). */
  get port(): number {
    return (this.server?.address() as AddressInfo | null)?.port ?? this.opts.port;
  }

  async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        this.opts.log.warn({ err, url: req.url }, 'admin request failed');
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      });
    });
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    this.listening = true;
    const debugAccess = isLoopback(this.opts.host) ? 'loopback' : this.tokenDigest ? 'token' : 'closed';
    this.opts.log.info({ port: this.port, debug: debugAccess }, 'admin listening');
  }

  ready(): boolean {
    return this.listening;
  }

  async close(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = undefined;
    this.listening = false;
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }

  /** Why a sensitive route is refused for `req`, or undefined when it may be served. */
  private refusal(req: http.IncomingMessage): { status: 401 | 403; text: string } | undefined {
    if (isLoopback(this.opts.host)) return undefined;
    if (!this.tokenDigest) {
      return {
        status: 403,
        text: 'this route shows configuration: bind the admin port to loopback (--admin-host 127.0.0.1) or set ATTACHE_ADMIN_TOKEN / --admin-token-file\n',
      };
    }
    const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(req.headers.authorization ?? '');
    const presented = sha256(m?.[1] ?? '');
    if (!m || !timingSafeEqual(presented, this.tokenDigest)) {
      return { status: 401, text: 'admin token required: Authorization: Bearer <token>\n' };
    }
    return undefined;
  }

  /**
   * `/metrics?name=A&name=B`: only the named metrics, collected one after the other in the order
   * named (a sampler that polls a few values often need not pay for collecting every metric, the
   * event-loop lag and heap-space ones above all). Unknown names are skipped; at most
   * {@link MAX_METRIC_NAMES} are read. Some metrics are set by another one's collection (prom-client
   * sets `nodejs_heap_size_used_bytes` and `nodejs_external_memory_bytes` while collecting
   * `nodejs_heap_size_total_bytes`): name that one first.
   */
  private async selectedMetrics(names: readonly string[]): Promise<string> {
    const registry = this.opts.registry;
    const parts: string[] = [];
    for (const name of [...new Set(names)].slice(0, MAX_METRIC_NAMES)) {
      if (registry.getSingleMetric(name)) parts.push(await registry.getSingleMetricAsString(name));
    }
    return parts.length > 0 ? `${parts.join('\n')}\n` : '';
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://admin');
    if (url.pathname === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
      return;
    }
    if (url.pathname === '/readyz') {
      const states = this.opts.runners().map((r) => ({ runner: r.name, ready: r.ready() }));
      const ok = states.every((s) => s.ready);
      res
        .writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
        .end(`${JSON.stringify(states)}\n`);
      return;
    }
    if (url.pathname === '/metrics') {
      const names = url.searchParams.getAll('name');
      const body = names.length > 0 ? await this.selectedMetrics(names) : await this.opts.registry.metrics();
      res.writeHead(200, { 'content-type': this.opts.registry.contentType }).end(body);
      return;
    }
    const handler = PUBLIC.has(url.pathname) ? undefined : this.opts.debug?.[url.pathname];
    if (handler) {
      const refused = this.refusal(req);
      if (refused) {
        res
          .writeHead(refused.status, {
            'content-type': 'text/plain',
            ...(refused.status === 401 ? { 'www-authenticate': 'Bearer' } : {}),
          })
          .end(refused.text);
        return;
      }
      const body = await handler(url, req);
      if (body instanceof RawResponse) {
        res.writeHead(body.status, { 'content-type': body.contentType }).end(body.body);
        return;
      }
      if (body === null) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' }).end(`${JSON.stringify(body, null, 2)}\n`);
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  }
}

/** sha256 of a token (here, not from shared/xds/encoding.ts: that loads protobufjs, and `attache --help` imports this module for its flags). */
function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
