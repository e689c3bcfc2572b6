import type { SchedulerLogger, SyncSummary } from '../service/scheduler.ts';
import { listBookingPayouts } from '../store/booking.repository.ts';
import type { withSyncLease } from '../sync/lease.ts';
import { postPayout, syncIntegration } from '../sync/sync.service.ts';
import { type SyncDeps, SyncRefusedError } from '../sync/sync-context.ts';
import { dueIntegrations } from './queue.repository.ts';
import type { PostJobData, ScheduleJobData, SyncJobData } from './queues.ts';

// The three tasks, as plain functions of (payload, helpers). They know nothing of
// pg-boss: the runner hands them a signal, the engine's dependencies and a way to
// enqueue, and turns what they return or throw into a completed or failed job. Nothing
// here loops on failure; a throw is the queue's cue to retry later.

export interface TaskHelpers {
  deps: SyncDeps;
  /** Aborted on shutdown (after the drain timeout) and shortly before the job expires. */
  signal: AbortSignal;
  logger: SchedulerLogger;
  /** Holds an integration's lease, waiting a little for it; see lease-wait.ts. */
  withLease: typeof withSyncLease;
  /** A payout or integration that already has a waiting job is not enqueued twice. */
  enqueueSyncs(jobs: SyncJobData[]): Promise<void>;
  enqueuePosts(jobs: PostJobData[]): Promise<void>;
  queueSchema: string;
  intervalMs: number;
}

export type Task<P, R> = (payload: P, helpers: TaskHelpers) => Promise<R>;

/** Refused for a reason retrying cannot fix by itself (off, paused, not connected): done, not failed. */
export interface Refused {
  outcome: 'refused';
  reason: string;
}

export interface ScheduleResult {
  outcome: 'scheduled';
  /** Integrations due and without a sync job yet, each given one now. */
  enqueued: number;
}

export const scheduleTask: Task<ScheduleJobData, ScheduleResult> = async (_payload, h) => {
  const due = await dueIntegrations(h.deps.store.db, { schema: h.queueSchema, intervalMs: h.intervalMs });
  if (due.length > 0) {
    await h.enqueueSyncs(due.map((i) => ({ integrationId: i.id, trigger: 'schedule' })));
    h.logger.info({ enqueued: due.length }, 'syncs enqueued');
  }
  return { outcome: 'scheduled', enqueued: due.length };
};

export interface SyncTaskResult {
  outcome: 'synced';
  summary: SyncSummary;
  /** Ready payouts handed to post jobs (all of the integration's, not only this run's). */
  ready: number;
}

export const syncTask: Task<SyncJobData, SyncTaskResult | Refused> = async (payload, h) => {
  let result: Awaited<ReturnType<typeof syncIntegration>>;
  try {
    result = await syncIntegration(h.deps, {
      integrationId: payload.integrationId,
      signal: h.signal,
      deferPosting: true,
      withLease: h.withLease,
    });
  } catch (err) {
    if (err instanceof SyncRefusedError) return { outcome: 'refused', reason: err.message };
    throw err;
  }
  // Every ready payout, also those a failed earlier job left behind: the post queue
  // keeps one waiting job per payout, so asking twice costs nothing.
  const ready = await listBookingPayouts(h.deps.store.db, {
    integrationId: payload.integrationId,
    states: ['ready'],
  });
  await h.enqueuePosts(
    ready.map((p) => ({
      integrationId: payload.integrationId,
      payoutId: p.id,
      paymentReference: p.paymentReference,
    })),
  );
  // The run stopped early (interrupted): the queue runs it again.
  if (result.error) throw new Error(result.error);
  return {
    outcome: 'synced',
    summary: {
      booked: result.booked.length,
      needsAttention: result.needsAttention.length,
      skipped: result.skipped.length,
      failed: result.failed.length,
      error: null,
    },
    ready: ready.length,
  };
};

export interface PostTaskResult {
  outcome: 'booked' | 'rejected' | 'gave_up' | 'conflict' | 'not_ready' | 'missing';
  state: string | null;
  voucherNumber: string | null;
  /** Payment references this job booked (its own, and older ready ones it went first with). */
  booked: string[];
}

/** The voucher's fate is not known yet (no answer, nothing saved): try again later. */
export class PostNotSettledError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PostNotSettledError';
  }
}

export const postTask: Task<PostJobData, PostTaskResult | Refused> = async (payload, h) => {
  let r: Awaited<ReturnType<typeof postPayout>>;
  try {
    r = await postPayout(h.deps, {
      integrationId: payload.integrationId,
      payoutId: payload.payoutId,
      signal: h.signal,
      withLease: h.withLease,
    });
  } catch (err) {
    if (err instanceof SyncRefusedError) return { outcome: 'refused', reason: err.message };
    throw err;
  }
  if (r.outcome === 'aborted' || r.outcome === 'unresolved') {
    throw new PostNotSettledError(
      `Payout ${payload.paymentReference}: ${r.error ?? r.outcome}; it is tried again (safe: the voucher is looked up first).`,
    );
  }
  return {
    outcome: r.outcome,
    state: r.payout?.state ?? null,
    voucherNumber: r.payout?.voucherNumber ?? null,
    booked: r.booked,
  };
};
