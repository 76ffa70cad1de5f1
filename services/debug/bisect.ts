/**
 * `attache bisect`: the first event after which a request's answer changed. The answer at a
 * point is where the request goes (explain.ts `answerOf`); "good" is either "the expected cluster
 * receives it" or "the answer is what it was at the good point". Binary search over event
 * sequences between a good and a bad point, rebuilding the snapshot at each probe, so it needs
 * about log2(events) compiles. Each rebuild starts from the compiler checkpoint nearest at or
 * before its probe when the history has checkpoints (log-history.ts `useCheckpoint`), so a probe
 * folds only the events after that checkpoint, not the log from its start.
 */
import type { LoggedEvent } from '../../shared/events/event-log.ts';
import { answerOf, explainRequest } from './explain.ts';
import type { LogHistory } from './log-history.ts';
import type { HttpRequest } from './route-match.ts';

export interface BisectOptions {
  request: HttpRequest;
  listener: string;
  /** Good when this cluster receives (some of) the request; else good = the answer at `good`. */
  expectCluster?: string;
  good: number;
  bad: number;
}

export interface BisectResult {
  /** Last good sequence and the answer there. */
  good: number;
  goodAnswer: string;
  /** First bad sequence (the culprit event's) and the answer there. */
  bad: number;
  badAnswer: string;
  culprit?: LoggedEvent;
  /** Sequences probed, in order. */
  probes: number[];
  /** Per probe, the checkpoint its rebuild started from (null: the start of the log). */
  starts: (number | null)[];
  /** Events folded over all probes (after their checkpoints), and the wall time of the search. */
  eventsFolded: number;
  ms: number;
}

export class BisectError extends Error {}

export async function bisect(history: LogHistory, o: BisectOptions): Promise<BisectResult> {
  const started = performance.now();
  const probes: number[] = [];
  const starts: (number | null)[] = [];
  let eventsFolded = 0;
  const firstSeq = history.events[0]?.seq ?? 1;
  const answerAt = async (seq: number) => {
    const { checkpoint } = await history.useCheckpoint(seq);
    probes.push(seq);
    starts.push(checkpoint);
    eventsFolded += history.between(checkpoint ?? firstSeq - 1, seq).length;
    return answerOf(explainRequest(history.viewAt(seq), o.request, o.listener));
  };
  const goodAnswer = await answerAt(o.good);
  const isGood = (answer: string) =>
    o.expectCluster !== undefined
      ? answer.split(', ').some((t) => t.split(' ')[0] === o.expectCluster)
      : answer === goodAnswer;
  if (!isGood(goodAnswer))
    throw new BisectError(
      `at the good point (seq ${o.good}) the request goes to ${goodAnswer}, not ${o.expectCluster}; pass --good with a point (a time, a version or a sequence) where it went to ${o.expectCluster}`,
    );
  const badAnswer = await answerAt(o.bad);
  if (isGood(badAnswer))
    throw new BisectError(
      `at the bad point (seq ${o.bad}) the answer is still good (${badAnswer}); nothing to find`,
    );
  let lo = o.good;
  let hi = o.bad;
  let hiAnswer = badAnswer;
  let loAnswer = goodAnswer;
  while (hi - lo > 1) {
    const mid = Math.floor((lo + hi) / 2);
    const a = await answerAt(mid);
    if (isGood(a)) {
      lo = mid;
      loAnswer = a;
    } else {
      hi = mid;
      hiAnswer = a;
    }
  }
  const culprit = history.events.find((e) => e.seq === hi);
  return {
    good: lo,
    goodAnswer: loAnswer,
    bad: hi,
    badAnswer: hiAnswer,
    ...(culprit ? { culprit } : {}),
    probes,
    starts,
    eventsFolded,
    ms: Math.round(performance.now() - started),
  };
}
