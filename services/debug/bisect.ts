/**
 * `attache bisect`: the first event after which a request's answer changed. The answer at a
 * point is where the request goes (explain.ts `answerOf`); "good" is either "the expected cluster
 * receives it" or "the answer is what it was at the good point". Binary search over event
 * sequences between a good and a bad point, rebuilding the snapshot at each probe from the log,
 * so it needs about log2(events) compiles.
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
}

export class BisectError extends Error {}

export function bisect(history: LogHistory, o: BisectOptions): BisectResult {
  const probes: number[] = [];
  const answerAt = (seq: number) => {
    probes.push(seq);
    return answerOf(explainRequest(history.viewAt(seq), o.request, o.listener));
  };
  const goodAnswer = answerAt(o.good);
  const isGood = (answer: string) =>
    o.expectCluster !== undefined
      ? answer.split(', ').some((t) => t.split(' ')[0] === o.expectCluster)
      : answer === goodAnswer;
  if (!isGood(goodAnswer))
    throw new BisectError(
      `at the good point (seq ${o.good}) the request already goes to ${goodAnswer}, not ${o.expectCluster}; pass an earlier --good`,
    );
  const badAnswer = answerAt(o.bad);
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
    const a = answerAt(mid);
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
  };
}
