/**
 * The xDS gRPC server of a fan-out node: binds (plaintext, TLS or mutual TLS), serves ADS (SotW
 * and delta) and the per-type discovery services from a snapshot source, and on close drains so
 * clients reconnect elsewhere gradually, then shuts down.
 *
 * Two transports serve the same streams (stream-hub.ts):
 * - `h2` (default): the fan-out's own gRPC-over-HTTP/2 server (h2-transport.ts), which writes the
 *   shared response bytes without a per-stream copy. Drain: the listener closes, then each
 *   connection gets a GOAWAY at a random moment within the drain window and its streams end
 *   with UNAVAILABLE.
 * - `grpc-js`: the grpc-js server (grpcjs-transport.ts), which copies every response per stream.
 *   Drain: GOAWAY on every connection at once, streams end with OK spread over the window.
 */
import * as grpc from '@grpc/grpc-js';
import type { Registry } from 'prom-client';
import type { Logger } from '../../../shared/runtime/logger.ts';
import { isLoopback } from '../../../shared/runtime/loopback.ts';
import type { Runner } from '../../../shared/runtime/runner.ts';
import type { SnapshotSource } from '../cache/group-snapshot.ts';
import type { AdsEvents } from './ads-events.ts';
import { AdsMetrics } from './ads-metrics.ts';
import type { ClientAuthOptions } from './client-auth.ts';
import { type AdsLimits, DEFAULT_LIMITS } from './client-limits.ts';
import { ClientMistakes } from './client-mistakes.ts';
import { addXdsServices } from './grpcjs-transport.ts';
import { H2Transport } from './h2-transport.ts';
import { type GroupSummary, StreamHub, type StreamStatus } from './stream-hub.ts';
import type { WriteCounters } from './xds-stream.ts';

export type { StreamStatus } from './stream-hub.ts';

/** PEM material for the xDS port. */
export interface AdsTlsOptions {
  cert: Buffer;
  key: Buffer;
  /**
   * CA bundle for client certificates. When set, clients must present a certificate it signed
   * (mutual TLS) and each stream's group is bound to the certificate identity (peer-identity.ts).
   */
  clientCa?: Buffer;
  /** With `clientCa`: SPIFFE trust domains whose IDs name groups (empty: any, and CN `group:<g>`). */
  trustDomains?: readonly string[];
}

/** How clients authenticate, apart from certificates (which come with {@link AdsTlsOptions}). */
export type AdsAuthOptions = Omit<ClientAuthOptions, 'certificates'>;

export interface AdsServerRunnerOptions {
  cache: SnapshotSource;
  host: string;
  /** 0 picks a free port; read it back from {@link AdsServerRunner.port}. */
  port: number;
  log: Logger;
  registry: Registry;
  /** Group for nodes whose metadata names none (Emissary's `ambassador_id` default is `default`). */
  defaultGroup?: string;
  events?: AdsEvents;
  /** Plaintext when absent. */
  tls?: AdsTlsOptions;
  /**
   * Client authentication (client-auth.ts): bearer tokens and whether anonymous streams are served.
   * Certificates authenticate when `tls.clientCa` is set. Required: there is no silent default.
   */
  auth: AdsAuthOptions;
  /** Per-client limits; each absent one takes its {@link DEFAULT_LIMITS} value. */
  limits?: Partial<AdsLimits>;
  /** Streams end with OK after this age ± 10 % so fleets rebalance; absent or 0: never. */
  maxConnectionAgeMs?: number;
  /** close() ends open streams spread over this window (default 0: all at once). */
  drainWindowMs?: number;
  /** Streams writing their initial responses at once (default 256; admission also waits for pacer room). */
  initialPushConcurrency?: number;
  /** Bytes of non-EDS responses in flight at once: the size of a push wave (default 32 MiB). */
  pushBudgetBytes?: number;
  /** How long close() lets calls finish after the drain before forcing the shutdown. */
  shutdownGraceMs?: number;
  /** Which gRPC server carries the streams (default `h2`, see above). */
  transport?: XdsTransport;
  /** h2: gzip shared responses for clients that accept it (default true; compressed once each). */
  compression?: boolean;
}

export type XdsTransport = 'h2' | 'grpc-js';

export class AdsServerRunner implements Runner {
  readonly name = 'ads-server';
  private server?: grpc.Server;
  private h2?: H2Transport;
  private hub?: StreamHub;
  private boundPort = 0;
  private readonly log: Logger;
  private readonly metrics: AdsMetrics;
  private readonly mistakes: ClientMistakes;
  private readonly counters: WriteCounters = { messages: 0, bytes: 0, copied: 0 };

  constructor(private readonly opts: AdsServerRunnerOptions) {
    this.log = opts.log.child({ component: 'ads' });
    this.metrics = new AdsMetrics(opts.registry, this.counters);
    this.mistakes = new ClientMistakes({ log: this.log, registry: opts.registry });
  }

  /**
   * A server interceptor that counts requests grpc-js refused for exceeding the request size:
   * grpc-js reads the length prefix and answers RESOURCE_EXHAUSTED itself, before our handler
   * sees anything, by calling `sendStatus` on its own call object; wrapping that method on the
   * call is the only place the refusal is visible.
   */
  private readonly countOversizeRequests: grpc.ServerInterceptor = (_method, call) => {
    const send = call.sendStatus.bind(call);
    call.sendStatus = (status) => {
      if (
        status.code === grpc.status.RESOURCE_EXHAUSTED &&
        /^Received message larger than max/.test(status.details)
      ) {
        this.metrics.limitHits.inc({ limit: 'request_bytes' });
        this.mistakes.report('request_bytes', { details: status.details }, 'xDS request refused: too large');
      }
      send(status);
    };
    return new grpc.ServerInterceptingCall(call);
  };

