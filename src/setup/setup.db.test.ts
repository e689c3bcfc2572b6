import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { validateKlarnaCredentials } from '../klarna/key.ts';
import { klarnaConnectionConfig } from '../klarna/klarna.connection.ts';
import { klarnaErrorFromResponse } from '../klarna/klarna.errors.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import { refreshAccessToken, resolveSpirisEndpoints } from '../spiris/oauth.ts';
import { serializeCredentials } from '../spiris/token-store.ts';
import { createConnection, getConnection, updateConnection } from '../store/connections.repository.ts';
import { listEvents, recordEvent } from '../store/events.repository.ts';
import {
  createIntegration,
  getIntegration,
  type Integration,
  type IntegrationMode,
  updateIntegration,
} from '../store/integrations.repository.ts';
import { type ConnectionCheck, type ConnectionTestResult, runConnectionTest } from './connection-test.ts';
import { AesGcmSealer } from './credentials.ts';
import {
  CONNECTION_TEST_EVENT,
  evaluateGoLive,
  GoLiveRefusedError,
  gatherGoLiveFacts,
  MODE_CHANGED_EVENT,
  MODE_REFUSED_EVENT,
  PREVIEW_EVENT,
  postingAllowed,
  setIntegrationMode,
} from './go-live.ts';
import {
  KLARNA_KEY_REVOKED_MESSAGE,
  pauseForKlarnaAuthFailure,
  resumeAfterKlarnaReconnect,
} from './key-lifecycle.ts';
import { Secret } from './secret.ts';

// The setup services against both simulators over real HTTP: every line of the
// connection test in each state, the go-live gate through the one function the CLI and
// the HTTP API share, and the pause on a refused Klarna key.

const YEAR = new Date().getUTCFullYear();
const CLIENT = { clientId: 'setup-client', clientSecret: `cs-${randomBytes(12).toString('hex')}` };
const COMPANIES = {
  invoicing: 'a1000000-0000-4000-8000-000000000002',
  cash: 'a1000000-0000-4000-8000-000000000003',
  noYear: 'a1000000-0000-4000-8000-000000000004',
  lockedYear: 'a1000000-0000-4000-8000-000000000005',
  noOrgLocked: 'a1000000-0000-4000-8000-000000000006',
};
const ALL_SCOPES = ['ea:api', 'offline_access', 'ea:accounting', 'ea:sales', 'ea:purchase'];

let store: TestStore;
let playground: KlarnaSimulator;
let production: KlarnaSimulator;
let spiris: SpirisSimulator;
const sealer = new AesGcmSealer(randomBytes(32));
const deps = () => ({ store, sealer });

beforeAll(async () => {
  [store, playground, production, spiris] = await Promise.all([
    openTestStore(),
    startKlarnaSimulator({
      merchants: [
        { seed: 41, days: 3 },
        { seed: 42, days: 3 },
      ],
    }),
    startKlarnaSimulator({ environment: 'production', merchants: [{ seed: 43, days: 3 }] }),
    startSpirisSimulator({
      clients: [CLIENT],
      companies: [
        {},
        {
          id: COMPANIES.invoicing,
          name: 'Fakturabolaget AB',
          corporateIdentityNumber: '559000-0002',
          productVariant: 2,
        },
        {
          id: COMPANIES.cash,
          name: 'Kontantbolaget AB',
          corporateIdentityNumber: '559000-0003',
          bookkeepingMethod: 1,
        },
        {
          id: COMPANIES.noYear,
          name: 'Gammalt AB',
          corporateIdentityNumber: '559000-0004',
          today: `${YEAR - 3}-06-15`,
        },
        {
          id: COMPANIES.lockedYear,
          name: 'Framtid AB',
          corporateIdentityNumber: '559000-0005',
          today: `${YEAR + 1}-06-15`,
          accountingLockedTo: null,
        },
        {
          id: COMPANIES.noOrgLocked,
          name: 'Utan Nummer AB',
          corporateIdentityNumber: '',
          accountingLockedTo: `${YEAR}-12-31`,
        },
      ],
    }),
  ]);
});

afterAll(async () => {
  await Promise.all([store?.close(), playground?.close(), production?.close(), spiris?.close()]);
});

// ---- fixtures --------------------------------------------------------------------------

