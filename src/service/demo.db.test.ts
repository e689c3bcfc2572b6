import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { FAST_TEST_OPTIONS } from '../admin/admin-test-kit.ts';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { openKlarnaClient } from '../klarna/klarna.connection.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { openSpirisConnection } from '../spiris/spiris.connection.ts';
import { listBookingPayouts } from '../store/booking.repository.ts';
import { getConnection, listConnections } from '../store/connections.repository.ts';
import { listEvents } from '../store/events.repository.ts';
import { getIntegration, listIntegrations } from '../store/integrations.repository.ts';
import { syncIntegration } from '../sync/sync.service.ts';
import {
  DEMO_INTEGRATION_NAME,
  demoEnvironment,
  demoIntro,
  demoServeHook,
  type RunningDemo,
  startDemo,
} from './demo.ts';
import { type SyncFunction, schedulerServeHook } from './scheduler.ts';
import { startService } from './serve.ts';
import { loadServiceConfig } from './service-config.ts';

let store: TestStore;
let app: App;
const TODAY = new Date('2026-03-15T10:00:00Z');
const running: RunningDemo[] = [];

const refused = async (url: string) => {
  try {
    await fetch(url, { signal: AbortSignal.timeout(2_000) });
    return false;
  } catch {
    return true;
  }
};

beforeAll(async () => {
  store = await openTestStore();
  app = await createApp(loadConfig({ KLARNA_SPIRIS_LOG_LEVEL: 'silent' }), {
    store,
    logger: pino({ level: 'silent' }),
    sealer: new AesGcmSealer(randomBytes(32)),
  });
});
afterAll(async () => {
  for (const d of running) await d.stop();
  await app?.close();
  await store?.close();
});

