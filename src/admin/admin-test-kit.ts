import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import pino from 'pino';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { UNLIMITED_BUDGET } from '../http/rate-budget.ts';
import type { RetryPolicy } from '../http/retry.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { Secret } from '../setup/secret.ts';
import { type KlarnaSimulator, type SimMerchant, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import { createConnection } from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { newId } from '../store/ids.ts';
import { createIntegration, type Integration, updateIntegration } from '../store/integrations.repository.ts';
import type { SyncDeps } from '../sync/sync-context.ts';
import type { AdminServerOptions } from './context.ts';
import { type AdminServerDeps, buildServer } from './server.ts';

// Shared by the admin tests (inject and browser): a real app on a per-file test store,
// a server tuned to be quick to test (cheap scrypt, small login limits), and seeders.

/** scrypt at N=2^10: the same code path, a thousandth of the cost. Never use outside tests. */
export const FAST_TEST_OPTIONS: Partial<AdminServerOptions> = {
  scryptParams: { N: 1024, r: 8, p: 1, keyLength: 32 },
  loginLimits: { perIp: { max: 3, windowMs: 15 * 60_000 }, global: { max: 20, windowMs: 15 * 60_000 } },
};

/** A clear Klarna key the tests look for in responses, to prove it never appears. */
export const SEEDED_KLARNA_KEY = `klarna_test_api_${'Qz7'.repeat(12)}Lk9`;

export interface AdminHarness {
  store: TestStore;
  app: App;
  server: FastifyInstance;
  close(): Promise<void>;
}

export async function openAdminHarness(
  overrides: Omit<Partial<AdminServerDeps>, 'app'> = {},
): Promise<AdminHarness> {
  const store = await openTestStore();
  const app = await createApp(loadConfig({ KLARNA_SPIRIS_LOG_LEVEL: 'silent' }), {
    store,
    logger: pino({ level: 'silent' }),
    sealer: new AesGcmSealer(randomBytes(32)),
  });
  const server = await buildServer({
    ...overrides,
    app,
    options: { ...FAST_TEST_OPTIONS, ...overrides.options },
  });
  return {
    store,
    app,
    server,
    async close() {
      await server.close();
      await app.close();
      await store.close();
    },
  };
}

/**
 * An integration with both connections, a failed and a succeeded run, two payouts (one
 * needing attention) and an event: enough for every admin page to show real data.
 */
export async function seedIntegration(app: App, name = 'Butiken AB'): Promise<Integration> {
  const db = app.store.db;
  const integration = await createIntegration(db, { name });
  const klarna = await createConnection(db, app.sealer, {
    kind: 'klarna',
    environment: 'test',
    secret: new Secret(SEEDED_KLARNA_KEY),
  });
  const spiris = await createConnection(db, app.sealer, {
    kind: 'spiris',
    environment: 'sandbox',
    secret: new Secret('spiris-refresh-token-0123456789abcdef'),
    externalName: 'Butiken AB (556677-8899)',
  });
  await updateIntegration(db, integration.id, {
    mode: 'test',
    klarnaConnectionId: klarna.id,
    spirisConnectionId: spiris.id,
  });
  // Explicit times: two runs started in the same millisecond would have no "latest".
  const run = (minutesAgo: number, status: 'failed' | 'succeeded', error: string | null) => ({
    id: newId(),
    integration_id: integration.id,
    kind: 'sync',
    status,
    started_at: new Date(Date.now() - minutesAgo * 60_000).toISOString(),
    finished_at: new Date(Date.now() - minutesAgo * 60_000 + 5_000).toISOString(),
    summary_json: status === 'succeeded' ? '{"booked":1}' : null,
    error,
  });
  await db
    .insertInto('sync_runs')
    .values([run(60, 'failed', 'Spiris answered 503'), run(5, 'succeeded', null)])
    .execute();
  const now = new Date().toISOString();
  const payout = (ref: string, amount: number, state: string, voucher: string | null) => ({
    id: newId(),
    integration_id: integration.id,
    merchant_id: 'M1',
    payment_reference: ref,
    payout_date: '2026-11-20T00:00:00Z',
    currency_code: 'SEK',
    merchant_settlement_type: 'NET',
    settlement_amount: amount,
    totals_json: '{}',
    raw_json: '{}',
    transaction_count: 3,
    transactions_complete: 1,
    unknown_types_json: null,
    reconciled: 1,
    reconciliation_json: null,
    state,
    state_reason: state === 'needs_attention' ? 'Account 3001 is missing in Spiris' : null,
    voucher_id: null,
    voucher_number: voucher,
    fetched_at: now,
    updated_at: now,
  });
  await db
    .insertInto('klarna_payouts')
    .values([payout('PR-1001', 1234567, 'booked', 'A-17'), payout('PR-1002', -4250, 'needs_attention', null)])
    .execute();
  await recordEvent(db, {
    integrationId: integration.id,
    actor: 'scheduler',
    kind: 'payout.booked',
    message: 'Payout PR-1001 booked as A-17',
  });
  return (await updateIntegration(db, integration.id, {}))!;
}

const FAST_RETRIES: RetryPolicy = { maxRetries: 4, initialDelayMs: 1, maxDelayMs: 4, maxWaitMs: 60_000 };

/** Engine and client settings for tests against the simulators: no pacing, quick retries. */
export const FAST_SYNC_DEPS: Partial<SyncDeps> = {
  klarnaOptions: { rateBudget: UNLIMITED_BUDGET, retryPolicy: FAST_RETRIES },
  spirisOptions: { rateBudget: UNLIMITED_BUDGET, retryPolicy: FAST_RETRIES, sleep: async () => {} },
};

export interface Simulators {
  klarna: KlarnaSimulator;
  spiris: SpirisSimulator;
  merchant: SimMerchant;
  close(): Promise<void>;
}

const isoDay = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * A Klarna simulator with a few recent SEK payouts (ending two days ago, inside the
 * sync's default window) and a Spiris simulator whose open fiscal years cover them and
 * today on any day of the year: its "today" sits ten days back, so a run in early
 * January still finds last December's year open.
 */
export async function startSimulators(
  o: { environment?: 'playground' | 'production'; seed?: number; days?: number } = {},
): Promise<Simulators> {
  const days = o.days ?? 4;
  const [klarna, spiris] = await Promise.all([
    startKlarnaSimulator({
      environment: o.environment ?? 'playground',
      rateLimitPerSecond: 0,
      merchants: [
        {
          seed: o.seed ?? 11,
          currencies: ['SEK'],
          startDate: isoDay(Date.now() - (days + 1) * 86_400_000),
          days,
          ordersPerPayout: 6,
        },
      ],
    }),
    startSpirisSimulator({ today: isoDay(Date.now() - 10 * 86_400_000), rateLimitPerMinute: 0 }),
  ]);
  return {
    klarna,
    spiris,
    merchant: klarna.merchants[0]!,
    async close() {
      await Promise.allSettled([klarna.close(), spiris.close()]);
    },
  };
}