  /** The bound port once started (the configured one before). */
  get port(): number {
    return this.boundPort || this.opts.port;
  }

  /** Open xDS streams. */
  get streamCount(): number {
    return this.hub?.streamCount ?? 0;
  }

  /** Response messages, bytes written and bytes copied per stream so far. */
  get writes(): WriteCounters {
    return { ...this.counters };
  }

  /** Open streams with their node, group, protocol and versions sent/acknowledged per type. */
  streams(): StreamStatus[] {
    return this.hub?.status() ?? [];
  }

  /** Groups with open streams on this node. */
  groups(): string[] {
    return this.hub?.groups() ?? [];
  }

  /** Per type, how many streams of `group` ACKed each version (fleet status). */
  summary(group: string): GroupSummary {
    return this.hub?.summary(group) ?? { streams: 0, types: {} };
  }

  async start(): Promise<void> {
    const tls = this.opts.tls;
    const limits: AdsLimits = { ...DEFAULT_LIMITS, ...this.opts.limits };
    const hub = new StreamHub({
      limits,
      source: this.opts.cache,
      metrics: this.metrics,
      log: this.log,
      mistakes: this.mistakes,
      auth: {
        ...this.opts.auth,
        ...(tls?.clientCa ? { certificates: { trustDomains: tls.trustDomains ?? [] } } : {}),
      },
      defaultGroup: this.opts.defaultGroup ?? 'default',
      events: this.opts.events,
      initialPushConcurrency: this.opts.initialPushConcurrency,
      pushBudgetBytes: this.opts.pushBudgetBytes,
      maxConnectionAgeMs: this.opts.maxConnectionAgeMs,
    });
    const host = this.opts.host.includes(':') ? `[${this.opts.host}]` : this.opts.host;
    try {
      if ((this.opts.transport ?? 'h2') === 'h2') {
        const h2 = new H2Transport({
          hub,
          log: this.log,
          counters: this.counters,
          compression: this.opts.compression ?? true,
          ...(tls ? { tls: { cert: tls.cert, key: tls.key, clientCa: tls.clientCa } } : {}),
          maxRequestBytes: limits.maxRequestBytes,
          onOversize: (details) => {
            this.metrics.limitHits.inc({ limit: 'request_bytes' });
            this.mistakes.report('request_bytes', { details }, 'xDS request refused: too large');
          },
        });
        this.boundPort = await h2.listen(this.opts.host, this.opts.port);
        this.h2 = h2;
      } else {
        const server = new grpc.Server({
          'grpc.max_receive_message_length': limits.maxRequestBytes > 0 ? limits.maxRequestBytes : -1,
          interceptors: [this.countOversizeRequests],
        });
        addXdsServices(server, hub, this.counters);
        const credentials = tls
          ? grpc.ServerCredentials.createSsl(
              tls.clientCa ?? null,
              [{ private_key: tls.key, cert_chain: tls.cert }],
              tls.clientCa !== undefined,
            )
          : grpc.ServerCredentials.createInsecure();
        this.boundPort = await new Promise<number>((resolve, reject) => {
          server.bindAsync(`${host}:${this.opts.port}`, credentials, (err, port) =>
            err ? reject(err) : resolve(port),
          );
        });
        this.server = server;
      }
    } catch (err) {
      hub.close();
      throw err;
    }
    this.hub = hub;
    const auth = this.opts.auth;
    this.log.info(
      {
        host: this.opts.host,
        port: this.boundPort,
        tls: tls ? (tls.clientCa ? 'mutual' : 'server') : 'off',
        transport: this.opts.transport ?? 'h2',
        compression: (this.opts.transport ?? 'h2') === 'h2' && (this.opts.compression ?? true),
        tokens: auth.tokens?.size ?? 0,
        trustDomains: tls?.clientCa ? (tls.trustDomains ?? []) : undefined,
        anonymous: auth.allowUnauthenticated,
      },
      'xDS listening',
    );
    if (auth.allowUnauthenticated) {
      this.log.warn(
        { host: this.opts.host, port: this.boundPort },
        'xDS clients are NOT authenticated (--allow-unauthenticated): any peer that can connect receives any group, secrets included',
      );
    }
    if (auth.tokens && !tls && !isLoopback(this.opts.host)) {
      this.log.warn(
        { host: this.opts.host },
        'bearer tokens are accepted over plaintext on a non-loopback address: anyone on the path can read them (use --tls-cert/--tls-key)',
      );
    }
  }

  ready(): boolean {
    return this.hub !== undefined;
  }

  async close(): Promise<void> {
    const hub = this.hub;
    if (!hub) return;
    this.hub = undefined;
    const windowMs = this.opts.drainWindowMs ?? 0;
    const grace = this.opts.shutdownGraceMs ?? 2000;
    if (hub.streamCount > 0) this.log.info({ streams: hub.streamCount, windowMs }, 'draining xDS streams');
    const h2 = this.h2;
    if (h2) {
      this.h2 = undefined;
      hub.stopAccepting();
      await h2.drain(windowMs, (s) =>
        hub.endWith(s, 'drain', grpc.status.UNAVAILABLE, 'fan-out node is draining; reconnect elsewhere'),
      );
      hub.close();
      await h2.close(grace);
      return;
    }
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    // GOAWAY on every connection and no more accepts: a client whose stream ends reconnects
    // elsewhere, while open streams keep being served until the drain reaches them.
    const shutDown = new Promise<void>((resolve) => server.tryShutdown(() => resolve()));
    await hub.drain(windowMs);
    hub.close();
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      shutDown,
      new Promise<void>((resolve) => {
        timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, grace);
      }),
    ]);
    clearTimeout(timer);
  }
}
