/**
 * client-node's Watch with the liveness that 1.x leaves out (its own timeout signal is built and
 * then discarded), for the ListWatch of kind-watch.ts:
 *
 * - every watch request asks the server to end it after `timeoutSeconds` (client-go's reflector
 *   picks 5–10 min at random per request, so a fleet of watches does not reconnect in step) and
 *   allows bookmarks, so the server also talks on quiet watches and the resourceVersion to resume
 *   from stays recent;
 * - a client-side idle timer: when nothing at all (event, bookmark, or the server's close) has
 *   arrived for `timeoutSeconds` + `graceMs`, the connection is presumed dead — the server would
 *   have closed it by then — and the watch ends as if closed normally, so the ListWatch resumes
 *   from its last resourceVersion (a 410 then relists). Without it a silently dead connection
 *   (a dropped NAT entry, a half-open TCP socket) is never noticed.
 */
import { type KubeConfig, Watch } from '@kubernetes/client-node';

export interface LiveWatchOptions {
  /** Server-side watch timeout, chosen per request in [min, 2·min) seconds (default min 300). */
  minTimeoutSeconds?: number;
  /** Slack after the requested timeout before a silent watch counts as dead (default 30 s). */
  graceMs?: number;
  /** Called for every line the server sends (events and bookmarks). */
  onActivity?: () => void;
}

type WatchArgs = Parameters<Watch['watch']>;

export class LiveWatch extends Watch {
  /** Watch requests ended by the idle timer (tests and metrics read it). */
  idleTimeouts = 0;

  constructor(
    config: KubeConfig,
    private readonly opts: LiveWatchOptions = {},
  ) {
    super(config);
  }

  override async watch(
    path: WatchArgs[0],
    queryParams: WatchArgs[1],
    callback: WatchArgs[2],
    done: WatchArgs[3],
  ): Promise<AbortController> {
    const min = this.opts.minTimeoutSeconds ?? 300;
    const timeoutSeconds = Math.floor(min * (1 + Math.random()));
    const idleMs = timeoutSeconds * 1000 + (this.opts.graceMs ?? 30_000);
    let finished = false;
    let controller: AbortController | undefined;
    let timer: NodeJS.Timeout | undefined;
    const finish = (err: unknown) => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      done(err);
    };
    const arm = () => {
      clearTimeout(timer);
      timer = setTimeout(() => {
        this.idleTimeouts++;
        finish(null); // first: aborting makes the request report an AbortError
        controller?.abort();
      }, idleMs);
      timer.unref();
    };
    arm();
    controller = await super.watch(
      path,
      { ...queryParams, timeoutSeconds, allowWatchBookmarks: true },
      (phase, obj, raw) => {
        if (finished) return;
        arm();
        this.opts.onActivity?.();
        callback(phase, obj, raw);
      },
      finish,
    );
    if (finished) controller.abort();
    return controller;
  }
}
