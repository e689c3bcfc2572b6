import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import {
  releaseSyncLease,
  renewSyncLease,
  type SyncLease,
  tryAcquireSyncLease,
} from '../store/booking.repository.ts';
import { clock, type SyncDeps, SyncRefusedError } from './sync-context.ts';

export const DEFAULT_LEASE_TTL_MS = 5 * 60_000;

/** A held lease; `lost` turns true when a renewal finds someone else holding it. */
export interface HeldLease {
  readonly holder: string;
  readonly lost: boolean;
  /** Throws when the lease was lost, so no voucher is posted without it. */
  check(): void;
}

/**
 * Runs `fn` while holding the integration's sync lease, so no two syncs (in this
 * process, another process or another machine sharing the database) post for the same
 * books at once. The lease is renewed while `fn` runs and given back afterwards; one
 * left behind by a killed process expires, or is taken over at once when that process
 * ran on this host and is gone.
 */
export async function withSyncLease<T>(
  deps: SyncDeps,
  integration: { id: string; name: string },
  purpose: string,
  fn: (lease: HeldLease) => Promise<T>,
): Promise<T> {
  const ttl = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const now = clock(deps);
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const { db } = deps.store;
  const expiry = () => new Date(now().getTime() + ttl).toISOString();

  let result = await tryAcquireSyncLease(db, {
    integrationId: integration.id,
    holder,
    purpose,
    expiresAt: expiry(),
    now: now().toISOString(),
  });
  if (!result.acquired && result.current && holderIsDead(result.current.holder)) {
    result = await tryAcquireSyncLease(db, {
      integrationId: integration.id,
      holder,
      purpose,
      expiresAt: expiry(),
      now: now().toISOString(),
      replaceHolder: result.current.holder,
    });
  }
  if (!result.acquired) throw new SyncRefusedError(busyMessage(integration.name, result.current));

  let lost = false;
  let renewing: Promise<void> = Promise.resolve();
  const timer = setInterval(
    () => {
      renewing = renewSyncLease(db, { integrationId: integration.id, holder, expiresAt: expiry() })
        .then((ok) => {
          if (!ok) lost = true;
        })
        .catch(() => {
          // A failed renewal is retried on the next tick; the lease lasts ttl meanwhile.
        });
    },
    Math.max(1000, Math.floor(ttl / 3)),
  );
  timer.unref();
  const lease: HeldLease = {
    holder,
    get lost() {
      return lost;
    },
    check() {
      if (lost) {
        throw new SyncRefusedError(
          `The sync lease of integration "${integration.name}" was taken over by another process; this run stops here.`,
        );
      }
    },
  };
  try {
    return await fn(lease);
  } finally {
    clearInterval(timer);
    await renewing;
    await releaseSyncLease(db, { integrationId: integration.id, holder }).catch(() => undefined);
  }
}

function busyMessage(name: string, current: SyncLease | undefined): string {
  const what = current?.purpose ?? 'sync';
  const since = current ? ` since ${current.acquiredAt}` : '';
  const who = current ? ` (${current.holder.split(':').slice(0, 2).join(', pid ')})` : '';
  return (
    `A ${what} of integration "${name}" is already running${since}${who}. ` +
    'Wait for it to finish and try again; only one sync per integration runs at a time.'
  );
}

/** True only when the holder ran on this host and its process no longer exists. */
export function holderIsDead(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
