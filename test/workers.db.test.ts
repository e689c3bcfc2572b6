import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listFailedJobs } from '../src/jobs/failed-jobs.ts';
import { QUEUES } from '../src/jobs/queues.ts';
import {
  type Fleet,
  openFleet,
  spawnWorker,
  type WorkerProcess,
  type WorkerSpawnOptions,
} from './support/fleet.ts';
import { openTestStore, type TestStore } from './support/test-store.ts';

// Three `klarna-spiris worker` processes share 200 integrations through the pg-boss
// queues on one PostgreSQL database. One of them SIGKILLs itself right after Spiris
// accepted a voucher and before the booking was written down: the worst moment, since
// only a look-up can tell that the voucher exists. Its jobs are taken over by the
// others once they expire, and every payout still ends up as exactly one voucher.

// KS_FLEET_SIZE=20 for a quick local run.
const INTEGRATIONS = Number(process.env.KS_FLEET_SIZE ?? 200);
const onPostgres = process.env.KS_TEST_DB === 'postgres';

// Short expiries so the takeover of the killed worker's jobs happens within seconds.
const RUNNER: WorkerSpawnOptions['runner'] = {
  syncConcurrency: 3,
  postConcurrency: 4,
  tickSeconds: 1,
  pollingIntervalSeconds: 0.5,
  maintenanceIntervalSeconds: 1,
  intervalMinutes: 60,
  leaseWaitMs: 3_000,
  statusRefreshMs: 60_000,
  policies: {
    sync: { expireInSeconds: 10, retryDelay: 1, retryLimit: 5 },
    post: { expireInSeconds: 4, retryDelay: 1, retryLimit: 8 },
  },
};

async function waitFor<T>(
  what: () => string,
  check: () => Promise<T | undefined>,
  timeoutMs: number,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what()}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

