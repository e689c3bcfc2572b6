import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type JobRunner,
  type RunnerStatus,
  SyncAlreadyRunningError,
  type SyncSummary,
} from '../../service/scheduler.ts';
import { readConnectionSecret } from '../../store/connections.repository.ts';
import { listEvents } from '../../store/events.repository.ts';
import {
  type AdminHarness,
  FAST_SYNC_DEPS,
  openAdminHarness,
  type Simulators,
  startSimulators,
} from '../admin-test-kit.ts';
import { createApiToken } from '../auth/api-tokens.ts';

// The integration API end to end against the Klarna and Spiris simulators: connect,
// test, map, preview, the go-live gate (refused, then passed with live credentials),
// sync now with its progress, payouts, reverse and retry. Every response is searched
// for the secrets that went in.

let h: AdminHarness;
let server: FastifyInstance;
let test: Simulators;
let live: Simulators;
let token: string;
const secrets: string[] = [];

beforeAll(async () => {
  [test, live] = await Promise.all([
    startSimulators({ environment: 'playground', seed: 21 }),
    startSimulators({ environment: 'production', seed: 22 }),
  ]);
  h = await openAdminHarness({ syncDeps: FAST_SYNC_DEPS });
  server = h.server;
  token = (await createApiToken(h.app.store.db, 'tests', 'test')).token;
  secrets.push(test.merchant.credentials.apiKey, live.merchant.credentials.apiKey, test.spiris.clientSecret);
});
afterAll(async () => {
  await h?.close();
  await test?.close();
  await live?.close();
});

const bodies: string[] = [];
async function call(method: 'GET' | 'POST' | 'PUT', url: string, payload?: unknown) {
  const res = await server.inject({
    method,
    url: `/api/v1${url}`,
    headers: { authorization: `Bearer ${token}` },
    ...(payload !== undefined ? { payload: payload as Record<string, unknown> } : {}),
  });
  bodies.push(res.body);
  return { status: res.statusCode, json: res.body ? res.json() : undefined };
}

async function createIntegration(name: string): Promise<string> {
  const r = await call('POST', '/integrations', { name });
  expect(r.status).toBe(201);
  return r.json.id as string;
}