async function withKlarna(
  integration: Integration,
  apiKey: string,
  baseUrl: string,
  config: Record<string, unknown> = {},
) {
  const v = validateKlarnaCredentials({ apiKey, baseUrl });
  if (!v.ok) throw new Error(v.message);
  const c = await createConnection(store.db, sealer, {
    kind: 'klarna',
    environment: v.credentials.environment,
    config: { ...klarnaConnectionConfig(v.credentials), ...config },
    secret: v.credentials.apiKey,
  });
  await updateIntegration(store.db, integration.id, { klarnaConnectionId: c.id });
  return c;
}

/** Issued credentials stored as `connect spiris` would store them, without a connect round trip. */
async function withSpiris(
  integration: Integration,
  o: {
    companyId?: string;
    scopes?: string[];
    environment?: 'sandbox' | 'production';
    config?: Record<string, unknown>;
    accessTokenOnly?: boolean;
    refreshToken?: string;
  } = {},
) {
  const endpoints = resolveSpirisEndpoints({
    environment: o.environment ?? 'sandbox',
    identityBaseUrl: spiris.identityBaseUrl,
    apiBaseUrl: spiris.apiBaseUrl,
  });
  const issued = spiris.issueTokens({
    clientId: CLIENT.clientId,
    scopes: o.scopes ?? ALL_SCOPES,
    ...(o.companyId ? { companyId: o.companyId } : {}),
  });
  const secret = o.accessTokenOnly
    ? serializeCredentials({
        accessToken: new Secret(issued.accessToken),
        accessTokenExpiresAt: new Date(Date.now() + 3_000_000).toISOString(),
      })
    : serializeCredentials({
        clientSecret: new Secret(CLIENT.clientSecret),
        refreshToken: new Secret(o.refreshToken ?? issued.refreshToken),
      });
  const c = await createConnection(store.db, sealer, {
    kind: 'spiris',
    environment: o.environment ?? 'sandbox',
    config: {
      authMode: o.accessTokenOnly ? 'access_token' : 'refresh_token',
      scopes: o.scopes ?? ALL_SCOPES,
      pkce: false,
      clientId: CLIENT.clientId,
      ...endpoints,
      ...o.config,
    },
    secret,
  });
  await updateIntegration(store.db, integration.id, { spirisConnectionId: c.id });
  return { connection: c, issued };
}

/** Sets a mode for a test's starting state; production code goes through setIntegrationMode. */
async function forceMode(integration: Integration, mode: IntegrationMode) {
  await store.db.updateTable('integrations').set({ mode }).where('id', '=', integration.id).execute();
}

let n = 0;
const newIntegration = () => createIntegration(store.db, { name: `setup-${++n}` });

function byId(r: ConnectionTestResult): Record<string, ConnectionCheck> {
  return Object.fromEntries(r.checks.map((c) => [c.id, c]));
}

function statuses(r: ConnectionTestResult): Record<string, string> {
  return Object.fromEntries(r.checks.map((c) => [c.id, c.status]));
}

// ---- the connection test ---------------------------------------------------------------

