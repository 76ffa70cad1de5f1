/**
 * Runs one async job at a time and coalesces requests. Every request made while a run is in
 * progress is served by a single further run that starts after it, so bursts of triggers (file
 * events, timer ticks) cost at most one extra run, and a caller can wait for "a run that saw my
 * request".
 */
export class SerialTask {
  private requested = 0;
  private started = 0;
  private pumping?: Promise<void>;
  private waiters: { gen: number; resolve: () => void; reject: (err: unknown) => void }[] = [];

  constructor(private readonly job: () => Promise<void>) {}

  /** Resolves once a run that started after this call has finished; rejects with that run's error. */
  request(): Promise<void> {
    const gen = ++this.requested;
    const done = new Promise<void>((resolve, reject) => this.waiters.push({ gen, resolve, reject }));
    if (!this.pumping) this.pumping = this.pump().finally(() => (this.pumping = undefined));
    return done;
  }

  /** Fire-and-forget request: the job reports its own errors. */
  trigger(): void {
    this.request().catch(() => {});
  }

  /** Resolves when no run is in progress (after the current one, if any, and its follow-ups). */
  async settled(): Promise<void> {
    while (this.pumping) await this.pumping;
  }

  private async pump(): Promise<void> {
    while (this.started < this.requested) {
      const gen = this.requested;
      this.started = gen;
      let failure: { err: unknown } | undefined;
      try {
        await this.job();
      } catch (err) {
        failure = { err };
      }
      const served = this.waiters.filter((w) => w.gen <= gen);
      this.waiters = this.waiters.filter((w) => w.gen > gen);
      for (const w of served) {
        if (failure) w.reject(failure.err);
        else w.resolve();
      }
    }
  }
}
