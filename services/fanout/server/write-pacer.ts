/**
 * Paces large pushes in waves bounded by bytes in flight, so a change that every stream needs
 * (a 105 KB RouteConfiguration to 10,000 streams) reaches the first streams at once instead of
 * after every socket buffer filled, and the fan-out never holds more than the budget queued.
 *
 * Contract:
 * - A stream may start a paced write while the bytes of paced writes in flight are under the
 *   budget ({@link hasRoom}); it then adds the write's bytes ({@link started}) and returns them
 *   when the transport handed them to the socket ({@link finished}). One write may overshoot
 *   the budget; no write waits for a budget larger than itself.
 * - A stream that found no room {@link wait}s once (FIFO); it is woken ({@link PacedStream.paced})
 *   as room frees up, in arrival order, and then writes whatever is newest for it.
 * - EDS is never paced (xds-stream.ts), so an endpoint change never queues behind a route wave.
 * - The room is also what admits streams' initial pushes (initial-push-gate.ts): admission
 *   follows how fast the sockets drain, not a fixed count.
 */

export interface PacedStream {
  readonly closed: boolean;
  /** There is room again: try to write now. */
  paced(): void;
}

export class WritePacer {
  private inFlight = 0;
  private readonly waiting: PacedStream[] = [];
  private head = 0;
  private pumping = false;
  /** Called after room freed up (the initial-push gate admits then). */
  onRoom?: () => void;

  constructor(readonly budgetBytes: number) {}

  /** Bytes of paced writes handed to the transport and not yet written to the socket. */
  get bytesInFlight(): number {
    return this.inFlight;
  }

  /** Streams waiting for room. */
  get queued(): number {
    return this.waiting.length - this.head;
  }

  hasRoom(): boolean {
    return this.inFlight < this.budgetBytes;
  }

  started(bytes: number): void {
    this.inFlight += bytes;
  }

  wait(s: PacedStream): void {
    this.waiting.push(s);
  }

  finished(bytes: number): void {
    this.inFlight -= bytes;
    this.pump();
  }

  /** Wakes waiting streams while there is room; re-entrant calls fold into the running loop. */
  private pump(): void {
    if (this.pumping) return;
    this.pumping = true;
    try {
      while (this.hasRoom() && this.head < this.waiting.length) {
        const next = this.waiting[this.head++] as PacedStream;
        if (!next.closed) next.paced();
      }
      if (this.head > 1024 && this.head * 2 > this.waiting.length) {
        this.waiting.splice(0, this.head);
        this.head = 0;
      }
    } finally {
      this.pumping = false;
    }
    if (this.hasRoom()) this.onRoom?.();
  }
}
