import { sleep } from '../http/sleep.ts';
import { type HeldLease, withSyncLease } from '../sync/lease.ts';
import { SyncRefusedError } from '../sync/sync-context.ts';

/**
 * The integration's lease stayed taken for as long as the job could wait: another sync or
 * post of the same integration is running (or a crashed one's lease has not expired yet).
 * The queue retries the job later.
 */
export class LeaseBusyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseBusyError';
  }
}

/** The lease was taken over while the job held it; what it did so far stands, the queue retries the rest. */
export class LeaseLostError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'LeaseLostError';
  }
}

export function isRetryableLeaseError(err: unknown): boolean {
  return err instanceof LeaseBusyError || err instanceof LeaseLostError;
}

export interface LeaseWaitOptions {
  /** Give up (LeaseBusyError) once this long has passed. */
  waitMs: number;
  /** Between attempts; each wait is jittered ±50 % so waiters do not move in lockstep. Default 200. */
  pollMs?: number;
  signal?: AbortSignal;
  random?: () => number;
}

/**
 * `withSyncLease` that waits its turn instead of refusing at once. Jobs of one
 * integration (its sync, then a post job per payout) arrive together on different
 * workers; each holds the lease for a moment, so waiting a little beats failing and
 * being retried with backoff. Refusals other than "busy" pass through unchanged.
 */
export function waitingLease(opts: LeaseWaitOptions): typeof withSyncLease {
  const pollMs = opts.pollMs ?? 200;
  const random = opts.random ?? Math.random;
  return async (deps, integration, purpose, fn) => {
    const deadline = Date.now() + opts.waitMs;
    for (;;) {
      let held = undefined as HeldLease | undefined;
      try {
        return await withSyncLease(deps, integration, purpose, (lease) => {
          held = lease;
          return fn(lease);
        });
      } catch (err) {
        if (!(err instanceof SyncRefusedError)) throw err;
        if (held) throw held.lost ? new LeaseLostError(err.message) : err;
        const pause = pollMs * (0.5 + random());
        if (Date.now() + pause > deadline) throw new LeaseBusyError(err.message);
        await sleep(pause, opts.signal);
      }
    }
  };
}