describe.skipIf(!onPostgres)(
  'queue workers on PostgreSQL (skipped on SQLite: pg-boss needs PostgreSQL)',
  () => {
    let store: TestStore;
    let fleet: Fleet;
    const workers: WorkerProcess[] = [];

    beforeAll(async () => {
      store = await openTestStore();
      // Tokens expire every few seconds, so the three workers refresh the one rotating
      // refresh token concurrently, all through the PostgreSQL lock.
      fleet = await openFleet(store, { integrations: INTEGRATIONS, days: 2, accessTokenLifetimeSeconds: 8 });
    });

    afterAll(async () => {
      await Promise.all(workers.map((w) => w.kill()));
      await fleet?.close();
      await store?.close();
    });

    it(`${INTEGRATIONS} integrations, 3 workers, one killed mid-POST: every payout booked exactly once`, async () => {
      const spawn = (name: string, extra: Partial<WorkerSpawnOptions> = {}) =>
        spawnWorker(store.target, fleet.secretKey, {
          name,
          runner: RUNNER,
          budgets: 'off',
          leaseTtlMs: 10_000,
          refreshMarginMs: 4_000,
          ...extra,
        });
      const expected = fleet.payouts.size;
      // The victim dies on its 10th voucher: well into the run, with other jobs in hand.
      const victim = spawn('w1', { crashAt: 'voucher-posted', crashNth: 10 });
      workers.push(victim, spawn('w2'), spawn('w3'));
      await Promise.all(workers.map((w) => w.ready));

      const died = await victim.exited;
      expect(died.signal).toBe('SIGKILL');
      const crash = victim.lines.find((l) => 'crash' in l) as { paymentReference: string } | undefined;
      expect(crash, victim.stderr()).toBeDefined();

      const booked = async () => {
        const row = await store.db
          .selectFrom('klarna_payouts')
          .select((eb) => eb.fn.countAll<string>().as('n'))
          .where('state', '=', 'booked')
          .executeTakeFirst();
        return Number(row?.n ?? 0);
      };
      const openJobs = async () => {
        const { rows } = await sql<{ n: string }>`
        select count(*) as n from pgboss.job
        where name in (${QUEUES.sync}, ${QUEUES.post}) and state < 'completed'`.execute(store.db);
        return Number(rows[0]!.n);
      };
      let progress = 'nothing yet';
      await waitFor(
        () => `every payout booked and the queues empty (${progress})`,
        async () => {
          const b = await booked();
          const o = await openJobs();
          progress = `booked ${b}/${expected}, open jobs ${o}`;
          return b === expected && o === 0 ? true : undefined;
        },
        75_000,
      );

      // Spiris: exactly one voucher per payout, none missing, none extra.
      const vouchers = fleet.vouchersByReference();
      const missing = [...fleet.payouts.keys()].filter((ref) => !vouchers.has(ref));
      const doubled = [...vouchers].filter(([, list]) => list.length !== 1).map(([ref]) => ref);
      expect(missing).toEqual([]);
      expect(doubled).toEqual([]);
      expect(fleet.spiris.vouchers).toHaveLength(expected);

      // The store: every payout booked, with the voucher Spiris has for it.
      const rows = await store.db
        .selectFrom('klarna_payouts')
        .select(['payment_reference', 'state', 'voucher_id', 'integration_id'])
        .execute();
      expect(rows).toHaveLength(expected);
      for (const r of rows) {
        expect(r.state).toBe('booked');
        expect(r.integration_id).toBe(fleet.payouts.get(r.payment_reference));
        expect(r.voucher_id).toBe(vouchers.get(r.payment_reference)![0]!.Id);
      }

      // The voucher the victim posted but never recorded was found by look-up, not posted again.
      const victimPayout = await store.db
        .selectFrom('events')
        .select(['data_json'])
        .where('kind', '=', 'payout.booked')
        .where('message', 'like', `%${crash!.paymentReference}%`)
        .execute();
      expect(victimPayout.map((e) => JSON.parse(e.data_json ?? '{}').viaLookup)).toEqual([true]);

      // The jobs it had in hand were taken over after their expiry (retried elsewhere), and
      // nothing was left failed.
      const { rows: retried } = await sql<{ n: string }>`
      select count(*) as n from pgboss.job
      where name in (${QUEUES.sync}, ${QUEUES.post}) and retry_count >= 1 and state = 'completed'`.execute(
        store.db,
      );
      expect(Number(retried[0]!.n)).toBeGreaterThanOrEqual(1);
      expect(await listFailedJobs(store)).toEqual([]);

      // Never two syncs of one integration at once: finished runs of an integration never overlap.
      const runs = await store.db
        .selectFrom('sync_runs')
        .select(['integration_id', 'started_at', 'finished_at', 'status'])
        .orderBy('integration_id')
        .orderBy('started_at')
        .execute();
      for (let i = 1; i < runs.length; i++) {
        const [a, b] = [runs[i - 1]!, runs[i]!];
        if (a.integration_id !== b.integration_id || !a.finished_at) continue;
        expect(a.finished_at <= b.started_at, `${a.integration_id} ran twice at once`).toBe(true);
      }
      // Every integration synced (a job that outlived its expiry under load may have run twice,
      // one after the other), plus the runs the victim had in hand and never finished.
      expect(new Set(runs.filter((r) => r.status === 'succeeded').map((r) => r.integration_id)).size).toBe(
        INTEGRATIONS,
      );
      expect(runs.filter((r) => r.status === 'running').length).toBeLessThanOrEqual(RUNNER.syncConcurrency!);

      // The one rotating refresh token was renewed several times by whichever worker came
      // first, under the PostgreSQL lock; a reused one would have cost the connection.
      const spirisConnection = await store.db
        .selectFrom('connections')
        .select(['secret_version', 'status'])
        .where('kind', '=', 'spiris')
        .executeTakeFirstOrThrow();
      expect(spirisConnection.secret_version).toBeGreaterThan(2);
      const reauth = await store.db
        .selectFrom('events')
        .select('id')
        .where('kind', '=', 'spiris.needs_reauthorization')
        .execute();
      expect(reauth).toEqual([]);

      // SIGTERM drains: the survivors stop cleanly.
      const stopped = await Promise.all(workers.slice(1).map((w) => w.stop()));
      expect(stopped.map((s) => s.code)).toEqual([0, 0]);
    }, 100_000);
  },
);
