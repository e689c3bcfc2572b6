import { sql } from 'kysely';
import PgBoss from 'pg-boss';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { SyncAlreadyRunningError } from '../service/scheduler.ts';
import { listBookingPayouts } from '../store/booking.repository.ts';
import { finishSyncRun, startSyncRun } from '../store/sync-runs.repository.ts';
import { withSyncLease } from '../sync/lease.ts';
import { syncIntegration } from '../sync/sync.service.ts';
import { listFailedJobs } from './failed-jobs.ts';
import { QueueRunner, type QueueRunnerOptions } from './queue-runner.ts';
import { QUEUES } from './queues.ts';

// The pg-boss runner in this process, against the simulators: the schedule tick, the
// sync → post jobs hand-over, runNow, retries and failed jobs kept by the queue, and
// shutdown (drain, then abort) with another worker settling what was cut off.

const onPostgres = process.env.KS_TEST_DB === 'postgres';
const silent = pino({ level: 'silent' });

let fx: IntegrationFixture | undefined;
const runners: QueueRunner[] = [];
afterEach(async () => {
  await Promise.all(runners.splice(0).map((r) => r.stop({ drainMs: 0 })));
  await fx?.close();
  fx = undefined;
});

async function fixture(days = 3): Promise<IntegrationFixture> {
  fx = await openIntegrationFixture({ merchant: { seed: 23, days, startDate: '2026-06-01' } });
  return fx;
}

function runner(f: IntegrationFixture, extra: Partial<QueueRunnerOptions> = {}): QueueRunner {
  const r = new QueueRunner({
    connectionString: f.store.target,
    deps: f.deps(),
    logger: silent,
    tickSeconds: 1,
    pollingIntervalSeconds: 0.5,
    maintenanceIntervalSeconds: 1,
    statusRefreshMs: 300,
    ...extra,
    policies: {
      sync: { retryDelay: 1, expireInSeconds: 20 },
      post: { retryDelay: 1, expireInSeconds: 10 },
      ...extra.policies,
    },
  });
  runners.push(r);
  return r;
}

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

async function jobs(f: IntegrationFixture, queue: string) {
  const { rows } = await sql<{ state: string; retry_count: number; output: Record<string, unknown> | null }>`
    select state::text as state, retry_count, output from pgboss.job where name = ${queue}
    union all
    select state::text, retry_count, output from pgboss.archive where name = ${queue}`.execute(f.store.db);
  return rows;
}

async function allBooked(f: IntegrationFixture): Promise<true | undefined> {
  const payouts = await listBookingPayouts(f.store.db, { integrationId: f.integrationId });
  return payouts.length === f.merchant.payouts.length && payouts.every((p) => p.state === 'booked')
    ? true
    : undefined;
}

function expectOneVoucherPerPayout(f: IntegrationFixture): void {
  const byRef = f.vouchersByReference();
  for (const p of f.merchant.payouts)
    expect(byRef.get(p.payment_reference), p.payment_reference).toHaveLength(1);
  expect(f.spiris.vouchers).toHaveLength(f.merchant.payouts.length);
}