async function waitForSync(id: string) {
  for (let i = 0; i < 200; i++) {
    const p = await call('GET', `/integrations/${id}/sync`);
    if (!p.json.running) return p.json;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the sync did not finish');
}

describe(`integration API on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  let id: string;

  it('connects a Klarna key, refusing a malformed one with the field, storing it sealed and masked', async () => {
    id = await createIntegration('API Butik');
    const bad = await call('POST', `/integrations/${id}/connections/klarna`, {
      apiKey: ' klarna_test_api_x',
    });
    expect(bad.status).toBe(422);
    expect(bad.json.error).toMatchObject({ code: 'unprocessable', field: 'apiKey' });

    const key = test.merchant.credentials.apiKey;
    const ok = await call('POST', `/integrations/${id}/connections/klarna`, {
      apiKey: key,
      baseUrl: test.klarna.url,
    });
    expect(ok.status).toBe(201);
    expect(ok.json.connection).toMatchObject({ kind: 'klarna', environment: 'playground', status: 'active' });
    expect(ok.json.connection.secretHint).toBe(`klarna_test_api_…${key.slice(-3)}`);
    expect(ok.json.merchantId).toBe(test.merchant.merchantId);
    const stored = await readConnectionSecret(h.app.store.db, h.app.sealer, ok.json.connection.id);
    expect(stored.secret.reveal()).toBe(key);

    // Connecting again rotates: a new connection, the old one marked replaced.
    const rotated = await call('POST', `/integrations/${id}/connections/klarna`, {
      apiKey: key,
      baseUrl: test.klarna.url,
    });
    expect(rotated.status).toBe(201);
    expect(rotated.json.replacedConnectionId).toBe(ok.json.connection.id);
    const listed = await call('GET', `/integrations/${id}/connections`);
    expect(listed.json.items.map((c: { id: string }) => c.id)).toEqual([rotated.json.connection.id]);
  });

  it('connects Spiris with an issued refresh token (sandbox host preset overridden)', async () => {
    const issued = test.spiris.issueTokens();
    secrets.push(issued.refreshToken, issued.accessToken);
    const r = await call('POST', `/integrations/${id}/connections/spiris`, {
      environment: 'sandbox',
      grant: 'refresh_token',
      clientId: test.spiris.clientId,
      clientSecret: test.spiris.clientSecret,
      refreshToken: issued.refreshToken,
      identityBaseUrl: test.spiris.identityBaseUrl,
      apiBaseUrl: test.spiris.apiBaseUrl,
    });
    expect(r.status).toBe(201);
    expect(r.json).toMatchObject({
      companyName: 'Testbolaget Nordic AB',
      organisationNumber: '556677-8899',
      canRefresh: true,
      connection: { kind: 'spiris', environment: 'sandbox' },
    });
  });

  it('refuses live without a passing test or confirmation: 409 with every failing check and its fix', async () => {
    const r = await call('PUT', `/integrations/${id}/mode`, { mode: 'live' });
    expect(r.status).toBe(409);
    expect(r.json.error.code).toBe('go_live_refused');
    const failing = (r.json.error.checks as { id: string; ok: boolean; fix: string | null }[]).filter(
      (c) => !c.ok,
    );
    expect(failing.map((c) => c.id).sort()).toEqual(
      ['klarna_live_key', 'spiris_production', 'connection_test', 'preview', 'confirmation'].sort(),
    );
    expect(failing.every((c) => typeof c.fix === 'string' && c.fix.length > 0)).toBe(true);
    expect((await call('GET', `/integrations/${id}`)).json.mode).toBe('off');
    const refused = await listEvents(h.app.store.db, {
      integrationId: id,
      kindPrefix: 'mode.change_refused',
    });
    expect(refused[0]?.actor).toBe('api:tests');
  });

  it('runs the connection test, one check per line', async () => {
    const r = await call('POST', `/integrations/${id}/connection-test`);
    expect(r.status).toBe(200);
    expect(r.json.ok).toBe(true);
    expect(r.json.checks.map((c: { id: string }) => c.id)).toEqual(
      expect.arrayContaining(['klarna.authentication', 'spiris.company', 'spiris.accounts']),
    );
  });

  it('shows the mapping with account names and saves a change; a bad account is 422', async () => {
    const before = await call('GET', `/integrations/${id}/mapping`);
    expect(before.status).toBe(200);
    expect(before.json.chartProblem).toBeNull();
    expect(before.json.accounts).toContainEqual(
      expect.objectContaining({ account: '1930', name: expect.any(String) }),
    );
    const mapping = {
      ...before.json.mapping,
      accounts: { ...before.json.mapping.accounts, fee_amount: '6570' },
    };
    const saved = await call('PUT', `/integrations/${id}/mapping`, { mapping });
    expect(saved.status).toBe(200);
    expect(saved.json.changes).toEqual([{ key: 'accounts.fee_amount', from: '6064', to: '6570' }]);
    const fee = saved.json.accounts.find((a: { account: string }) => a.account === '6570');
    expect(fee.name).toBeTruthy();
    const bad = await call('PUT', `/integrations/${id}/mapping`, {
      mapping: { ...mapping, bankAccount: '0abc' },
    });
    expect(bad.status).toBe(422);
  });

  it('previews the vouchers as debit/credit rows and books nothing', async () => {
    const r = await call('POST', `/integrations/${id}/preview`, {});
    expect(r.status).toBe(200);
    expect(r.json.counts.payouts).toBe(4);
    expect(r.json.counts.blocking).toBe(0);
    const rows = r.json.payouts[0].voucher.rows as { debitMinor: number; creditMinor: number }[];
    expect(rows.reduce((s, x) => s + x.debitMinor - x.creditMinor, 0)).toBe(0);
    expect(test.spiris.vouchers).toHaveLength(0);
  });

  it('syncs now in test mode (sandbox books), with progress, then reverses and retries a payout', async () => {
    const off = await call('POST', `/integrations/${id}/sync`);
    expect(off.status).toBe(409);
    expect((await call('PUT', `/integrations/${id}/mode`, { mode: 'test' })).status).toBe(200);
    const started = await call('POST', `/integrations/${id}/sync`);
    expect(started.status).toBe(202);
    expect(started.json.via).toBe('background');
    const done = await waitForSync(id);
    expect(done.lastRun).toMatchObject({ kind: 'sync', status: 'succeeded' });

    const payouts = await call('GET', `/integrations/${id}/payouts`);
    expect(payouts.json.total).toBe(4);
    for (const p of payouts.json.items) {
      expect(p.state).toBe('booked');
      expect(p.voucherNumber).toBeTruthy();
    }
    const ref = payouts.json.items[0].paymentReference as string;

    const unconfirmed = await call('POST', `/integrations/${id}/payouts/${ref}/reverse`, {});
    expect(unconfirmed.status).toBe(400);
    const reversed = await call('POST', `/integrations/${id}/payouts/${ref}/reverse`, { confirm: true });
    expect(reversed.status).toBe(200);
    // Reversed, and at once ready to be booked again under the current mapping.
    expect(reversed.json.payout.state).toBe('ready');
    expect(reversed.json.reversal.number).toBeTruthy();

    const again = await call('POST', `/integrations/${id}/payouts/${ref}/retry`);
    expect(again.status).toBe(200);
    expect(again.json.payout.state).toBe('booked');
    expect(again.json.payout.voucherNumber).not.toBe(reversed.json.reversedVoucher.number);
    const notWaiting = await call('POST', `/integrations/${id}/payouts/${ref}/retry`);
    expect(notWaiting.status).toBe(409);
  });

  it('goes live only through the gate: with live credentials, a fresh test and preview, and confirm', async () => {
    const liveId = await createIntegration('API Live AB');
    const key = live.merchant.credentials.apiKey;
    expect(
      (
        await call('POST', `/integrations/${liveId}/connections/klarna`, {
          apiKey: key,
          baseUrl: live.klarna.url,
        })
      ).status,
    ).toBe(201);
    const issued = live.spiris.issueTokens();
    secrets.push(issued.refreshToken);
    expect(
      (
        await call('POST', `/integrations/${liveId}/connections/spiris`, {
          environment: 'production',
          grant: 'refresh_token',
          clientId: live.spiris.clientId,
          clientSecret: live.spiris.clientSecret,
          refreshToken: issued.refreshToken,
          identityBaseUrl: live.spiris.identityBaseUrl,
          apiBaseUrl: live.spiris.apiBaseUrl,
          orgNumber: '556677-8899',
        })
      ).status,
    ).toBe(201);
    const noTest = await call('PUT', `/integrations/${liveId}/mode`, { mode: 'live', confirm: true });
    expect(noTest.status).toBe(409);
    expect(
      noTest.json.error.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { id: string }) => c.id),
    ).toEqual(['connection_test', 'preview']);
    expect((await call('POST', `/integrations/${liveId}/connection-test`)).json.ok).toBe(true);
    expect((await call('POST', `/integrations/${liveId}/preview`, {})).json.counts.blocking).toBe(0);
    const gate = await call('GET', `/integrations/${liveId}/go-live`);
    expect(gate.json.ready).toBe(true);

    const unconfirmed = await call('PUT', `/integrations/${liveId}/mode`, { mode: 'live' });
    expect(unconfirmed.status).toBe(409);
    expect(
      unconfirmed.json.error.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { id: string }) => c.id),
    ).toEqual(['confirmation']);
    const confirmed = await call('PUT', `/integrations/${liveId}/mode`, { mode: 'live', confirm: true });
    expect(confirmed.status).toBe(200);
    expect(confirmed.json).toMatchObject({ mode: 'live', previousMode: 'off', changed: true });
  });

  it('never returns a secret', () => {
    const all = bodies.join('\n');
    for (const s of secrets) expect(all).not.toContain(s);
  });
});

describe('sync now through the scheduler', () => {
  it('uses runNow when a scheduler runs, and reports a run already going as 409', async () => {
    const calls: string[] = [];
    let release: () => void = () => {};
    const runner: JobRunner = {
      start: async () => {},
      stop: async () => {},
      runNow(integrationId) {
        if (calls.includes(integrationId)) {
          return Promise.reject(new SyncAlreadyRunningError(integrationId));
        }
        calls.push(integrationId);
        return new Promise<SyncSummary>((resolve) => {
          release = () => resolve({ booked: 0, needsAttention: 0, skipped: 0, failed: 0 });
        });
      },
      status: (): RunnerStatus => ({
        state: 'running',
        intervalMinutes: 60,
        concurrency: 2,
        integrations: calls.map((id) => ({
          id,
          name: id,
          mode: 'test',
          running: true,
          runningSince: new Date().toISOString(),
          runningTrigger: 'manual',
          nextRunAt: null,
          lastOutcome: null,
          lastFinishedAt: null,
          consecutiveFailures: 0,
        })),
      }),
    };
    const local = await openAdminHarness({ runner: () => runner });
    try {
      const t = (await createApiToken(local.app.store.db, 'x', 'test')).token;
      const headers = { authorization: `Bearer ${t}` };
      const { seedIntegration } = await import('../admin-test-kit.ts');
      const seeded = await seedIntegration(local.app);
      const first = await local.server.inject({
        method: 'POST',
        url: `/api/v1/integrations/${seeded.id}/sync`,
        headers,
      });
      expect(first.statusCode).toBe(202);
      expect(first.json()).toEqual({ started: true, via: 'scheduler' });
      expect(calls).toEqual([seeded.id]);
      const progress = await local.server.inject({ url: `/api/v1/integrations/${seeded.id}/sync`, headers });
      expect(progress.json()).toMatchObject({ running: true, via: 'scheduler' });
      const second = await local.server.inject({
        method: 'POST',
        url: `/api/v1/integrations/${seeded.id}/sync`,
        headers,
      });
      expect(second.statusCode).toBe(409);
      release();
    } finally {
      await local.close();
    }
  });
});
