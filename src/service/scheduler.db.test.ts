import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { newId } from '../store/ids.ts';
import {
  createIntegration,
  type Integration,
  type IntegrationMode,
  updateIntegration,
} from '../store/integrations.repository.ts';
import { finishSyncRun, startSyncRun } from '../store/sync-runs.repository.ts';
import {
  countConsecutiveFailures,
  InProcessScheduler,
  loadSchedulerConfig,
  type RunReport,
  type SchedulerOptions,
  SchedulerStoppedError,
  SyncAlreadyRunningError,
  type SyncFunction,
  type SyncSummary,
} from './scheduler.ts';

// Time is vitest's fake clock (setTimeout and Date); the store is real, so every wait
// for the scheduler's own queries goes through vi.waitFor.

const MIN = 60_000;
const T0 = Date.parse('2026-03-02T08:00:00Z');
const SUMMARY: SyncSummary = { booked: 2, needsAttention: 1, skipped: 0, failed: 0 };

let store: TestStore;

interface Call {
  integrationId: string;
  signal: AbortSignal;
  resolve(s?: SyncSummary): void;
  reject(e: Error): void;
}

/** A stand-in engine: each call waits until the test settles it, unless `auto` is on. */
class FakeEngine {
  calls: Call[] = [];
  inFlight = 0;
  maxInFlight = 0;
  auto = false;
  /** When set, each call writes a sync_runs row like the real engine, with this outcome. */
  record: 'succeeded' | 'failed' | undefined;

  sync: SyncFunction = ({ integrationId, signal }) =>
    new Promise<SyncSummary>((resolve, reject) => {
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      const done = () => this.inFlight--;
      const call: Call = {
        integrationId,
        signal,
        resolve: (s = SUMMARY) => {
          done();
          resolve(s);
        },
        reject: (e) => {
          done();
          reject(e);
        },
      };
      this.calls.push(call);
      if (this.record) {
        const outcome = this.record;
        void (async () => {
          const id = await startSyncRun(store.db, { integrationId, kind: 'sync' });
          await finishSyncRun(store.db, id, {
            status: outcome,
            ...(outcome === 'failed' ? { error: 'Spiris answered 503' } : {}),
          });
          if (outcome === 'failed') call.reject(new Error('Spiris answered 503'));
          else call.resolve();
        })();
      } else if (this.auto) call.resolve();
    });

  callsFor(id: string): Call[] {
    return this.calls.filter((c) => c.integrationId === id);
  }
}

const logs: Array<{ level: string; obj: Record<string, unknown>; msg?: string }> = [];
const logger = {
  info: (obj: object, msg?: string) =>
    void logs.push({ level: 'info', obj: obj as Record<string, unknown>, msg }),
  warn: (obj: object, msg?: string) =>
    void logs.push({ level: 'warn', obj: obj as Record<string, unknown>, msg }),
  error: (obj: object, msg?: string) =>
    void logs.push({ level: 'error', obj: obj as Record<string, unknown>, msg }),
};

const schedulers: InProcessScheduler[] = [];
function scheduler(engine: FakeEngine, opts: Partial<SchedulerOptions> = {}): InProcessScheduler {
  const s = new InProcessScheduler({
    db: store.db,
    sync: engine.sync,
    logger,
    random: () => 0.5,
    ...opts,
  });
  schedulers.push(s);
  return s;
}

async function integration(name: string, mode: IntegrationMode, status = 'ok'): Promise<Integration> {
  const i = await createIntegration(store.db, { name });
  return updateIntegration(store.db, i.id, { mode, status });
}

async function pastRun(integrationId: string, minutesAgo: number): Promise<void> {
  const at = new Date(Date.now() - minutesAgo * MIN).toISOString();
  await store.db
    .insertInto('sync_runs')
    .values({
      id: newId(),
      integration_id: integrationId,
      kind: 'sync',
      status: 'succeeded',
      started_at: at,
      finished_at: at,
      summary_json: null,
      error: null,
    })
    .execute();
}