describe.skipIf(!onPostgres)('QueueRunner (skipped on SQLite: pg-boss needs PostgreSQL)', () => {
  it('a tick enqueues the due sync; it plans, and one post job per payout books each exactly once', async () => {
    const f = await fixture();
    const r = runner(f);
    await r.start();
    await waitFor('every payout booked', () => allBooked(f));
    expectOneVoucherPerPayout(f);
    expect(f.spiris.attachments).toHaveLength(f.merchant.payouts.length);
    // Post jobs race for the integration, yet voucher numbers follow the payout dates.
    const byRef = f.vouchersByReference();
    const numbers = f.merchant.payouts.map((p) => byRef.get(p.payment_reference)![0]!.number);
    expect(numbers).toEqual([...numbers].sort((a, b) => a - b));

    await waitFor('post jobs completed', async () => {
      const posts = await jobs(f, QUEUES.post);
      return posts.length === f.merchant.payouts.length && posts.every((j) => j.state === 'completed')
        ? true
        : undefined;
    });
    const syncs = await jobs(f, QUEUES.sync);
    expect(syncs).toHaveLength(1);
    expect(syncs[0]).toMatchObject({ state: 'completed', output: { outcome: 'synced', ready: 3 } });

    // Synced within the interval: the next ticks leave it alone, and the status says when it is due.
    await new Promise((res) => setTimeout(res, 1_500));
    expect(await jobs(f, QUEUES.sync)).toHaveLength(1);
    const status = await waitFor('the status to show the run', async () => {
      const s = r.status().integrations.find((i) => i.id === f.integrationId);
      return s?.lastOutcome === 'succeeded' ? s : undefined;
    });
    expect(status).toMatchObject({ running: false, consecutiveFailures: 0 });
    expect(Date.parse(status.nextRunAt!) - Date.now()).toBeGreaterThan(55 * 60_000);
  });

  it('a post job that finds its integration busy waits its turn without using up its retries', async () => {
    const f = await fixture();
    await syncIntegration(f.deps(), { integrationId: f.integrationId, deferPosting: true });
    const ready = (await listBookingPayouts(f.store.db, { integrationId: f.integrationId })).filter(
      (p) => p.state === 'ready',
    );
    expect(ready).toHaveLength(f.merchant.payouts.length);
    // No retries at all: a busy lease counted as a failure would fail these jobs for good.
    const r = runner(f, { leaseWaitMs: 200, policies: { post: { retryLimit: 0, expireInSeconds: 10 } } });
    await r.start();

    let release = () => {};
    const holding = withSyncLease(f.deps(), await f.integration(), 'a long catch-up', async () => {
      await new Promise<void>((res) => {
        release = res;
      });
    });
    const boss = new PgBoss({ connectionString: f.store.target });
    await boss.start();
    try {
      for (const p of ready) {
        await boss.send(
          QUEUES.post,
          { integrationId: f.integrationId, payoutId: p.id, paymentReference: p.paymentReference },
          { singletonKey: p.id, retryLimit: 0 },
        );
      }
      await waitFor('the busy post jobs to be put back', async () => {
        const requeued = (await jobs(f, QUEUES.post)).filter((j) => j.output?.outcome === 'requeued');
        return requeued.length >= ready.length ? true : undefined;
      });
      expect(f.spiris.vouchers).toHaveLength(0);
    } finally {
      release();
      await holding;
      await boss.stop({ graceful: false });
    }

    await waitFor('every payout booked once the integration is free', () => allBooked(f), 30_000);
    expectOneVoucherPerPayout(f);
    expect(await listFailedJobs(f.store)).toEqual([]);
  });

  it('runNow syncs at once, refuses a second run while the first is queued or running, and resolves with the summary', async () => {
    const f = await fixture();
    // Synced a moment ago (up to the day before the first payout): not due, so only runNow starts a sync.
    const run = await startSyncRun(f.store.db, { integrationId: f.integrationId, kind: 'sync' });
    await finishSyncRun(f.store.db, run, {
      status: 'succeeded',
      summary: { window: { since: '2026-05-01', until: '2026-05-31' }, bookFrom: '2026-06-01' },
    });
    // The first run takes a while (one slow Spiris answer), so the second surely meets it.
    f.spiris.injectFault({ kind: 'slow', method: 'GET', pathIncludes: '/v2/', delayMs: 1_500 });
    const r = runner(f, { tickSeconds: 3600 });
    await r.start();
    const first = r.runNow(f.integrationId);
    await expect(
      waitFor('the job', async () => ((await jobs(f, QUEUES.sync)).length ? true : undefined)),
    ).resolves.toBe(true);
    await expect(r.runNow(f.integrationId)).rejects.toBeInstanceOf(SyncAlreadyRunningError);
    await expect(first).resolves.toMatchObject({ needsAttention: 0, error: null });
    await expect(r.runNow('no-such-integration')).rejects.toThrow(/does not exist/);
    await waitFor('every payout booked', () => allBooked(f));
    expectOneVoucherPerPayout(f);
  });

  it('retries belong to the queue: a failing sync is retried, then kept as failed with its reason', async () => {
    const f = await fixture();
    // Every Spiris read fails: the sync cannot load the chart of accounts.
    f.spiris.injectFault({ kind: '503', method: 'GET', pathIncludes: '/v2/', times: 10_000 });
    const r = runner(f, { policies: { sync: { retryLimit: 1, retryDelay: 1, retryBackoff: false } } });
    await r.start();
    const [failed] = await waitFor('the failed job', async () => {
      const list = await listFailedJobs(f.store);
      return list.length > 0 ? list : undefined;
    });
    expect(failed).toMatchObject({
      queue: 'sync',
      integrationId: f.integrationId,
      integrationName: (await f.integration()).name,
      attempts: 2,
      live: true,
    });
    expect(failed!.error).toMatch(/503|unavailable/i);
    expect(await listFailedJobs(f.store, { queue: 'post' })).toEqual([]);
    expect(await listFailedJobs(f.store, { integrationId: 'someone-else' })).toEqual([]);

    // Spiris is back: the failure stays listed, "sync now" books everything.
    f.spiris.clearFaults();
    await r.runNow(f.integrationId);
    await waitFor('every payout booked', () => allBooked(f));
    expectOneVoucherPerPayout(f);
  });

  it('stop drains: the running post job finishes, nothing new starts, nothing fails', async () => {
    const f = await fixture();
    f.spiris.injectFault({ kind: 'slow', method: 'POST', pathIncludes: '/v2/vouchers', delayMs: 1_500 });
    const r = runner(f, { postConcurrency: 1 });
    await r.start();
    await waitFor('a post job running', async () =>
      (await jobs(f, QUEUES.post)).some((j) => j.state === 'active') ? true : undefined,
    );
    await r.stop({ drainMs: 10_000 });
    const posts = await jobs(f, QUEUES.post);
    expect(posts.filter((j) => j.state === 'completed')).toHaveLength(1);
    expect(posts.filter((j) => j.state === 'created')).toHaveLength(f.merchant.payouts.length - 1);
    expect(posts.filter((j) => j.state === 'failed' || j.state === 'retry')).toEqual([]);

    // The next worker picks up the rest.
    await runner(f).start();
    await waitFor('every payout booked', () => allBooked(f));
    expectOneVoucherPerPayout(f);
  });

  it('after the drain timeout a POST in flight is aborted; another worker settles it by look-up, not by posting again', async () => {
    const f = await fixture(1);
    // Spiris saves the voucher, then answers only after 4 s: the shutdown cannot wait that long.
    f.spiris.injectFault({ kind: 'slow', method: 'POST', pathIncludes: '/v2/vouchers', delayMs: 4_000 });
    const r = runner(f);
    await r.start();
    await waitFor('the voucher saved in Spiris', async () =>
      f.spiris.vouchers.length > 0 ? true : undefined,
    );
    await r.stop({ drainMs: 200 });
    const [payout] = await listBookingPayouts(f.store.db, { integrationId: f.integrationId });
    expect(payout!.state).toBe('posting');
    expect((await jobs(f, QUEUES.post)).map((j) => j.state)).toEqual(['retry']);

    await runner(f).start();
    await waitFor('the payout booked', () => allBooked(f));
    expectOneVoucherPerPayout(f);
    const booked = await f.store.db
      .selectFrom('events')
      .select('data_json')
      .where('kind', '=', 'payout.booked')
      .execute();
    expect(booked.map((e) => JSON.parse(e.data_json ?? '{}').viaLookup)).toEqual([true]);
  });
});
