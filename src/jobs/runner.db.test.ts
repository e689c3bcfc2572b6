import { randomBytes } from 'node:crypto';
import { sql } from 'kysely';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { type App, createApp } from '../app.ts';
import { serveHooks } from '../cli/serve.command.ts';
import { loadConfig } from '../config.ts';
import { loadNotificationConfig } from '../service/notifications.ts';
import { loadSchedulerConfig, SchedulerStoppedError, SyncAlreadyRunningError } from '../service/scheduler.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { createIntegration, updateIntegration } from '../store/integrations.repository.ts';
import { QUEUES } from './queues.ts';
import { queueServeHook, workerRunner } from './runner.ts';
import { loadWorkerConfig } from './worker-config.ts';

// `serve --workers external`: the serve process runs no job; its runner enqueues "sync
// now" for the workers and reports. Without PostgreSQL there is nothing to enqueue into.

const onPostgres = process.env.KS_TEST_DB === 'postgres';

describe(`serve with external workers on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  let store: TestStore;
  let app: App;

  beforeAll(async () => {
    store = await openTestStore();
    app = await createApp(
      loadConfig({
        KLARNA_SPIRIS_LOG_LEVEL: 'silent',
        ...(onPostgres ? { DATABASE_URL: store.target } : {}),
      }),
      { store, logger: pino({ level: 'silent' }), sealer: new AesGcmSealer(randomBytes(32)) },
    );
  });
  afterAll(async () => {
    await app?.close();
    await store?.close();
  });

  it.skipIf(onPostgres)('needs PostgreSQL, and says so', async () => {
    const q = queueServeHook({ config: loadWorkerConfig({}) });
    await expect(q.hook(app)).rejects.toThrow(/needs PostgreSQL/);
    expect(q.current()).toBeUndefined();
    expect(() => workerRunner(app, loadWorkerConfig({}))).toThrow(/DATABASE_URL=postgres/);
  });

  it('a UI-only serve (--no-sync) beside workers shows their failed jobs, on PostgreSQL only', async () => {
    const { hooks } = serveHooks(
      { sync: false },
      { scheduler: loadSchedulerConfig({}), notifications: loadNotificationConfig({}) },
    );
    const mounted = [];
    for (const hook of hooks) mounted.push(await hook(app));
    const sections = mounted.flatMap((m) => m?.sections ?? []).map((s) => s.id);
    expect(sections).toEqual(onPostgres ? ['jobs'] : []);
  });

  it.skipIf(!onPostgres)('enqueues "sync now" for the workers, one at a time per integration', async () => {
    const shop = await createIntegration(app.store.db, { name: 'Butiken AB' });
    await updateIntegration(app.store.db, shop.id, { mode: 'test' });
    const q = queueServeHook({ config: loadWorkerConfig({}) });
    const started = await q.hook(app);
    const runner = q.current()!;
    // The admin gets the queue's failed-jobs page and the integration's "Jobs" tab.
    expect(started?.sections?.map((s) => s.id)).toEqual(['jobs']);
    expect(started?.plugins).toHaveLength(1);
    expect(runner.status()).toMatchObject({ state: 'running', concurrency: 0 });
    expect(runner.status().integrations.map((i) => i.name)).toEqual(['Butiken AB']);

    const waiting = runner.runNow(shop.id);
    waiting.catch(() => undefined);
    const enqueued = async () =>
      (
        await sql<{ state: string; priority: number; trigger: string }>`
          select state::text as state, priority, data->>'trigger' as trigger
          from pgboss.job where name = ${QUEUES.sync} and singleton_key = ${shop.id}`.execute(app.store.db)
      ).rows;
    for (let i = 0; i < 50 && (await enqueued()).length === 0; i++)
      await new Promise((r) => setTimeout(r, 50));
    expect(await enqueued()).toEqual([{ state: 'created', priority: 10, trigger: 'manual' }]);
    await expect(runner.runNow(shop.id)).rejects.toBeInstanceOf(SyncAlreadyRunningError);

    // No worker runs it here; shutting down releases whoever waits for it.
    started!.beginShutdown!();
    await started!.stop!();
    await expect(waiting).rejects.toBeInstanceOf(SchedulerStoppedError);
    expect(runner.status().state).toBe('stopped');
  });
});
