/**
 * The admin HTTP port every service exposes: `/healthz` (process alive), `/readyz` (every runner
 * ready), `/metrics` (Prometheus text) and service-specific JSON routes under `/debug/`.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { Logger } from './logger.ts';
import type { Runner } from './runner.ts';

/** A JSON debug route: returns the body to serialize, or null for 404. */
export type DebugHandler = (url: URL) => Promise<unknown | null>;

export interface AdminServerOptions {
  host: string;
  port: number;
  registry: Registry;
  /** Runners whose readiness `/readyz` reports. */
  runners: () => readonly Runner[];
  /** Extra routes by path (e.g. `/debug/snapshot`). */
  debug?: Record<string, DebugHandler>;
  log: Logger;
}

export class AdminServer implements Runner {
  readonly name = 'admin';
  private server?: http.Server;
  private listening = false;

  constructor(private readonly opts: AdminServerOptions) {}

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
    this.opts.log.info({ port: this.port }, 'admin listening');
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
      const body = await this.opts.registry.metrics();
      res.writeHead(200, { 'content-type': this.opts.registry.contentType }).end(body);
      return;
    }
    const handler = this.opts.debug?.[url.pathname];
    if (handler) {
      const body = await handler(url);
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