describe('runConnectionTest', () => {
  it('passes every line for a working test setup, and records the run without secrets', async () => {
    const i = await newIntegration();
    const merchant = playground.merchants[0]!;
    const k = await withKlarna(i, merchant.credentials.apiKey, playground.url);
    const { issued } = await withSpiris(i);
    const r = await runConnectionTest({ ...deps(), actor: 'cli:tester' }, i.id);
    expect(statuses(r)).toEqual({
      'klarna.authentication': 'pass',
      'klarna.environment': 'pass',
      'klarna.merchant': 'pass',
      'klarna.payouts': 'pass',
      'klarna.rate_limit': 'pass',
      'klarna.key_activity': 'pass',
      'spiris.token': 'pass',
      'spiris.scopes': 'pass',
      'spiris.company': 'pass',
      'spiris.product_variant': 'pass',
      'spiris.fiscal_year': 'pass',
      'spiris.accounts': 'pass',
      'spiris.bookkeeping_method': 'pass',
      'spiris.environment': 'pass',
    });
    expect(r).toMatchObject({ ok: true, counts: { pass: 14, warn: 0, fail: 0 } });
    const c = byId(r);
    expect(c['klarna.merchant']!.message).toBe(`Merchant ${merchant.merchantId}.`);
    expect(c['klarna.rate_limit']!.message).toMatch(/^\d+ of 50 requests left/);
    expect(c['spiris.company']!.message).toBe('Testbolaget Nordic AB (556677-8899).');
    expect(c['spiris.product_variant']!.message).toMatch(/Standard: includes bookkeeping/);
    expect(c['spiris.environment']!.message).toMatch(
      /Non-production \(sandbox\): in test mode vouchers are posted/,
    );
    expect(c['klarna.authentication']!.message).toMatch(
      /^Klarna accepted the key klarna_test_api_…\w{3} \(playground, eu, http/,
    );

    // Remembered: the merchant for later key changes, the use for the idle warning.
    const after = await getConnection(store.db, k.id);
    expect(after?.externalId).toBe(merchant.merchantId);
    expect(Date.parse((after!.config as { lastUsedAt: string }).lastUsedAt)).toBeGreaterThan(
      Date.now() - 60_000,
    );

    const [event] = await listEvents(store.db, { integrationId: i.id, kindPrefix: CONNECTION_TEST_EVENT });
    expect(event).toMatchObject({ actor: 'cli:tester', data: { ok: true, checks: r.checks } });
    const text = JSON.stringify(event);
    for (const s of [
      merchant.credentials.apiKey.slice(16),
      issued.refreshToken,
      issued.accessToken,
      CLIENT.clientSecret,
    ]) {
      expect(text).not.toContain(s);
    }
  });

  it('fails authentication on a revoked key with the Merchant Portal instruction, and names inactivity', async () => {
    const i = await newIntegration();
    const merchant = playground.merchants[1]!;
    const longAgo = new Date(Date.now() - 70 * 86_400_000).toISOString();
    await withKlarna(i, merchant.credentials.apiKey, playground.url, { lastUsedAt: longAgo });
    await withSpiris(i);
    playground.revokeKey(merchant.credentials.apiKey);
    const r = await runConnectionTest(deps(), i.id);
    const auth = byId(r)['klarna.authentication']!;
    expect(auth.status).toBe('fail');
    expect(auth.message).toContain(KLARNA_KEY_REVOKED_MESSAGE);
    expect(auth.message).toMatch(
      /not been used for 70 days, so Klarna has most likely disabled it for inactivity/,
    );
    expect(auth.fix).toMatch(
      /Merchant Portal under Settings → API credentials.*klarna-spiris klarna connect/,
    );
    // Nothing further is asked of a key Klarna refuses, and a host that refused cannot confirm the environment.
    expect(byId(r)['klarna.payouts']).toBeUndefined();
    expect(byId(r)['klarna.environment']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/cannot be confirmed/),
    });
    expect(r.ok).toBe(false);
  });

  it('warns when the key sat idle for more than 45 days, then notes the use', async () => {
    const i = await newIntegration();
    const key = playground.addMerchant({ seed: 44, days: 2 }).credentials.apiKey;
    const k = await withKlarna(i, key, playground.url, {
      lastUsedAt: new Date(Date.now() - 50 * 86_400_000).toISOString(),
    });
    await withSpiris(i);
    const r = await runConnectionTest(deps(), i.id);
    expect(byId(r)['klarna.key_activity']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/last used 50 days ago; Klarna disables keys unused for two months/),
      fix: expect.stringMatching(/scheduled sync/),
    });
    expect(r.ok).toBe(true);
    const lastUsed = (await getConnection(store.db, k.id))?.config.lastUsedAt as string;
    expect(Date.parse(lastUsed)).toBeGreaterThan(Date.now() - 60_000);
  });

  it('warns when Klarna cannot name the merchant yet, and fails when the payouts cannot be read', async () => {
    const i = await newIntegration();
    await withKlarna(i, playground.merchants[0]!.credentials.apiKey, playground.url);
    await withSpiris(i);
    // A merchant without payouts: nothing in the answer names the merchant.
    const empty: typeof fetch = async (input, init) => {
      if (String(input).includes('/payouts?size=1&offset=0')) {
        return Response.json({ payouts: [], pagination: { count: 0, total: 0 } });
      }
      return fetch(input, init);
    };
    const c = byId(await runConnectionTest({ ...deps(), fetch: empty }, i.id));
    expect(c['klarna.merchant']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/no payouts yet, so the merchant id behind the key cannot be confirmed/),
    });

    playground.injectFault({ kind: '500', times: 2, pathIncludes: 'start_date' });
    const p = byId(await runConnectionTest(deps(), i.id))['klarna.payouts']!;
    expect(p.status).toBe('fail');
    expect(p.message).toMatch(/Klarna answered 500/);
  });

  it('fails unreadable settings instead of guessing a mapping', async () => {
    const i = await newIntegration();
    await updateIntegration(store.db, i.id, { settings: { mapping: { postingMode: 'bogus' } } });
    await withSpiris(i);
    const r = await runConnectionTest(deps(), i.id);
    expect(byId(r)['integration.settings']).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/mapping\.postingMode/),
    });
    // Without a mapping there is nothing to check the chart against.
    expect(byId(r)['spiris.accounts']).toBeUndefined();
  });

  it('warns about a company without an organisation number and a lock date ahead of today', async () => {
    const i = await newIntegration();
    await withSpiris(i, { companyId: COMPANIES.noOrgLocked });
    const c = byId(await runConnectionTest(deps(), i.id));
    expect(c['spiris.company']).toMatchObject({
      status: 'warn',
      message: 'Utan Nummer AB: Spiris returned no organisation number, so the company cannot be pinned.',
    });
    expect(c['spiris.fiscal_year']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(new RegExp(`is open, but bookkeeping is locked through ${YEAR}-12-31`)),
    });
  });

  it('fails the merchant line when the key answers for another merchant than the payouts', async () => {
    const i = await newIntegration();
    const k = await withKlarna(i, playground.merchants[0]!.credentials.apiKey, playground.url);
    await updateConnection(store.db, k.id, { externalId: 'K000001' });
    await withSpiris(i);
    const merchant = byId(await runConnectionTest(deps(), i.id))['klarna.merchant']!;
    expect(merchant).toMatchObject({ status: 'fail' });
    expect(merchant.message).toMatch(
      /answers for merchant K\d+, but this integration's payouts are from merchant K000001/,
    );
    expect(merchant.fix).toMatch(/--confirm-merchant-change/);
  });

  it('warns when little of the rate limit is left', async () => {
    const i = await newIntegration();
    await withKlarna(i, playground.merchants[0]!.credentials.apiKey, playground.url);
    await withSpiris(i);
    // Another tool on the same merchant id has used most of the window.
    const busy: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!String(input).startsWith(playground.url)) return res;
      const headers = new Headers(res.headers);
      headers.set('x-ratelimit-limit', '200, 200;w=1');
      headers.set('x-ratelimit-remaining', '7');
      return new Response(await res.arrayBuffer(), { status: res.status, headers });
    };
    const rate = byId(await runConnectionTest({ ...deps(), fetch: busy }, i.id))['klarna.rate_limit']!;
    expect(rate).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/^Only 7 of 200 requests left/),
    });
  });

  it('fails the environment of both sides when a live integration has a test key and a sandbox', async () => {
    const i = await newIntegration();
    await withKlarna(i, playground.merchants[0]!.credentials.apiKey, playground.url);
    await withSpiris(i);
    await forceMode(i, 'live');
    const c = byId(await runConnectionTest(deps(), i.id));
    expect(c['klarna.environment']).toMatchObject({
      status: 'fail',
      message: 'The integration is live, but the key is a test key (playground).',
    });
    expect(c['spiris.environment']).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/live, but the Spiris connection is sandbox \(non-production\)/),
    });
  });

  it('says a production company is preview-only in test mode', async () => {
    const i = await newIntegration();
    await withKlarna(i, production.merchants[0]!.credentials.apiKey, production.url);
    await withSpiris(i, { environment: 'production' });
    await forceMode(i, 'test');
    const c = byId(await runConnectionTest(deps(), i.id));
    expect(c['spiris.environment']).toMatchObject({
      status: 'pass',
      message: expect.stringMatching(
        /^Production company: until the integration is live, payouts are only previewed/,
      ),
    });
    expect(c['klarna.environment']!.message).toMatch(
      /live key \(production\).*in test mode live payouts are previewed/,
    );
  });

  it('fails the scopes (and the company read) when the token lacks the sales scope', async () => {
    const i = await newIntegration();
    await withSpiris(i, { scopes: ['ea:api', 'offline_access', 'ea:accounting'] });
    const c = byId(await runConnectionTest(deps(), i.id));
    expect(c['klarna.connection']).toMatchObject({
      status: 'fail',
      fix: 'Run `klarna-spiris klarna connect`.',
    });
    expect(c['spiris.token']!.status).toBe('pass');
    expect(c['spiris.scopes']).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(
        /lacks scopes for GET \/companysettings \(needs ea:sales or ea:sales_readonly\)/,
      ),
    });
    expect(c['spiris.company']).toMatchObject({ status: 'fail', message: expect.stringMatching(/4006/) });
  });

  it('fails a subscription without bookkeeping with the 4009 explanation', async () => {
    const i = await newIntegration();
    await withSpiris(i, { companyId: COMPANIES.invoicing });
    const v = byId(await runConnectionTest(deps(), i.id))['spiris.product_variant']!;
    expect(v.status).toBe('fail');
    expect(v.message).toMatch(
      /The subscription is Invoicing \(4009\): .*vouchers need a variant with bookkeeping/,
    );
    expect(v.fix).toMatch(/Upgrade the Spiris subscription/);
  });

  it('warns when the posting mode does not suit the bookkeeping method', async () => {
    const i = await newIntegration();
    await withSpiris(i, { companyId: COMPANIES.cash });
    const m = byId(await runConnectionTest(deps(), i.id))['spiris.bookkeeping_method']!;
    expect(m.status).toBe('warn');
    expect(m.message).toMatch(/cash method \(kontantmetoden\), but this integration is set to clearing mode/);
    expect(m.fix).toMatch(/Cash mode \(kontantmetoden\) books each payout/);
  });

  it('fails without a fiscal year for today, and with a locked one', async () => {
    const none = await newIntegration();
    await withSpiris(none, { companyId: COMPANIES.noYear });
    expect(byId(await runConnectionTest(deps(), none.id))['spiris.fiscal_year']).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/^No fiscal year in Spiris covers today/),
      fix: expect.stringMatching(/Settings → Fiscal years/),
    });
    const locked = await newIntegration();
    await withSpiris(locked, { companyId: COMPANIES.lockedYear });
    expect(byId(await runConnectionTest(deps(), locked.id))['spiris.fiscal_year']).toMatchObject({
      status: 'fail',
      message: `The fiscal year ${YEAR}-01-01–${YEAR}-12-31 is locked for bookkeeping.`,
    });
  });

  it('fails for every mapped account that is missing or inactive', async () => {
    const i = await newIntegration();
    await updateIntegration(store.db, i.id, {
      settings: { mapping: { bankAccount: '1999', accounts: { fee_amount: '6065' } } },
    });
    await withSpiris(i);
    const a = byId(await runConnectionTest(deps(), i.id))['spiris.accounts']!;
    expect(a.status).toBe('fail');
    expect(a.message).toMatch(/Account 1999 \(bank account for SEK payouts\) does not exist/);
    expect(a.message).toMatch(/Account 6065 Gammalt konto \(Klarna avgifter\) is inactive/);
  });

  it('fails the company line when the token opens another company than the pinned one', async () => {
    const i = await newIntegration();
    await withSpiris(i, { config: { expectedOrgNumber: '559000-0003' } });
    expect(byId(await runConnectionTest(deps(), i.id))['spiris.company']).toMatchObject({
      status: 'fail',
      message:
        'The token opens Testbolaget Nordic AB (556677-8899), but this integration books into organisation number 559000-0003.',
    });
  });

  it('warns about a bare access token and fails a spent refresh token', async () => {
    const bare = await newIntegration();
    await withSpiris(bare, { accessTokenOnly: true });
    expect(byId(await runConnectionTest(deps(), bare.id))['spiris.token']).toMatchObject({
      status: 'warn',
      message: expect.stringMatching(/cannot be renewed \(no refresh token\)/),
    });

    const spent = await newIntegration();
    const issued = spiris.issueTokens({ clientId: CLIENT.clientId, scopes: ALL_SCOPES });
    await refreshAccessToken(
      {
        tokenUrl: `${spiris.identityBaseUrl}/connect/token`,
        clientId: CLIENT.clientId,
        clientSecret: new Secret(CLIENT.clientSecret),
      },
      new Secret(issued.refreshToken),
    );
    await withSpiris(spent, { refreshToken: issued.refreshToken });
    const r = await runConnectionTest(deps(), spent.id);
    expect(byId(r)['spiris.token']).toMatchObject({
      status: 'fail',
      message: expect.stringMatching(/invalid_grant.*Reconnect with `klarna-spiris connect spiris`/),
    });
    expect(byId(r)['spiris.company']).toBeUndefined();
  });
});

