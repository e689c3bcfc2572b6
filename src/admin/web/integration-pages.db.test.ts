import type { LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../admin/auth/password.ts';
import { CASH_MODE_EXPLANATION } from '../../booking/mapping.ts';
import { setAdminPassword } from '../../store/admin.repository.ts';
import { updateConnection } from '../../store/connections.repository.ts';
import type { Integration } from '../../store/integrations.repository.ts';
import {
  type AdminHarness,
  FAST_TEST_OPTIONS,
  openAdminHarness,
  SEEDED_KLARNA_KEY,
  seedIntegration,
} from '../admin-test-kit.ts';
import { escapeHtml } from './html.ts';

// The integration pages without a browser: every section renders and keeps the key out,
// their forms need the session's CSRF token, the go-live form answers a refusal with the
// checklist, and the OAuth callback takes nothing it did not start.

const PASSWORD = 'ett långt och hemligt lösenord';
let h: AdminHarness;
let seeded: Integration;
let cookie = '';
let csrf = '';

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const get = (url: string) => h.server.inject({ url, headers: { cookie } });
const post = (url: string, fields: Record<string, string>) =>
  h.server.inject({
    method: 'POST',
    url,
    headers: { ...FORM, cookie },
    payload: new URLSearchParams(fields).toString(),
  });
const cookiesOf = (res: LightMyRequestResponse) =>
  (res.cookies as { name: string; value: string }[]).map((c) => `${c.name}=${c.value}`).join('; ');

beforeAll(async () => {
  h = await openAdminHarness();
  seeded = await seedIntegration(h.app);
  await setAdminPassword(h.app.store.db, await hashPassword(PASSWORD, FAST_TEST_OPTIONS.scryptParams));
  const login = await h.server.inject('/login');
  const pre = cookiesOf(login);
  const token = /name="_csrf" value="([^"]+)"/.exec(login.body)![1]!;
  const ok = await h.server.inject({
    method: 'POST',
    url: '/login',
    headers: { ...FORM, cookie: pre },
    payload: new URLSearchParams({ _csrf: token, password: PASSWORD }).toString(),
  });
  expect(ok.statusCode).toBe(303);
  cookie = cookiesOf(ok);
  csrf = /name="_csrf" value="([^"]+)"/.exec((await get('/')).body)![1]!;
});
afterAll(async () => {
  await h?.close();
});