describe('demo mode', () => {
  let first: RunningDemo;

  it('creates the demo integration in test mode with both connections on live simulators, storing masked hints only', async () => {
    first = await startDemo(app, { now: () => TODAY });
    running.push(first);
    expect(first.created).toBe(true);
    expect(first).toMatchObject({
      firstPayoutDate: '2026-01-14',
      lastPayoutDate: '2026-03-14',
      payoutCount: 60,
    });

    const integration = (await getIntegration(store.db, first.integrationId))!;
    expect(integration).toMatchObject({ name: DEMO_INTEGRATION_NAME, mode: 'test', status: 'ok' });
    expect(integration.settings).toMatchObject({
      catchUpSince: '2026-01-14',
      rateSource: { kind: 'riksbank', baseUrl: first.riksbank.url },
    });

    const klarna = (await getConnection(store.db, integration.klarnaConnectionId!))!;
    expect(klarna).toMatchObject({
      kind: 'klarna',
      environment: 'playground',
      externalId: first.merchantId,
      status: 'active',
      config: { baseUrl: first.klarna.url },
    });
    expect(klarna.secretHint).toMatch(/^klarna_test_api_….{3}$/);
    const { client } = await openKlarnaClient({ db: store.db, sealer: app.sealer }, integration);
    expect((await client.probe()).merchantId).toBe(first.merchantId);

    const spiris = (await getConnection(store.db, integration.spirisConnectionId!))!;
    expect(spiris).toMatchObject({
      kind: 'spiris',
      environment: 'sandbox',
      status: 'active',
      externalName: 'Testbolaget Nordic AB',
      config: {
        apiBaseUrl: first.spiris.apiBaseUrl,
        tokenUrl: `${first.spiris.identityBaseUrl}/connect/token`,
      },
    });
    const handle = await openSpirisConnection(store, app.sealer, spiris.id);
    expect((await handle.client.getCompanySettings()).Name).toBe('Testbolaget Nordic AB');

    // Only sealed secrets and masked hints are in the store.
    const rows = await store.db.selectFrom('connections').selectAll().execute();
    const dump = JSON.stringify(rows);
    const key = first.klarna.merchants[0]!.credentials.apiKey;
    expect(dump).not.toContain(key.slice('klarna_test_api_'.length));
    expect(dump).not.toContain(first.spiris.clientSecret);
    expect(dump).not.toMatch(/"refreshToken"|"accessToken"/);

    const events = await listEvents(store.db, { integrationId: integration.id });
    expect(events.map((e) => e.kind)).toEqual(expect.arrayContaining(['demo.started', 'mode.changed']));
    expect(JSON.stringify(events)).not.toContain(key.slice('klarna_test_api_'.length));
  });

  it('stop() closes the simulators; a second start reuses the integration and re-points it', async () => {
    const before = (await getIntegration(store.db, first.integrationId))!;
    await first.stop();
    expect(await refused(`${first.klarna.url}/settlements/v1/payouts`)).toBe(true);
    expect(await refused(`${first.spiris.apiBaseUrl}/companysettings`)).toBe(true);
    expect(await refused(`${first.riksbank.url}/Observations/Latest/SEKEURPMI`)).toBe(true);

    const second = await startDemo(app, { now: () => TODAY });
    running.push(second);
    expect(second.created).toBe(false);
    expect(second.integrationId).toBe(first.integrationId);
    expect(second.klarna.url).not.toBe(first.klarna.url);
    expect((await listIntegrations(store.db)).filter((i) => i.name === DEMO_INTEGRATION_NAME)).toHaveLength(
      1,
    );

    const after = (await getIntegration(store.db, second.integrationId))!;
    // Same Klarna key: the connection is kept, only its address moves.
    expect(after.klarnaConnectionId).toBe(before.klarnaConnectionId);
    expect((await getConnection(store.db, after.klarnaConnectionId!))!.config).toMatchObject({
      baseUrl: second.klarna.url,
    });
    const { client } = await openKlarnaClient({ db: store.db, sealer: app.sealer }, after);
    expect((await client.probe()).merchantId).toBe(second.merchantId);
    // Spiris: a new simulator, new tokens, a new connection; the old one is marked replaced.
    expect(after.spirisConnectionId).not.toBe(before.spirisConnectionId);
    expect((await getConnection(store.db, before.spirisConnectionId!))!.status).toBe('replaced');
    const handle = await openSpirisConnection(store, app.sealer, after.spirisConnectionId!);
    expect((await handle.client.getCompanySettings()).Name).toBe('Testbolaget Nordic AB');
    expect(after.settings).toMatchObject({ rateSource: { baseUrl: second.riksbank.url } });
    expect((await listConnections(store.db)).filter((c) => c.kind === 'klarna')).toHaveLength(1);

    await second.stop();
  });

  it('a restart starts the demo books over with the empty simulated Spiris: no booked payout points at a lost voucher', async () => {
    const deps = { store, sealer: app.sealer, now: () => TODAY, actor: 'demo' };
    const a = await startDemo(app, { now: () => TODAY });
    running.push(a);
    const firstRun = await syncIntegration(deps, { integrationId: a.integrationId });
    expect(firstRun.booked.length).toBeGreaterThan(10);
    await a.stop();

    const b = await startDemo(app, { now: () => TODAY });
    running.push(b);
    expect(b.spiris.vouchers).toHaveLength(0);
    expect(await listBookingPayouts(store.db, { integrationId: b.integrationId })).toEqual([]);
    const [reset] = await listEvents(store.db, { integrationId: b.integrationId, kindPrefix: 'demo.reset' });
    expect(reset?.message).toContain(`the ${firstRun.booked.length + firstRun.skipped.length} payouts`);

    const again = await syncIntegration(deps, { integrationId: b.integrationId });
    expect(again.booked.length).toBe(firstRun.booked.length);
    const inSpiris = new Set(b.spiris.vouchers.map((v) => v.Id));
    const booked = (await listBookingPayouts(store.db, { integrationId: b.integrationId })).filter(
      (p) => p.state === 'booked',
    );
    expect(booked).toHaveLength(again.booked.length);
    for (const p of booked) expect(inSpiris.has(p.voucherId!), p.paymentReference).toBe(true);
    await b.stop();
  });

  it('as serve hooks: the scheduler runs the demo integration right after start and stops before the simulators', async () => {
    const calls: string[] = [];
    const sync: SyncFunction = async ({ integrationId }) => {
      calls.push(integrationId);
      return { booked: 60, needsAttention: 0, skipped: 0, failed: 0 };
    };
    const demo = demoServeHook({ now: () => TODAY });
    const scheduler = schedulerServeHook({
      config: { intervalMinutes: 60, concurrency: 2, drainMs: 1_000 },
      sync: () => sync,
      firstRunDelayMs: 0,
      firstRunSpreadMs: 0,
    });
    const service = await startService(app, loadServiceConfig({}, { port: 0, host: '127.0.0.1' }), {
      hooks: [demo.hook, scheduler.hook],
      adminOptions: FAST_TEST_OPTIONS,
    });
    const started = demo.current()!;
    running.push(started);
    const deadline = Date.now() + 5_000;
    while (calls.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(calls).toEqual([started.integrationId]);
    expect(scheduler.current()!.status().integrations).toEqual([
      expect.objectContaining({ id: started.integrationId, name: DEMO_INTEGRATION_NAME, running: false }),
    ]);

    const intro = demoIntro(started, {
      url: service.url,
      passwordFromEnv: false,
      hasAdmin: false,
      dataDir: 'data/demo',
      syncIntervalMinutes: 60,
    });
    expect(intro).toContain(`Open ${service.url} in your browser`);
    expect(intro).toContain(`${service.url}/setup`);
    expect(intro).toContain('60 simulated payouts\n     (2026-01-14 … 2026-03-14) are booked');

    await service.close();
    expect(scheduler.current()!.status().state).toBe('stopped');
    expect(await refused(`${started.klarna.url}/settlements/v1/payouts`)).toBe(true);
  });
});

describe('demoEnvironment', () => {
  it('keeps demo data apart: ./data/demo unless a data dir is given, and never DATABASE_URL', () => {
    expect(demoEnvironment({}).env.KLARNA_SPIRIS_DATA_DIR).toBe('./data/demo');
    expect(demoEnvironment({ KLARNA_SPIRIS_DATA_DIR: '/srv/x' }).env.KLARNA_SPIRIS_DATA_DIR).toBe('/srv/x');
    const pg = demoEnvironment({ DATABASE_URL: 'postgres://u:secret@db/books' });
    expect(pg.env.DATABASE_URL).toBeUndefined();
    expect(pg.notes.join(' ')).toMatch(/DATABASE_URL is ignored/);
    expect(pg.notes.join(' ')).not.toContain('secret');
  });
});
