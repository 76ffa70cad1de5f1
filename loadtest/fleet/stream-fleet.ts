/**
 * The streams of one worker process: packs them onto HTTP/2 connections (one {@link H2Channel},
 * Envoy's gRPC client in miniature, per `streamsPerChannel` streams), opens them at a paced rate, and keeps what they observe in flat arrays.
 */

import { DeltaEnvoy } from './delta-envoy.ts';
import { fleetAuthHeaders } from './fleet-auth.ts';
import { H2Channel } from './h2-channel.ts';
import { SotwEnvoy } from './sotw-envoy.ts';
import { envoyBackoffMs, type SimStream, type StreamContext, type StreamObserver } from './stream-context.ts';
import { type Probe, VersionBook } from './version-book.ts';
import type { ProbeReport, Progress, RegressionReport, TtfcReport, WorkerStart } from './worker-protocol.ts';

/** gRPC status UNIMPLEMENTED: the fan-out does not serve the method (a fatal run). */
const UNIMPLEMENTED = 12;
const PACE_TICK_MS = 10;

export class StreamFleet {
  private readonly book = new VersionBook();
  private readonly channels: H2Channel[] = [];
  private readonly streams: SimStream[] = [];
  private readonly openedAt: Float64Array;
  private readonly configuredAt: Float64Array;
  private readonly isDown: Uint8Array;
  private readonly probes = new Map<string, Float64Array>();
  private readonly probeHits: Record<string, number> = {};
  private readonly responses: Record<string, { count: number; bytes: number }> = {};
  private opened = 0;
  private configured = 0;
  private down = 0;
  private endings = 0;
  private closing = false;
  private pacer?: NodeJS.Timeout;
  private marked?: Array<Map<string, number>>;

  constructor(
    private readonly cfg: WorkerStart,
    private readonly onFatal: (code: number, message: string) => void,
  ) {
    this.openedAt = new Float64Array(cfg.count).fill(Number.NaN);
    this.configuredAt = new Float64Array(cfg.count).fill(Number.NaN);
    this.isDown = new Uint8Array(cfg.count);
    const observe: StreamObserver = {
      probeHit: (i, id, at) => {
        const arr = this.probes.get(id);
        if (!arr || !Number.isNaN(arr[i])) return;
        arr[i] = at;
        this.probeHits[id] = (this.probeHits[id] ?? 0) + 1;
      },
      configured: (i, at) => {
        if (!Number.isNaN(this.configuredAt[i])) return;
        this.configuredAt[i] = at;
        this.configured++;
      },
      response: (type, bytes) => {
        const r = this.responses[type] ?? { count: 0, bytes: 0 };
        r.count++;
        r.bytes += bytes;
        this.responses[type] = r;
      },
      calling: (i) => {
        if (this.isDown[i]) {
          this.isDown[i] = 0;
          this.down--;
        }
      },
      ended: (i, code, details) => {
        this.endings++;
        if (!this.isDown[i]) {
          this.isDown[i] = 1;
          this.down++;
        }
        if (code === UNIMPLEMENTED) this.onFatal(code, details);
      },
    };
    const ctx: StreamContext = {
      book: this.book,
      observe,
      closing: () => this.closing,
      channel: (i) => this.channelFor(i),
      nodeId: (i) => `fleet-${cfg.firstStream + i}`,
      vhds: cfg.vhds ?? false,
      backoffMs: (attempt) => envoyBackoffMs(attempt),
    };
    for (let i = 0; i < cfg.count; i++) {
      const s = cfg.mode === 'delta' ? new DeltaEnvoy(i, ctx) : new SotwEnvoy(i, ctx);
      this.streams.push(s);
    }
  }

  /** Opens every stream, paced at `connectRatePerS` (all at once when 0). */
  start(): void {
    const rate = this.cfg.connectRatePerS;
    if (rate <= 0) {
      for (const s of this.streams) this.openFirst(s);
      return;
    }
    let credit = 0;
    let last = performance.now();
    const tick = () => {
      const t = performance.now();
      credit += ((t - last) * rate) / 1000;
      last = t;
      while (credit >= 1 && this.opened < this.streams.length) {
        this.openFirst(this.streams[this.opened] as SimStream);
        credit--;
      }
      if (this.opened < this.streams.length) this.pacer = setTimeout(tick, PACE_TICK_MS);
    };
    credit = 1;
    tick();
  }

  arm(p: Probe): void {
    this.book.arm(p);
    if (!this.probes.has(p.id)) {
      this.probes.set(p.id, new Float64Array(this.cfg.count).fill(Number.NaN));
      this.probeHits[p.id] = 0;
    }
  }

  probeReport(id: string): ProbeReport {
    const arr = this.probes.get(id);
    return { acks: arr ? [...arr].map((v) => (Number.isNaN(v) ? null : v)) : [] };
  }

  ttfc(): TtfcReport {
    const nul = (v: number) => (Number.isNaN(v) ? null : v);
    return { openedAt: [...this.openedAt].map(nul), configuredAt: [...this.configuredAt].map(nul) };
  }

  /** Remembers what every stream holds, for {@link compare} after a reconnect. */
  mark(): number {
    this.marked = this.streams.map((s) => s.holdings());
    return this.marked.length;
  }

  /** Finds streams that now hold content first seen before what they held at {@link mark}. */
  compare(): RegressionReport {
    const report: RegressionReport = {
      streams: this.streams.length,
      compared: 0,
      regressions: 0,
      examples: [],
    };
    const before = this.marked ?? [];
    this.streams.forEach((s, i) => {
      const now = s.holdings();
      for (const [key, rank] of before[i] ?? []) {
        const after = now.get(key);
        if (after === undefined) continue;
        report.compared++;
        if (after < rank) {
          report.regressions++;
          if (report.examples.length < 5)
            report.examples.push(`fleet-${this.cfg.firstStream + i} ${key}: rank ${rank} → ${after}`);
        }
      }
    });
    return report;
  }

  progress(): Progress {
    return {
      opened: this.opened,
      configured: this.configured,
      down: this.down,
      endings: this.endings,
      probeHits: { ...this.probeHits },
      responses: structuredClone(this.responses),
      versionsSeen: this.book.size,
    };
  }

  close(): void {
    this.closing = true;
    if (this.pacer) clearTimeout(this.pacer);
    for (const s of this.streams) s.close();
    for (const c of this.channels) c.close();
  }

  private openFirst(s: SimStream): void {
    this.openedAt[s.index] = performance.timeOrigin + performance.now();
    this.opened++;
    s.open();
  }

  private channelFor(i: number): H2Channel {
    const n = Math.floor(i / this.cfg.streamsPerChannel);
    let c = this.channels[n];
    if (!c) {
      c = new H2Channel(`${this.cfg.host}:${this.cfg.port}`, fleetAuthHeaders());
      this.channels[n] = c;
    }
    return c;
  }
}
