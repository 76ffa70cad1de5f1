/**
 * Resolves after `ms`, or as soon as `signal` aborts, whichever comes first; never rejects, so a
 * retry loop can wait between attempts and then check the signal itself. A signal that is already
 * aborted does not shorten the wait.
 */
export function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener('abort', done, { once: true });
  });
}