const advance = (ms: number) => vi.advanceTimersByTimeAsync(ms);
const nextRunOf = (s: InProcessScheduler, id: string) =>
  s.status().integrations.find((i) => i.id === id)?.nextRunAt ?? null;
/** Minutes from the end of the last run to the next one. */
const gapAfterLastRun = (s: InProcessScheduler, id: string) => {
  const i = s.status().integrations.find((x) => x.id === id)!;
  return (Date.parse(i.nextRunAt!) - Date.parse(i.lastFinishedAt!)) / MIN;
};

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.close();
});
beforeEach(async () => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'Date'], now: T0 });
  logs.length = 0;
  await store.db.deleteFrom('sync_runs').execute();
  await store.db.deleteFrom('integrations').execute();
});
afterEach(async () => {
  for (const s of schedulers.splice(0)) await s.stop({ drainMs: 0 });
  vi.useRealTimers();
});

describe('InProcessScheduler', () => {
  it('runs test and live integrations (not off, not paused): overdue ones soon after start, others when due', async () => {
    const fresh = await integration('never ran', 'test');
    const recent = await integration('ran 10 min ago', 'live');
    const off = await integration('off', 'off');
    const paused = await integration('paused', 'live', 'paused');
    await pastRun(recent.id, 10);
    const engine = new FakeEngine();
    engine.auto = true;
    const s = scheduler(engine);
    await s.start();

    expect(
      s
        .status()
        .integrations.map((i) => i.name)
        .sort(),
    ).toEqual(['never ran', 'ran 10 min ago']);
    // 5 s delay + half of the 10 s spread.
    expect(nextRunOf(s, fresh.id)).toBe(new Date(T0 + 10_000).toISOString());
    // Last run + the interval (jitter is 0 with random 0.5).
    expect(nextRunOf(s, recent.id)).toBe(new Date(T0 + 50 * MIN).toISOString());

    await advance(9_000);
    expect(engine.calls).toHaveLength(0);
    await advance(1_000);
    await vi.waitFor(() => expect(engine.callsFor(fresh.id)).toHaveLength(1));
    expect(engine.callsFor(recent.id)).toHaveLength(0);

    await advance(50 * MIN);
    await vi.waitFor(() => expect(engine.callsFor(recent.id)).toHaveLength(1));
    expect(engine.callsFor(off.id)).toHaveLength(0);
    expect(engine.callsFor(paused.id)).toHaveLength(0);
    expect(engine.callsFor(fresh.id)).toHaveLength(1);
  });

  it('keeps at most `concurrency` syncs running and reaches every integration', async () => {
    const all = await Promise.all([1, 2, 3, 4, 5].map((n) => integration(`shop ${n}`, 'test')));
    const engine = new FakeEngine();
    const s = scheduler(engine, { concurrency: 2, firstRunSpreadMs: 0 });
    await s.start();
    await advance(5_000);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(2));
    await advance(60_000);
    expect(engine.calls).toHaveLength(2);

    for (let settled = 0; settled < 5; settled++) {
      engine.calls[settled]!.resolve();
      await vi.waitFor(() => expect(engine.calls.length).toBe(Math.min(5, settled + 3)));
    }
    expect(engine.maxInFlight).toBe(2);
    expect(new Set(engine.calls.map((c) => c.integrationId))).toEqual(new Set(all.map((i) => i.id)));
    await vi.waitFor(() => expect(s.status().integrations.filter((i) => i.running)).toHaveLength(0));
  });

  it('runNow runs at once, refuses a second run of the same integration, and reschedules after it', async () => {
    const shop = await integration('shop', 'live');
    const engine = new FakeEngine();
    const s = scheduler(engine);
    await s.start();

    const first = s.runNow(shop.id);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(1));
    await expect(s.runNow(shop.id)).rejects.toBeInstanceOf(SyncAlreadyRunningError);
    await expect(s.runNow(shop.id)).rejects.toThrow(/already running/);
    expect(s.status().integrations[0]).toMatchObject({
      running: true,
      runningTrigger: 'manual',
      nextRunAt: null,
    });

    // Its scheduled first run comes due meanwhile: the guard holds it back.
    await advance(30_000);
    expect(engine.calls).toHaveLength(1);

    engine.calls[0]!.resolve();
    await expect(first).resolves.toEqual(SUMMARY);
    await vi.waitFor(() => expect(s.status().integrations[0]!.lastOutcome).toBe('succeeded'));
    expect(gapAfterLastRun(s, shop.id)).toBe(60);
    await advance(59 * MIN);
    expect(engine.calls).toHaveLength(1);

    await expect(s.runNow('no-such-integration')).rejects.toThrow(/does not exist/);
  });

  it('picks up integrations added, switched off or paused while it runs', async () => {
    const engine = new FakeEngine();
    engine.auto = true;
    const s = scheduler(engine);
    await s.start();
    expect(s.status().integrations).toEqual([]);

    const added = await integration('added later', 'test');
    const paused = await integration('paused later', 'test');
    await advance(60_000);
    await vi.waitFor(() => expect(s.status().integrations).toHaveLength(2));
    await advance(10_000);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(2));

    await updateIntegration(store.db, added.id, { mode: 'off' });
    await updateIntegration(store.db, paused.id, { status: 'paused' });
    await advance(60_000);
    await vi.waitFor(() => expect(s.status().integrations).toEqual([]));
    await advance(3 * 60 * MIN);
    expect(engine.calls).toHaveLength(2);
  });

  it('stop() waits for a running sync that finishes within the drain time, and schedules nothing more', async () => {
    const shop = await integration('shop', 'test');
    const other = await integration('other', 'test');
    const engine = new FakeEngine();
    const s = scheduler(engine, { concurrency: 1, firstRunSpreadMs: 0 });
    await s.start();
    await advance(5_000);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(1));
    const running = engine.calls[0]!;

    let stopped = false;
    const stopping = s.stop({ drainMs: 60_000 }).then(() => {
      stopped = true;
    });
    await expect(s.runNow(other.id)).rejects.toBeInstanceOf(SchedulerStoppedError);
    await advance(30_000);
    expect(stopped).toBe(false);
    running.resolve();
    await stopping;
    expect(running.signal.aborted).toBe(false);
    expect(s.status().state).toBe('stopped');
    // The other integration was due all along; nothing started after the stop began.
    await advance(2 * 60 * MIN);
    expect(engine.calls.map((c) => c.integrationId)).toEqual([expect.any(String)]);
    expect([shop.id, other.id]).toContain(engine.calls[0]!.integrationId);
  });

  it('stop() aborts syncs still running after the drain timeout through their AbortSignal', async () => {
    await integration('slow', 'test');
    const engine = new FakeEngine();
    const s = scheduler(engine, { firstRunSpreadMs: 0 });
    await s.start();
    await advance(5_000);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(1));
    const call = engine.calls[0]!;
    call.signal.addEventListener('abort', () => call.reject(new Error('aborted')));

    const stopping = s.stop({ drainMs: 10_000 });
    await advance(9_999);
    expect(call.signal.aborted).toBe(false);
    await advance(1);
    await stopping;
    expect(call.signal.aborted).toBe(true);
    expect(call.signal.reason).toBeInstanceOf(SchedulerStoppedError);
    expect(logs.some((l) => l.msg?.includes('aborting'))).toBe(true);
  });

  it('counts failures in a row from sync_runs (so a restart keeps the count) and logs every run', async () => {
    const shop = await integration('shop', 'live');
    const engine = new FakeEngine();
    engine.record = 'failed';
    const reports: RunReport[] = [];
    const onRunFinished = async (r: RunReport) => void reports.push(r);
    const first = scheduler(engine, { onRunFinished });
    await first.start();
    for (let n = 1; n <= 3; n++) {
      await expect(first.runNow(shop.id)).rejects.toThrow('Spiris answered 503');
      await vi.waitFor(() => expect(reports).toHaveLength(n));
      await advance(1_000);
    }
    expect(reports.map((r) => r.consecutiveFailures)).toEqual([1, 2, 3]);
    await first.stop({ drainMs: 0 });

    // A new process: the count comes from the store.
    const second = scheduler(engine, { onRunFinished });
    await second.start();
    await expect(second.runNow(shop.id)).rejects.toThrow();
    await vi.waitFor(() => expect(reports).toHaveLength(4));
    expect(reports[3]).toMatchObject({
      outcome: 'failed',
      consecutiveFailures: 4,
      error: 'Spiris answered 503',
    });
    expect(second.status().integrations[0]).toMatchObject({ lastOutcome: 'failed', consecutiveFailures: 4 });

    await advance(1_000);
    engine.record = 'succeeded';
    await expect(second.runNow(shop.id)).resolves.toEqual(SUMMARY);
    await vi.waitFor(() => expect(reports).toHaveLength(5));
    expect(reports[4]).toMatchObject({ outcome: 'succeeded', consecutiveFailures: 0, summary: SUMMARY });
    expect(await countConsecutiveFailures(store.db, shop.id)).toBe(0);

    const failed = logs.filter((l) => l.msg === 'sync run failed');
    expect(failed).toHaveLength(4);
    expect(failed[3]!.obj).toMatchObject({
      integrationId: shop.id,
      integration: 'shop',
      trigger: 'manual',
      outcome: 'failed',
      consecutiveFailures: 4,
      error: 'Spiris answered 503',
    });
    const ok = logs.find((l) => l.msg === 'sync run finished')!;
    expect(ok.level).toBe('info');
    expect(ok.obj).toMatchObject({
      outcome: 'succeeded',
      booked: 2,
      needsAttention: 1,
      skipped: 0,
      failed: 0,
    });
    expect(ok.obj.durationMs).toEqual(expect.any(Number));
  });

  it('treats a run that reports an error as failed, and keeps the next run within ±10 % of the interval', async () => {
    const shop = await integration('shop', 'test');
    const engine = new FakeEngine();
    const reports: RunReport[] = [];
    let r = 0;
    const s = scheduler(engine, { random: () => r, onRunFinished: async (x) => void reports.push(x) });
    await s.start();

    const early = s.runNow(shop.id);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(1));
    engine.calls[0]!.resolve({ ...SUMMARY, error: 'Spiris refused the token' });
    await expect(early).resolves.toMatchObject({ error: 'Spiris refused the token' });
    await vi.waitFor(() => expect(reports).toHaveLength(1));
    expect(reports[0]).toMatchObject({ outcome: 'failed', error: 'Spiris refused the token' });
    expect(gapAfterLastRun(s, shop.id)).toBe(54);

    r = 0.999_999;
    const late = s.runNow(shop.id);
    await vi.waitFor(() => expect(engine.calls).toHaveLength(2));
    engine.calls[1]!.resolve();
    await late;
    await vi.waitFor(() => expect(reports).toHaveLength(2));
    expect(gapAfterLastRun(s, shop.id)).toBeCloseTo(66, 3);
  });
});

describe('loadSchedulerConfig', () => {
  it('reads interval, concurrency and drain from the environment; the flag wins', () => {
    expect(loadSchedulerConfig({})).toEqual({ intervalMinutes: 60, concurrency: 2, drainMs: 30_000 });
    expect(
      loadSchedulerConfig(
        {
          KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES: '15',
          KLARNA_SPIRIS_SYNC_CONCURRENCY: '4',
          KLARNA_SPIRIS_SYNC_DRAIN_SECONDS: '5',
        },
        {},
      ),
    ).toEqual({ intervalMinutes: 15, concurrency: 4, drainMs: 5_000 });
    expect(
      loadSchedulerConfig({ KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES: '15' }, { intervalMinutes: 5 }),
    ).toMatchObject({ intervalMinutes: 5 });
    expect(() =>
      loadSchedulerConfig({ KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES: '0', KLARNA_SPIRIS_SYNC_CONCURRENCY: 'x' }),
    ).toThrow(/KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES.*KLARNA_SPIRIS_SYNC_CONCURRENCY/);
  });
});
