/**
 * Prometheus metrics of the ADS server. Labels are bounded: xDS type (short name), group,
 * protocol and fixed reasons, never node or stream ids.
 */
import { Counter, Gauge, type Registry } from 'prom-client';
import { servedSetCacheStats } from './served-set.ts';

/**
 * What a transport wrote, for metrics and the fleet benchmark: response messages, their bytes,
 * and the bytes it allocated and filled per stream to write them (copies of shared bodies count
 * in full; the per-stream prefix and nonce count too).
 */
export interface WriteCounters {
  messages: number;
  bytes: number;
  copied: number;
}

export class AdsMetrics {
  /** Open ADS streams per group. */
  readonly streams: Gauge<'group'>;
  /** DiscoveryResponses written, per type and group. */
  readonly responses: Counter<'type' | 'group'>;
  /** Requests that rejected the last response (error_detail set), per type and group. */
  readonly nacks: Counter<'type' | 'group'>;
  /** Requests ignored because their nonce was not the last one sent for that type. */
  readonly staleNonces: Counter<'type' | 'group'>;
  /** Streams refused because their credential does not allow the group they ask for. */
  readonly permissionDenied: Counter;
  /** Streams refused because they carry no valid credential. */
  readonly unauthenticated: Counter;
  /** Streams the server ended, by reason (max_age, drain, shutdown). */
  readonly streamsEnded: Counter<'reason'>;
  /** Streams waiting for an initial-push permit. */
  readonly initialPushQueued: Gauge;
  /** Streams or requests refused because they exceeded a per-client limit, by limit. */
  readonly limitHits: Counter<'limit'>;

  /** `writes`: the transport's response accounting, exported as counters. */
  constructor(registry: Registry, writes: WriteCounters = { messages: 0, bytes: 0, copied: 0 }) {
    this.streams = new Gauge({
      name: 'attache_fanout_streams',
      help: 'Open ADS streams',
      labelNames: ['group'],
      registers: [registry],
    });
    this.responses = new Counter({
      name: 'attache_fanout_responses_total',
      help: 'DiscoveryResponses sent',
      labelNames: ['type', 'group'],
      registers: [registry],
    });
    this.nacks = new Counter({
      name: 'attache_fanout_nacks_total',
      help: 'DiscoveryRequests that rejected the last response (NACK)',
      labelNames: ['type', 'group'],
      registers: [registry],
    });
    this.staleNonces = new Counter({
      name: 'attache_fanout_stale_nonces_total',
      help: 'DiscoveryRequests ignored because they answered an older response',
      labelNames: ['type', 'group'],
      registers: [registry],
    });
    this.permissionDenied = new Counter({
      name: 'attache_fanout_permission_denied_total',
      help: 'Streams refused because their credential does not allow the group they ask for',
      registers: [registry],
    });
    this.unauthenticated = new Counter({
      name: 'attache_fanout_unauthenticated_total',
      help: 'Streams refused because they carry no valid credential (UNAUTHENTICATED)',
      registers: [registry],
    });
    this.streamsEnded = new Counter({
      name: 'attache_fanout_streams_ended_total',
      help: 'Streams ended by the server (status OK) so clients reconnect, by reason',
      labelNames: ['reason'],
      registers: [registry],
    });
    this.initialPushQueued = new Gauge({
      name: 'attache_fanout_initial_push_queued',
      help: 'Streams waiting for an initial-push permit (reconnect storm back-pressure)',
      registers: [registry],
    });
    this.limitHits = new Counter({
      name: 'attache_fanout_limit_hits_total',
      help: 'Streams or requests refused for exceeding a per-client limit (request_bytes, names_per_stream, type_url_bytes, streams_per_connection, streams_per_peer)',
      labelNames: ['limit'],
      registers: [registry],
    });
    new Gauge({
      name: 'attache_fanout_cache_bytes',
      help: 'Estimated bytes held by the shared subscription and served-set caches (byte-bounded)',
      labelNames: ['cache'],
      registers: [registry],
      collect() {
        for (const [cache, s] of Object.entries(servedSetCacheStats())) this.set({ cache }, s.bytes);
      },
    });
    const fromWrites = (name: string, help: string, read: () => number) =>
      new Counter({
        name,
        help,
        registers: [registry],
        collect() {
          this.reset();
          this.inc(read());
        },
      });
    fromWrites(
      'attache_fanout_response_messages_total',
      'xDS response messages written',
      () => writes.messages,
    );
    fromWrites(
      'attache_fanout_response_bytes_total',
      'Bytes of xDS response messages written (gRPC prefix included)',
      () => writes.bytes,
    );
    fromWrites(
      'attache_fanout_response_copied_bytes_total',
      'Bytes allocated and filled per stream to write responses (shared bodies are not copied by the h2 transport)',
      () => writes.copied,
    );
    new Counter({
      name: 'attache_fanout_cache_evictions_total',
      help: 'Entries evicted from the shared caches to stay within their byte budget',
      labelNames: ['cache'],
      registers: [registry],
      collect() {
        this.reset();
        for (const [cache, s] of Object.entries(servedSetCacheStats())) this.inc({ cache }, s.evictions);
      },
    });
  }
}
