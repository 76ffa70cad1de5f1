/**
 * Bounds how many streams write their initial responses at once, so a reconnect storm (thousands
 * of nodes arriving together after a fan-out restart) is served from cached bytes at a steady pace
 * instead of queueing every first response in socket buffers at the same moment.
 *
 * Contract: a stream holds at most one permit, from its first write until everything it had to
 * send at that point has been flushed; waiting streams are admitted in arrival order; a stream
 * that closes while waiting or holding gives its place back. Admission adapts to drain speed:
 * besides the permit count, a stream is admitted only while the write pacer has room (bytes in
 * flight under its budget), so streams come in as fast as the sockets take their bytes.
 */

/** What the gate needs from a stream. */
export interface GatedStream {
  readonly closed: boolean;
  /** Called when the stream was admitted after waiting: it should try to write now. */
  admitted(): void;
}

export class InitialPushGate {
  private active = 0;
  private readonly waiting: GatedStream[] = [];
  private head = 0;
  private pumping = false;

  constructor(
    readonly limit: number,
    /** Whether writes may start now (the pacer's room); admission waits while it is false. */
    private readonly hasRoom: () => boolean = () => true,
  ) {}

  /** Permits in use. */
  get inUse(): number {
    return this.active;
  }

  /** Streams queued for a permit (closed ones are skipped when reached). */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  /** Takes a permit if one is free; otherwise queues `s` and returns false. */
  tryAcquire(s: GatedStream): boolean {
    if (this.active < this.limit && this.queued === 0 && this.hasRoom()) {
      this.active++;
      return true;
    }
    this.waiting.push(s);
    return false;
  }

  /** Gives a permit back and admits the next waiting stream. */
  release(): void {
    this.active--;
    this.pump();
  }

  /** Admits waiting streams while permits and room are free (also called when room frees up). */
  pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.active < this.limit && this.head < this.waiting.length && this.hasRoom()) {
        const next = this.waiting[this.head++] as GatedStream;
        if (next.closed) continue;
        this.active++;
        next.admitted();
      }
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
  }
}
