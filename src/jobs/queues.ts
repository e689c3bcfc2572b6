import type { RunTrigger } from '../service/scheduler.ts';

// The queues, their payloads and their retry policy, as data. pg-boss owns retries: a
// task that throws is failed, and the queue runs it again after its backoff until the
// retry limit; a job past its expiry (its worker died) is failed the same way by the
// maintenance of any live worker, which is how another worker takes it over.

export const QUEUES = Object.freeze({
  /** A tick: enqueues a sync for every integration that is due. One per tick fleet-wide. */
  schedule: 'klarna-spiris-schedule',
  /** Fetch, settle what is in flight, plan: one integration. Then one post job per ready payout. */
  sync: 'klarna-spiris-sync',
  /** Book one payout exactly once, and attach its report. */
  post: 'klarna-spiris-post',
});

export type QueueKey = keyof typeof QUEUES;
export const QUEUE_KEYS: readonly QueueKey[] = ['schedule', 'sync', 'post'];

export function queueKeyOf(name: string): QueueKey | undefined {
  return QUEUE_KEYS.find((k) => QUEUES[k] === name);
}

export type ScheduleJobData = Record<string, never>;

export interface SyncJobData {
  integrationId: string;
  trigger: RunTrigger;
}

export interface PostJobData {
  integrationId: string;
  payoutId: string;
  /** For people reading the queue; the job works from payoutId. */
  paymentReference: string;
}

export interface QueuePolicy {
  /** Runs after the first, each after a failure or an expiry. */
  readonly retryLimit: number;
  /** Seconds before the first retry; with backoff it doubles each time (pg-boss adds up to 100 % jitter). */
  readonly retryDelay: number;
  readonly retryBackoff: boolean;
  /**
   * A job running longer is failed (and retried elsewhere). It is also how long a job of
   * a killed worker waits before another takes it over: pg-boss 10 has no heartbeat.
   */
  readonly expireInSeconds: number;
}

export type QueuePolicies = Readonly<Record<QueueKey, QueuePolicy>>;

export const DEFAULT_QUEUE_POLICIES: QueuePolicies = Object.freeze({
  // A missed tick is simply the next one; never retried.
  schedule: { retryLimit: 0, retryDelay: 0, retryBackoff: false, expireInSeconds: 60 },
  // 30 s, 1 min, 2 min, 4 min, 8 min (each up to twice that with jitter): an outage of
  // Klarna or Spiris of a quarter of an hour is ridden out before a job counts as failed.
  // A big merchant's first sync (a million lines) takes minutes, hence the long expiry.
  sync: { retryLimit: 5, retryDelay: 30, retryBackoff: true, expireInSeconds: 30 * 60 },
  // 15 s doubling to about an hour; a post job holds one voucher, so it expires fast and
  // a killed worker's voucher is settled by look-up within minutes.
  post: { retryLimit: 8, retryDelay: 15, retryBackoff: true, expireInSeconds: 5 * 60 },
});

/** Job options that carry a queue's policy, so each job row shows what it was given. */
export function jobPolicy(p: QueuePolicy) {
  return {
    retryLimit: p.retryLimit,
    retryDelay: p.retryDelay,
    retryBackoff: p.retryBackoff,
    expireInSeconds: p.expireInSeconds,
  };
}
