/**
 * The bounded subset of the fault suite (pipeline-faults.ts) that `npm test`, and so CI, runs:
 * one case per failure that only the whole pipeline shows — the NATS stream leader and the Redis
 * primary killed under a running pipeline, a fan-out node killed under connected clients, the
 * compiler leader paused (fencing), and the Kubernetes ingestor leader killed (its follower takes
 * over; skipped without envtest). compiler-ha, redis-sentinel and jetstream-cluster, also part of
 * `npm test`, cover the rest of each tier's faults on their own; `npm run test:faults` runs every
 * case of the suite.
 */
import { faultSuite } from './pipeline-faults.ts';

faultSuite('fault suite (CI subset) — one kill or pause per tier that only the whole pipeline shows', [
  'compiler-leader-stop',
  'fanout-kill',
  'kube-ingestor-leader-kill',
  'nats-leader-kill',
  'redis-primary-kill',
]);