// ---- the go-live gate ------------------------------------------------------------------

describe('setIntegrationMode: the one writer of mode', () => {
  /** Live key, production company, passing test, clean preview: only the confirmation missing. */
  async function readyForLive() {
    const i = await newIntegration();
    await withKlarna(i, production.merchants[0]!.credentials.apiKey, production.url);
    await withSpiris(i, { environment: 'production' });
    await forceMode(i, 'test');
    const test = await runConnectionTest(deps(), i.id);
    expect(test.ok).toBe(true);
    await preview(i, 0);
    return i;
  }
  const preview = (i: Integration, blocking: number) =>
    recordEvent(store.db, {
      integrationId: i.id,
      actor: 'cli:tester',
      kind: PREVIEW_EVENT,
      message: 'preview',
      data: { payouts: 3, ready: 3 - blocking, blocking },
    });
  const live = (i: Integration, confirm = true) =>
    setIntegrationMode({ db: store.db }, { integrationId: i.id, mode: 'live', confirm, actor: 'cli:tester' });
  async function refusal(i: Integration, confirm = true): Promise<string[]> {
    const err = await live(i, confirm).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(GoLiveRefusedError);
    expect((await getIntegration(store.db, i.id))?.mode).not.toBe('live');
    return (err as GoLiveRefusedError).evaluation.checks.filter((c) => !c.ok).map((c) => c.id);
  }

  it('refuses without the explicit confirmation, and logs the attempt', async () => {
    const i = await readyForLive();
    expect(await refusal(i, false)).toEqual(['confirmation']);
    const [attempt] = await listEvents(store.db, { integrationId: i.id, kindPrefix: MODE_REFUSED_EVENT });
    expect(attempt).toMatchObject({ actor: 'cli:tester', data: { to: 'live' } });
  });

  it('refuses with a connection test older than 24 hours', async () => {
    const i = await readyForLive();
    await store.db
      .updateTable('events')
      .set({ at: new Date(Date.now() - 25 * 3_600_000).toISOString() })
      .where('integration_id', '=', i.id)
      .where('kind', '=', CONNECTION_TEST_EVENT)
      .execute();
    expect(await refusal(i)).toEqual(['connection_test']);
  });

  it('refuses when the latest preview has a blocking issue', async () => {
    const i = await readyForLive();
    await preview(i, 1);
    expect(await refusal(i)).toEqual(['preview']);
  });

  it('refuses after a mapping change until the test and the preview are run again', async () => {
    const i = await readyForLive();
    await updateIntegration(store.db, i.id, { settings: { mapping: { bankAccount: '1932' } } });
    expect(await refusal(i)).toEqual(['connection_test']);
    await runConnectionTest(deps(), i.id);
    expect(await refusal(i)).toEqual(['preview']);
    await preview(i, 0);
    expect((await live(i)).integration.mode).toBe('live');
  });

  it('refuses a test key and a sandbox company', async () => {
    const i = await newIntegration();
    await withKlarna(i, playground.merchants[0]!.credentials.apiKey, playground.url);
    await withSpiris(i, { environment: 'sandbox' });
    await runConnectionTest(deps(), i.id);
    await preview(i, 0);
    expect(await refusal(i)).toEqual(['klarna_live_key', 'spiris_production']);
  });

  it('goes live when all holds, records who did it, and leaves live without a gate', async () => {
    const i = await readyForLive();
    const r = await live(i);
    expect(r).toMatchObject({ previousMode: 'test', changed: true, integration: { mode: 'live' } });
    expect(r.evaluation?.allowed).toBe(true);
    const [changed] = await listEvents(store.db, { integrationId: i.id, kindPrefix: MODE_CHANGED_EVENT });
    expect(changed).toMatchObject({
      actor: 'cli:tester',
      message: expect.stringMatching(/from test to live/),
      data: { from: 'test', to: 'live', confirmed: true },
    });
    expect((await live(i)).changed).toBe(false);
    const conn = await getConnection(store.db, (await getIntegration(store.db, i.id))!.spirisConnectionId!);
    expect(postingAllowed({ mode: 'live' }, conn)).toEqual({ allowed: true });

    const back = await setIntegrationMode(
      { db: store.db },
      { integrationId: i.id, mode: 'off', actor: 'api:ops' },
    );
    expect(back).toMatchObject({ previousMode: 'live', changed: true, integration: { mode: 'off' } });
  });

  it('rejects an unknown mode', async () => {
    const i = await newIntegration();
    await expect(
      setIntegrationMode(
        { db: store.db },
        { integrationId: i.id, mode: 'on' as IntegrationMode, actor: 'x' },
      ),
    ).rejects.toThrow(/Unknown mode "on"/);
  });
});

