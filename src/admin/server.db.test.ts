import { Ajv2020 } from 'ajv/dist/2020.js';
import type { FastifyInstance, LightMyRequestResponse } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { recordPayoutBooked, recordUpstreamCall } from '../service/metrics.ts';
import { findActiveApiToken, listApiTokens } from '../store/admin.repository.ts';
import type { Integration } from '../store/integrations.repository.ts';
import { type AdminHarness, openAdminHarness, SEEDED_KLARNA_KEY, seedIntegration } from './admin-test-kit.ts';
import { createApiToken } from './auth/api-tokens.ts';
import { sha256Hex } from './auth/tokens.ts';

const PASSWORD = 'ett långt och hemligt lösenord';

let h: AdminHarness;
let server: FastifyInstance;
let seeded: Integration;
let token: string;

beforeAll(async () => {
  h = await openAdminHarness();
  server = h.server;
  seeded = await seedIntegration(h.app);
  token = (await createApiToken(h.app.store.db, 'tests', 'test')).token;
});
afterAll(async () => {
  await h?.close();
});

/** Cookies as a browser would keep them between inject() calls. */
class Jar {
  readonly values = new Map<string, string>();
  take(res: LightMyRequestResponse): LightMyRequestResponse {
    for (const c of res.cookies as { name: string; value: string; maxAge?: number; expires?: Date }[]) {
      const expired = c.maxAge === 0 || (c.expires && c.expires.getTime() < Date.now());
      if (expired || c.value === '') this.values.delete(c.name);
      else this.values.set(c.name, c.value);
    }
    return res;
  }
  get header(): string {
    return [...this.values].map(([k, v]) => `${k}=${v}`).join('; ');
  }
}

function csrfFrom(body: string): string {
  const m = /name="_csrf" value="([^"]+)"/.exec(body);
  if (!m) throw new Error('no CSRF field in page');
  return m[1]!;
}

const form = (fields: Record<string, string>) => new URLSearchParams(fields).toString();
const FORM = { 'content-type': 'application/x-www-form-urlencoded' };
const auth = (t = token) => ({ authorization: `Bearer ${t}` });

