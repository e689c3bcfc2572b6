import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Kysely } from 'kysely';
import type { Database } from '../store/schema.ts';
import { SpirisError } from './spiris.errors.ts';

// The cross-process half of the SQLite refresh lock: a row in connection_leases, taken
// and given back with one short write each, so no database lock is held while the
// identity server is asked. Lease times use the wall clock on purpose, not a token
// source's injectable clock: two processes must agree on when a lease ran out.

export interface TokenLeaseOptions {
  /** How long a lease outlives its holder's last renewal; a dead holder's lease is free after this. */
  ttlMs?: number;
  /** How long a waiter keeps polling before giving up. Longer than ttlMs, so it outlasts a dead holder. */
  waitMs?: number;
  /** Pause between polls (jittered up to twice this). */
  pollMs?: number;
}

export const DEFAULT_TOKEN_LEASE_TTL_MS = 2 * 60_000;
export const DEFAULT_TOKEN_LEASE_WAIT_MS = DEFAULT_TOKEN_LEASE_TTL_MS + 30_000;
const DEFAULT_POLL_MS = 50;

export class SpirisTokenLeaseTimeoutError extends SpirisError {}

interface LeaseRow {
  holder: string;
  acquired_at: string;
  expires_at: string;
}

/**
 * Runs `fn` while this process holds the connection's refresh lease. The lease is
 * renewed while `fn` runs, so a slow but live refresh is never taken over, and deleted
 * afterwards; one left by a crashed process expires after `ttlMs`, or is taken over at
 * once when that process ran on this host and is gone.
 */
export async function withTokenLease<T>(
  db: Kysely<Database>,
  connectionId: string,
  options: TokenLeaseOptions,
  fn: () => Promise<T>,
): Promise<T> {
  const ttl = options.ttlMs ?? DEFAULT_TOKEN_LEASE_TTL_MS;
  const waitMs = options.waitMs ?? DEFAULT_TOKEN_LEASE_WAIT_MS;
  const pollMs = options.pollMs ?? DEFAULT_POLL_MS;
  const holder = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;
  const deadline = Date.now() + waitMs;

  for (;;) {
    const current = await tryAcquire(db, connectionId, holder, ttl);
    if (!current) break;
    if (holderIsDead(current.holder) && (await takeOver(db, connectionId, holder, ttl, current.holder)))
      break;
    if (Date.now() >= deadline) {
      const [host, pid] = current.holder.split(':');
      throw new SpirisTokenLeaseTimeoutError(
        `Another process (${host}, pid ${pid}) has been renewing the Spiris tokens of connection ${connectionId} ` +
          `since ${current.acquired_at} and still holds the refresh lease after a ${Math.round(waitMs / 1000)} s wait. ` +
          'Nothing was booked or lost; try again shortly. If that process hangs, stop it: its lease then runs out ' +
          `by ${current.expires_at} at the latest.`,
      );
    }
    await sleep(Math.min(pollMs + Math.random() * pollMs, Math.max(0, deadline - Date.now())));
  }

  let renewing: Promise<unknown> = Promise.resolve();
  const timer = setInterval(
    () => {
      // A failed renewal is retried on the next tick; the lease lasts ttl meanwhile.
      renewing = db
        .updateTable('connection_leases')
        .set({ expires_at: expiry(ttl) })
        .where('connection_id', '=', connectionId)
        .where('holder', '=', holder)
        .execute()
        .catch(() => undefined);
    },
    Math.max(250, Math.floor(ttl / 3)),
  );
  timer.unref();
  try {
    return await fn();
  } finally {
    clearInterval(timer);
    await renewing;
    // Left behind on failure, it still runs out after ttl.
    await db
      .deleteFrom('connection_leases')
      .where('connection_id', '=', connectionId)
      .where('holder', '=', holder)
      .execute()
      .catch(() => undefined);
  }
}

/** Takes the lease if it is free or expired (one atomic upsert); otherwise returns who holds it. */
async function tryAcquire(
  db: Kysely<Database>,
  connectionId: string,
  holder: string,
  ttl: number,
): Promise<LeaseRow | undefined> {
  const now = new Date().toISOString();
  const values = { holder, acquired_at: now, expires_at: expiry(ttl) };
  const result = await db
    .insertInto('connection_leases')
    .values({ connection_id: connectionId, ...values })
    .onConflict((oc) =>
      oc.column('connection_id').doUpdateSet(values).where('connection_leases.expires_at', '<', now),
    )
    .executeTakeFirst();
  if (Number(result.numInsertedOrUpdatedRows ?? 0n) === 1) return undefined;
  const row = await db
    .selectFrom('connection_leases')
    .select(['holder', 'acquired_at', 'expires_at'])
    .where('connection_id', '=', connectionId)
    .executeTakeFirst();
  // Released between the two statements: report it held, and the next poll takes it.
  return row ?? { holder: '?:?', acquired_at: now, expires_at: now };
}

async function takeOver(
  db: Kysely<Database>,
  connectionId: string,
  holder: string,
  ttl: number,
  deadHolder: string,
): Promise<boolean> {
  const result = await db
    .updateTable('connection_leases')
    .set({ holder, acquired_at: new Date().toISOString(), expires_at: expiry(ttl) })
    .where('connection_id', '=', connectionId)
    .where('holder', '=', deadHolder)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

function expiry(ttl: number): string {
  return new Date(Date.now() + ttl).toISOString();
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** True only when the holder ran on this host and its process no longer exists. */
function holderIsDead(holder: string): boolean {
  const [host, pidText] = holder.split(':');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}