describe('only go-live.ts writes the mode', () => {
  it('no other product source sets integrations.mode', () => {
    const root = join(import.meta.dirname, '..');
    const offenders: string[] = [];
    const walk = (dir: string) => {
      for (const name of readdirSync(dir)) {
        const path = join(dir, name);
        if (statSync(path).isDirectory()) {
          if (!['simulators', 'migrations', 'testing'].includes(name)) walk(path);
          continue;
        }
        if (!name.endsWith('.ts') || /\.test\.ts$|test-kit|test-fixtures/.test(name)) continue;
        if (path.endsWith(join('setup', 'go-live.ts')) || path.endsWith('integrations.repository.ts'))
          continue;
        const text = readFileSync(path, 'utf8');
        const writes =
          /updateIntegration\([^)]*\{[^}]*\bmode\s*:/s.test(text) ||
          /updateTable\(\s*['"]integrations['"]\s*\)[\s\S]{0,200}?\bmode\b/.test(text);
        if (writes) offenders.push(path.slice(root.length + 1));
      }
    };
    walk(root);
    expect(offenders).toEqual([]);
  });
});

// ---- a refused Klarna key ----------------------------------------------------------------

describe('pauseForKlarnaAuthFailure', () => {
  const failure = (status: number) =>
    klarnaErrorFromResponse({
      status,
      request: 'GET /settlements/v1/payouts',
      contentType: 'application/json',
      bodyText:
        '{"error_code":"BAD_CREDENTIALS","error_messages":["Invalid credentials"],"correlation_id":"c-1"}',
      headers: {},
      target: 'production, eu, key klarna_live_api_…xyz',
    });

  it('pauses on 401 with the Merchant Portal instruction, once, and lifts on a new key', async () => {
    const i = await newIntegration();
    const k = await withKlarna(i, production.merchants[0]!.credentials.apiKey, production.url);
    await forceMode(i, 'live');

    expect(await pauseForKlarnaAuthFailure(store.db, i.id, failure(500))).toEqual({ paused: false });
    expect(await pauseForKlarnaAuthFailure(store.db, i.id, new Error('boom'))).toEqual({ paused: false });

    const r = await pauseForKlarnaAuthFailure(store.db, i.id, failure(401));
    expect(r.paused).toBe(true);
    const paused = (await getIntegration(store.db, i.id))!;
    expect(paused).toMatchObject({ status: 'paused', mode: 'live' });
    expect(paused.statusReason).toContain(
      'key revoked or disabled: create a new one in the Merchant Portal under Settings → API credentials',
    );
    expect((await getConnection(store.db, k.id))?.status).toBe('rejected');
    expect(postingAllowed(paused, { environment: 'production' })).toMatchObject({ allowed: false });
    expect(
      evaluateGoLive(await gatherGoLiveFacts(store.db, i.id, { confirmed: true })).checks.find(
        (c) => c.id === 'connections_ready',
      )?.ok,
    ).toBe(false);

    await pauseForKlarnaAuthFailure(store.db, i.id, failure(401));
    const events = await listEvents(store.db, { integrationId: i.id, kindPrefix: 'integration.paused' });
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({ actor: 'system', data: { status: 401, correlationId: 'c-1' } });

    expect(await resumeAfterKlarnaReconnect(store.db, i.id, 'cli:tester')).toBe(true);
    expect(await getIntegration(store.db, i.id)).toMatchObject({ status: 'ok', statusReason: null });
    expect(await resumeAfterKlarnaReconnect(store.db, i.id, 'cli:tester')).toBe(false);
  });

  it('pauses on 403 with its own explanation', async () => {
    const i = await newIntegration();
    const r = await pauseForKlarnaAuthFailure(store.db, i.id, failure(403));
    expect(r.reason).toMatch(/denied access to settlements \(403\)/);
  });
});