describe(`admin server on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('/healthz answers ok while the store is reachable', async () => {
    const res = await server.inject('/healthz');
    expect(res.statusCode).toBe(200);
    expect(res.json()).toEqual({ status: 'ok' });
  });

  it('/metrics speaks Prometheus text, with store gauges and upstream counters', async () => {
    recordUpstreamCall('spiris', 'rate_limited', { code: 429, durationMs: 120 });
    recordUpstreamCall('klarna', 'ok', { durationMs: 80 });
    recordPayoutBooked(seeded.id);
    const res = await server.inject('/metrics');
    expect(res.statusCode).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    const body = res.body;
    expect(body).toContain('# TYPE klarna_spiris_upstream_requests_total counter');
    expect(body).toContain('klarna_spiris_upstream_requests_total{upstream="spiris",outcome="rate_limited"}');
    expect(body).toContain('klarna_spiris_upstream_errors_total{upstream="spiris",code="429"}');
    expect(body).toContain(`klarna_spiris_payouts_booked_total{integration_id="${seeded.id}"}`);
    expect(body).toContain(
      `klarna_spiris_payouts_needs_attention{integration_id="${seeded.id}",integration="Butiken AB"} 1`,
    );
    expect(body).toMatch(
      new RegExp(
        `klarna_spiris_last_success_timestamp_seconds\\{integration_id="${seeded.id}",integration="Butiken AB"\\} \\d+`,
      ),
    );
    // Every sample line is `name{labels} value`: a cheap check that the exposition parses.
    for (const line of body.split('\n').filter((l) => l && !l.startsWith('#'))) {
      expect(line).toMatch(/^[a-z_:][a-z0-9_:]*(\{.*\})? -?[0-9.e+-]+|NaN|[+-]Inf$/i);
    }
  });

  describe('API', () => {
    it('refuses requests without a valid token, in the error shape', async () => {
      for (const headers of [{}, { authorization: 'Bearer ks_nope' }, { authorization: 'Basic abc' }]) {
        const res = await server.inject({ url: '/api/v1/integrations', headers });
        expect(res.statusCode).toBe(401);
        expect(res.json()).toMatchObject({ error: { code: 'unauthorized', message: expect.any(String) } });
      }
    });

    it('lists integrations with health and stamps the token as used', async () => {
      const res = await server.inject({ url: '/api/v1/integrations', headers: auth() });
      expect(res.statusCode).toBe(200);
      const item = res.json().items.find((i: { id: string }) => i.id === seeded.id);
      expect(item).toMatchObject({
        name: 'Butiken AB',
        mode: 'test',
        health: { state: 'attention', needsAttention: 1, lastRun: { status: 'succeeded' } },
      });
      const used = await findActiveApiToken(h.app.store.db, sha256Hex(token));
      expect(used?.lastUsedAt).not.toBeNull();
    });

    it('creates, reads and renames an integration; names stay unique', async () => {
      const created = await server.inject({
        method: 'POST',
        url: '/api/v1/integrations',
        headers: auth(),
        payload: { name: '  Webbshop Två  ' },
      });
      expect(created.statusCode).toBe(201);
      const id = created.json().id as string;
      expect(created.json()).toMatchObject({ name: 'Webbshop Två', mode: 'off', health: { state: 'setup' } });

      const dup = await server.inject({
        method: 'POST',
        url: '/api/v1/integrations',
        headers: auth(),
        payload: { name: 'Butiken AB' },
      });
      expect(dup.statusCode).toBe(409);
      expect(dup.json().error.code).toBe('conflict');

      const renamed = await server.inject({
        method: 'PATCH',
        url: `/api/v1/integrations/${id}`,
        headers: auth(),
        payload: { name: 'Webbshop 2' },
      });
      expect(renamed.json().name).toBe('Webbshop 2');
      const got = await server.inject({ url: `/api/v1/integrations/${id}`, headers: auth() });
      expect(got.json().name).toBe('Webbshop 2');

      const events = await server.inject({
        url: `/api/v1/events?integrationId=${id}&kind=integration.`,
        headers: auth(),
      });
      expect(events.json().items.map((e: { kind: string; actor: string }) => [e.kind, e.actor])).toEqual([
        ['integration.renamed', 'api:tests'],
        ['integration.created', 'api:tests'],
      ]);
    });

    it('answers invalid input and unknown ids with codes', async () => {
      const bad = await server.inject({
        method: 'POST',
        url: '/api/v1/integrations',
        headers: auth(),
        payload: { name: '' },
      });
      expect(bad.statusCode).toBe(400);
      expect(bad.json().error).toMatchObject({
        code: 'invalid_request',
        message: expect.stringMatching(/name/),
      });
      const missing = await server.inject({ url: '/api/v1/integrations/nope', headers: auth() });
      expect(missing.statusCode).toBe(404);
      expect(missing.json()).toEqual({ error: { code: 'not_found', message: 'No such integration.' } });
      const noRoute = await server.inject({ url: '/api/v1/nothing', headers: auth() });
      expect(noRoute.json().error.code).toBe('not_found');
    });

    it('shows connections masked, never the credential', async () => {
      const res = await server.inject({
        url: `/api/v1/integrations/${seeded.id}/connections`,
        headers: auth(),
      });
      expect(res.statusCode).toBe(200);
      const items = res.json().items;
      expect(items.map((c: { kind: string }) => c.kind).sort()).toEqual(['klarna', 'spiris']);
      expect(items.find((c: { kind: string }) => c.kind === 'klarna').secretHint).toBe(
        'klarna_test_api_…Lk9',
      );
      expect(res.body).not.toContain(SEEDED_KLARNA_KEY);
      expect(res.body).not.toContain('spiris-refresh-token');
      expect(res.body).not.toMatch(/sealed|v1:/);
    });

    it('lists sync runs, latest first', async () => {
      const res = await server.inject({
        url: `/api/v1/sync-runs?integrationId=${seeded.id}&limit=5`,
        headers: auth(),
      });
      expect(res.json().items.map((r: { status: string }) => r.status)).toEqual(['succeeded', 'failed']);
    });

    it('stops accepting a token once it is revoked', async () => {
      const { token: temp, record } = await createApiToken(h.app.store.db, 'temporary', 'test');
      expect((await server.inject({ url: '/api/v1/sync-runs', headers: auth(temp) })).statusCode).toBe(200);
      const { revokeApiToken } = await import('../store/admin.repository.ts');
      await revokeApiToken(h.app.store.db, record.id);
      expect((await server.inject({ url: '/api/v1/sync-runs', headers: auth(temp) })).statusCode).toBe(401);
      const listed = (await listApiTokens(h.app.store.db)).find((t) => t.id === record.id);
      expect(listed?.revokedAt).not.toBeNull();
      expect(JSON.stringify(listed)).not.toContain(temp);
    });
  });

  it('serves an OpenAPI 3.1 document generated from the route schemas', async () => {
    const res = await server.inject('/api/openapi.json');
    expect(res.statusCode).toBe(200);
    const doc = JSON.parse(res.body);
    expect(doc.openapi).toBe('3.1.0');
    const ops = Object.entries(doc.paths as Record<string, Record<string, unknown>>).flatMap(([p, item]) =>
      Object.keys(item).map((m) => `${m.toUpperCase()} ${p}`),
    );
    expect(ops.sort()).toEqual(
      [
        'GET /api/v1/events',
        'GET /api/v1/integrations',
        'GET /api/v1/integrations/{id}',
        'GET /api/v1/integrations/{id}/connections',
        'GET /api/v1/integrations/{id}/go-live',
        'GET /api/v1/integrations/{id}/mapping',
        'GET /api/v1/integrations/{id}/payouts',
        'GET /api/v1/integrations/{id}/sync',
        'GET /api/v1/sync-runs',
        'GET /healthz',
        'PATCH /api/v1/integrations/{id}',
        'POST /api/v1/integrations',
        'POST /api/v1/integrations/{id}/connection-test',
        'POST /api/v1/integrations/{id}/connections/klarna',
        'POST /api/v1/integrations/{id}/connections/spiris',
        'POST /api/v1/integrations/{id}/payouts/{ref}/retry',
        'POST /api/v1/integrations/{id}/payouts/{ref}/reverse',
        'POST /api/v1/integrations/{id}/payouts/{ref}/skip',
        'POST /api/v1/integrations/{id}/preview',
        'POST /api/v1/integrations/{id}/sync',
        'PUT /api/v1/integrations/{id}/mapping',
        'PUT /api/v1/integrations/{id}/mode',
      ].sort(),
    );
    expect(doc.components.securitySchemes.bearerAuth).toMatchObject({ type: 'http', scheme: 'bearer' });
    // Every schema in the document must compile as JSON Schema 2020-12 (OpenAPI 3.1's dialect).
    const ajv = new Ajv2020({ strict: false, validateFormats: false });
    let compiled = 0;
    type Media = { content?: Record<string, { schema?: object }> };
    type Operation = { responses: Record<string, Media>; requestBody?: Media };
    for (const item of Object.values(doc.paths as Record<string, Record<string, Operation>>)) {
      for (const op of Object.values(item)) {
        expect(op.responses).toBeTruthy();
        for (const r of Object.values(op.responses)) {
          const schema = r.content?.['application/json']?.schema;
          if (schema) {
            ajv.compile(schema);
            compiled++;
          }
        }
        const body = op.requestBody?.content?.['application/json']?.schema;
        if (body) ajv.compile(body);
      }
    }
    expect(compiled).toBeGreaterThan(10);
    const docs = await server.inject('/api/docs');
    expect(docs.body).toContain('/api/v1/integrations/{id}/connections');
  });

  describe('admin UI', () => {
    const jar = new Jar();
    const get = async (url: string) =>
      jar.take(await server.inject({ url, headers: { cookie: jar.header } }));
    const post = async (url: string, fields: Record<string, string>) =>
      jar.take(
        await server.inject({
          method: 'POST',
          url,
          headers: { ...FORM, cookie: jar.header },
          payload: form(fields),
        }),
      );

    it('sends visitors to first-run setup while no password exists', async () => {
      const res = await get('/');
      expect(res.statusCode).toBe(303);
      expect(res.headers.location).toBe('/setup');
    });

    it('refuses the setup form without its CSRF token, then sets the password with it', async () => {
      const page = await get('/setup');
      const forged = await post('/setup', { password: PASSWORD, confirm: PASSWORD });
      expect(forged.statusCode).toBe(403);
      const short = await post('/setup', { _csrf: csrfFrom(page.body), password: 'kort', confirm: 'kort' });
      expect(short.statusCode).toBe(422);
      expect(short.body).toContain('minst 12 tecken');
      const ok = await post('/setup', { _csrf: csrfFrom(page.body), password: PASSWORD, confirm: PASSWORD });
      expect(ok.statusCode).toBe(303);
      expect(ok.headers.location).toBe('/login?notice=afterSetup');
      expect((await get('/setup')).headers.location).toBe('/login');
    });

    it('logs in with an HttpOnly, SameSite=Lax session cookie stored only as a hash', async () => {
      const page = await get('/login');
      const wrong = await post('/login', { _csrf: csrfFrom(page.body), password: 'fel lösenord igen' });
      expect(wrong.statusCode).toBe(401);
      expect(wrong.body).toContain('Fel lösenord.');
      const ok = await post('/login', {
        _csrf: csrfFrom(page.body),
        password: PASSWORD,
        next: '/settings/tokens',
      });
      expect(ok.statusCode).toBe(303);
      expect(ok.headers.location).toBe('/settings/tokens');
      const cookie = (
        ok.cookies as {
          name: string;
          httpOnly?: boolean;
          sameSite?: string;
          path?: string;
          secure?: boolean;
        }[]
      ).find((c) => c.name === 'ks_session');
      expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Lax', path: '/' });
      expect(cookie?.secure).toBeFalsy();
      const rows = await h.app.store.db.selectFrom('admin_sessions').select('id_hash').execute();
      expect(rows.map((r) => r.id_hash)).toContain(sha256Hex(jar.values.get('ks_session')!));
      expect(rows.map((r) => r.id_hash)).not.toContain(jar.values.get('ks_session'));
    });

    it('shows the integration list with health and masked keys, never the key', async () => {
      const res = await get('/');
      expect(res.statusCode).toBe(200);
      expect(res.headers['cache-control']).toBe('no-store');
      expect(res.body).toContain('Butiken AB');
      expect(res.body).toContain('Behöver åtgärd');
      expect(res.body).toContain('klarna_test_api_…Lk9');
      expect(res.body).not.toContain(SEEDED_KLARNA_KEY);
      const en = await get('/?lang=en');
      expect(en.body).toContain('Needs attention');
      expect(en.body).toContain('<html lang="en">');
    });

    it('renders every section of the integration page', async () => {
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
        const res = await get(`/integrations/${seeded.id}${section}?lang=sv`);
        expect(res.statusCode, section).toBe(200);
        expect(res.body).not.toContain(SEEDED_KLARNA_KEY);
      }
      const payouts = await get(`/integrations/${seeded.id}/payouts`);
      expect(payouts.body.replace(/[\u00a0\u202f]/g, ' ')).toContain('12 345,67 kr');
      expect(payouts.body).toContain('Account 3001 is missing in Spiris');
      expect((await get(`/integrations/${seeded.id}/nope`)).statusCode).toBe(404);
    });

    it('refuses a form POST without the session CSRF token', async () => {
      const res = await post('/integrations', { name: 'Forged' });
      expect(res.statusCode).toBe(403);
      expect(res.body).toContain('Formuläret har gått ut');
      const wrongToken = await post('/integrations', { name: 'Forged', _csrf: 'x'.repeat(43) });
      expect(wrongToken.statusCode).toBe(403);
    });

    it('creates and renames an integration through the forms', async () => {
      const list = await get('/');
      const created = await post('/integrations', { name: 'Formulärbutiken', _csrf: csrfFrom(list.body) });
      expect(created.statusCode).toBe(303);
      const detailUrl = created.headers.location as string;
      expect(detailUrl).toMatch(/^\/integrations\/[0-9a-f-]+\?notice=created$/);
      const detail = await get(detailUrl);
      expect(detail.body).toContain('Integrationen är skapad.');
      const id = detailUrl.split('/')[2]!.split('?')[0]!;
      const renamed = await post(`/integrations/${id}/rename`, {
        name: 'Nytt namn',
        _csrf: csrfFrom(detail.body),
      });
      expect(renamed.statusCode).toBe(303);
      expect((await get(`/integrations/${id}`)).body).toContain('Nytt namn');
    });

    it('creates an API token shown once and usable at once; revokes it', async () => {
      const page = await get('/settings/tokens');
      const created = await post('/settings/tokens', { name: 'övervakning', _csrf: csrfFrom(page.body) });
      expect(created.statusCode).toBe(201);
      const shown = /value="(ks_[A-Za-z0-9_-]+)"/.exec(created.body)?.[1];
      expect(shown).toBeDefined();
      expect((await server.inject({ url: '/api/v1/integrations', headers: auth(shown) })).statusCode).toBe(
        200,
      );
      const again = await get('/settings/tokens');
      expect(again.body).not.toContain(shown!);
      const id = (await listApiTokens(h.app.store.db)).find((t) => t.name === 'övervakning')!.id;
      const revoked = await post(`/settings/tokens/${id}/revoke`, { _csrf: csrfFrom(again.body) });
      expect(revoked.headers.location).toBe('/settings/tokens?notice=revoked');
      expect((await server.inject({ url: '/api/v1/integrations', headers: auth(shown) })).statusCode).toBe(
        401,
      );
    });

    it('logs out and ends the session server-side', async () => {
      const page = await get('/');
      const sessionCookie = jar.values.get('ks_session')!;
      const out = await post('/logout', { _csrf: csrfFrom(page.body) });
      expect(out.headers.location).toBe('/login?notice=loggedOut');
      const replay = await server.inject({ url: '/', headers: { cookie: `ks_session=${sessionCookie}` } });
      expect(replay.statusCode).toBe(303);
      expect(replay.headers.location).toMatch(/^\/login\?next=/);
    });
  });

  it('sends security headers with every page: a strict CSP, no framing, no sniffing, no referrer', async () => {
    const res = await server.inject('/login');
    const csp = String(res.headers['content-security-policy']);
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("frame-ancestors 'none'");
    expect(csp).not.toContain("'unsafe-inline'");
    expect(res.headers['x-frame-options']).toBe('DENY');
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['referrer-policy']).toBe('no-referrer');
  });

  it('locks out an address after repeated wrong passwords, even for the right one, and says how long', async () => {
    // Its own address, so the lockout does not reach the other tests.
    const jar = new Jar();
    const from = { remoteAddress: '192.0.2.44' };
    const attempt = async (password: string) => {
      const page = jar.take(await server.inject({ url: '/login', headers: { cookie: jar.header }, ...from }));
      return jar.take(
        await server.inject({
          method: 'POST',
          url: '/login',
          headers: { ...FORM, cookie: jar.header },
          payload: form({ _csrf: csrfFrom(page.body), password }),
          ...from,
        }),
      );
    };
    for (let i = 0; i < 3; i++) expect((await attempt('fel lösenord')).statusCode).toBe(401);
    const locked = await attempt(PASSWORD);
    expect(locked.statusCode).toBe(429);
    expect(locked.body).toContain('15 minuter');
    expect(jar.values.has('ks_session')).toBe(false);
  });

  it('marks cookies Secure when the request came over https through a trusted proxy', async () => {
    const proxied = await openAdminHarness({ options: { trustProxy: true } });
    try {
      const res = await proxied.server.inject({ url: '/setup', headers: { 'x-forwarded-proto': 'https' } });
      const c = (res.cookies as { name: string; secure?: boolean; sameSite?: string }[]).find(
        (x) => x.name === 'ks_csrf',
      );
      expect(c).toMatchObject({ secure: true, sameSite: 'Strict' });
      expect(res.headers['strict-transport-security']).toBe('max-age=31536000');
    } finally {
      await proxied.close();
    }
  });
});