describe(`integration pages on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('renders every section, with the key only masked', async () => {
    for (const section of [
      '',
      '/setup',
      '/connections',
      '/mapping',
      '/preview',
      '/go-live',
      '/payouts',
      '/runs',
      '/events',
    ]) {
      const res = await get(`/integrations/${seeded.id}${section}`);
      expect(res.statusCode, section).toBe(200);
      expect(res.body).not.toContain(SEEDED_KLARNA_KEY);
    }
    const setup = await get(`/integrations/${seeded.id}/setup`);
    expect(setup.body).toContain('klarna_test_api_…Lk9');
    expect(setup.body).toMatch(/<script src="\/assets\/klarna-key\.js\?v=[0-9a-f]+" defer><\/script>/);
    expect(setup.body).toContain('http://localhost:80/oauth/spiris/callback');
  });

  it('needs the CSRF token on every form', async () => {
    for (const url of [
      'mode',
      'sync',
      'klarna',
      'preview',
      'mapping',
      'connection-test',
      'spiris/authorize',
    ]) {
      const res = await post(`/integrations/${seeded.id}/${url}`, { mode: 'off' });
      expect(res.statusCode, url).toBe(403);
    }
  });

  it('answers a refused go-live with the checklist and its fixes, and keeps the mode', async () => {
    const res = await post(`/integrations/${seeded.id}/mode`, { _csrf: csrf, mode: 'live', confirm: 'yes' });
    expect(res.statusCode).toBe(409);
    expect(res.body).toContain('data-check="klarna_live_key"');
    expect(res.body).toContain('Åtgärd:');
    expect(res.body).not.toContain('data-check="confirmation" class');
    const page = await get(`/integrations/${seeded.id}/go-live`);
    expect(page.body).toContain('badge-mode-test');
  });

  it('shows each failed connection check with its fix', async () => {
    // Klarna unreachable: a closed local port refuses at once.
    const other = await seedIntegration(h.app, 'Stängda porten AB');
    await updateConnection(h.app.store.db, other.klarnaConnectionId!, {
      config: { baseUrl: 'http://127.0.0.1:9', region: 'eu' },
    });
    const run = await post(`/integrations/${other.id}/connection-test`, { _csrf: csrf });
    expect(run.statusCode).toBe(303);
    const page = await get(run.headers.location as string);
    expect(page.statusCode).toBe(200);
    const failed = [...page.body.matchAll(/<tr class="check-fail">([\s\S]*?)<\/tr>/g)].map((m) => m[1]!);
    expect(failed.length).toBeGreaterThan(0);
    for (const row of failed) expect(row).toMatch(/<p class="fix"><strong>Åtgärd:<\/strong> \S/);
  });

  it('refuses a malformed key on submit with the same words as the live check', async () => {
    const res = await post(`/integrations/${seeded.id}/klarna`, { _csrf: csrf, apiKey: 'K123456_abcd12345' });
    expect(res.statusCode).toBe(422);
    expect(res.body).toContain('äldre Klarna-användarnamn');
  });

  it('explains what cash mode assumes next to the posting-mode choice, plainly once it is chosen', async () => {
    const url = `/integrations/${seeded.id}/mapping`;
    const sv = await get(url);
    expect(sv.body).toContain('kontantmetoden utgår från en momssats per land');
    expect(sv.body).toContain('livsmedel 12 %, böcker 6 %');
    expect(sv.body).toMatch(/<p class="hint" id="map-postingMode-cash">Kontantmetoden bokför/);
    expect((await get(`${url}?lang=en`)).body).toContain(escapeHtml(CASH_MODE_EXPLANATION));

    const saved = await post(url, { _csrf: csrf, postingMode: 'cash' });
    expect(saved.statusCode).toBe(303);
    const cash = await get(`${url}?lang=en`);
    expect(cash.body).toMatch(/<option value="cash" selected>/);
    expect(cash.body).toContain(
      `<div class="notice notice-info" role="status">${escapeHtml(CASH_MODE_EXPLANATION)}</div>`,
    );
    expect((await post(url, { _csrf: csrf, postingMode: 'clearing' })).statusCode).toBe(303);
  });

  it('reports sync progress as JSON for the page to poll', async () => {
    const res = await get(`/integrations/${seeded.id}/progress.json`);
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    expect(res.json()).toMatchObject({
      integrationId: seeded.id,
      running: false,
      lastRun: { status: 'succeeded' },
    });
  });

  it('starts the OAuth flow behind a link, and the callback takes only the flow it started', async () => {
    const start = await post(`/integrations/${seeded.id}/spiris/authorize`, {
      _csrf: csrf,
      environment: 'sandbox',
      clientId: 'my-client',
      clientSecret: 'client-secret-value',
      identityBaseUrl: 'http://127.0.0.1:9/identity',
      apiBaseUrl: 'http://127.0.0.1:9/v2',
    });
    expect(start.statusCode).toBe(200);
    const href = /id="oauth-continue" href="([^"]+)"/.exec(start.body)![1]!.replace(/&amp;/g, '&');
    const authorize = new URL(href);
    expect(authorize.origin + authorize.pathname).toBe('http://127.0.0.1:9/identity/connect/authorize');
    expect(authorize.searchParams.get('code_challenge_method')).toBe('S256');
    expect(authorize.searchParams.get('redirect_uri')).toBe('http://localhost:80/oauth/spiris/callback');
    expect(start.body).not.toContain('client-secret-value');
    const flow = (start.cookies as { name: string; value: string; path: string; httpOnly: boolean }[]).find(
      (c) => c.name === 'ks_oauth',
    )!;
    expect(flow).toMatchObject({ path: '/oauth/spiris/callback', httpOnly: true });
    expect(decodeURIComponent(flow.value)).not.toContain('client-secret-value');

    const state = authorize.searchParams.get('state')!;
    const withFlow = `${cookie}; ks_oauth=${flow.value}`;
    const wrongState = await h.server.inject({
      url: `/oauth/spiris/callback?code=abc&state=${state}x`,
      headers: { cookie: withFlow },
    });
    expect(wrongState.statusCode).toBe(400);
    const noFlow = await get(`/oauth/spiris/callback?code=abc&state=${state}`);
    expect(noFlow.statusCode).toBe(400);
    const noSession = await h.server.inject({
      url: `/oauth/spiris/callback?code=abc&state=${state}`,
      headers: { cookie: `ks_oauth=${flow.value}` },
    });
    expect(noSession.statusCode).toBe(303);
    expect(noSession.headers.location).toMatch(/^\/login\?next=/);
  });
});
