/**
 * The checkpoint flags of `attache compile` and `attache dev`, with their defaults in one place.
 * Defaults: a checkpoint every 10,000 events or 5 minutes (whichever comes first, and only when
 * something changed), the newest 8 kept — start-up then folds at most about 10,000 events, and
 * replay reaches about the last 80,000 events from a checkpoint.
 */
import { type FlagValue, flag } from '../../shared/runtime/config.ts';
import type { CheckpointPolicy } from './runner-checkpoint.ts';

export const CHECKPOINT_FLAGS = {
  'checkpoint-every-events': {
    type: 'number',
    default: 10_000,
    description:
      'write a compiler checkpoint (folded state, in Redis) after this many new events (0: not by count)',
  },
  'checkpoint-every-seconds': {
    type: 'number',
    default: 300,
    description: 'write a compiler checkpoint this often when anything changed (0: not by time)',
  },
  'checkpoint-keep': {
    type: 'number',
    default: 8,
    description:
      'compiler checkpoints kept (start-up and replay fold the log from the nearest); 0 = no checkpoints',
  },
} as const;

export function checkpointPolicyFromFlags(flags: Record<string, FlagValue>): CheckpointPolicy {
  return {
    everyEvents: Math.max(0, flag.num(flags, 'checkpoint-every-events')),
    everyMs: Math.max(0, flag.num(flags, 'checkpoint-every-seconds')) * 1000,
    keep: Math.max(0, Math.floor(flag.num(flags, 'checkpoint-keep'))),
  };
}

/** The policy the flag defaults give (`attache dev` and tests that set none). */
export const DEFAULT_CHECKPOINT_POLICY: CheckpointPolicy = checkpointPolicyFromFlags({
  'checkpoint-every-events': CHECKPOINT_FLAGS['checkpoint-every-events'].default,
  'checkpoint-every-seconds': CHECKPOINT_FLAGS['checkpoint-every-seconds'].default,
  'checkpoint-keep': CHECKPOINT_FLAGS['checkpoint-keep'].default,
});
