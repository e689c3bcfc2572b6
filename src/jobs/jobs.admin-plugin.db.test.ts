import PgBoss from 'pg-boss';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AdminHarness, openAdminHarness } from '../admin/admin-test-kit.ts';
import { createApiToken } from '../admin/auth/api-tokens.ts';
import { sha256Hex } from '../admin/auth/tokens.ts';
import { createSession, getAdminCredential, setAdminPassword } from '../store/admin.repository.ts';
import { createIntegration, type Integration } from '../store/integrations.repository.ts';
import { failedJobsSection, jobsAdminPlugin } from './jobs.admin-plugin.ts';
import { QUEUES } from './queues.ts';

// Failed jobs in the admin API and pages, mounted as the plugin and section a serve
// process registers. On PostgreSQL a real pg-boss job is failed first; on SQLite there
// is no queue, and both say so instead of failing.

const onPostgres = process.env.KS_TEST_DB === 'postgres';

describe(`failed jobs in the admin server on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  let h: AdminHarness;
  let integration: Integration;
  let token: string;
  let cookie: string;

  beforeAll(async () => {
    h = await openAdminHarness({ plugins: [jobsAdminPlugin], sections: [failedJobsSection] });
    const db = h.app.store.db;
    integration = await createIntegration(db, { name: 'Butiken AB' });
    token = (await createApiToken(db, 'ops', 'test')).token;
    await setAdminPassword(db, 'not-a-real-hash');
    const sessionId = 'session-for-the-jobs-test';
    const now = new Date();
    await createSession(db, {
      idHash: sha256Hex(sessionId),
      userId: (await getAdminCredential(db))!.userId,
      csrfToken: 'csrf',
      now: now.toISOString(),
      expiresAt: new Date(now.getTime() + 3_600_000).toISOString(),
    });
    cookie = `ks_session=${sessionId}`;

    if (onPostgres) {
      const boss = new PgBoss({ connectionString: h.store.target, supervise: false, schedule: false });
      await boss.start();
      await boss.createQueue(QUEUES.post, { name: QUEUES.post, policy: 'short' });
      await boss.send(
        QUEUES.post,
        { integrationId: integration.id, payoutId: 'p-1', paymentReference: 'XISA93DJ' },
        { retryLimit: 0 },
      );
      const [job] = await boss.fetch(QUEUES.post);
      await boss.fail(QUEUES.post, job!.id, new Error('Spiris answered 503 Service Unavailable'));
      await boss.stop({ graceful: false });
    }
  });
  afterAll(async () => {
    await h?.close();
  });

  it('GET /api/v1/jobs/failed lists failed jobs with their reason, for API tokens only', async () => {
    const denied = await h.server.inject({ url: '/api/v1/jobs/failed' });
    expect(denied.statusCode).toBe(401);
    const res = await h.server.inject({
      url: '/api/v1/jobs/failed?limit=10',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.statusCode).toBe(200);
    const items = res.json().items;
    if (!onPostgres) {
      expect(items).toEqual([]);
      return;
    }
    expect(items).toEqual([
      expect.objectContaining({
        queue: 'post',
        integrationId: integration.id,
        integrationName: 'Butiken AB',
        paymentReference: 'XISA93DJ',
        attempts: 1,
        error: 'Spiris answered 503 Service Unavailable',
        live: true,
      }),
    ]);
    const other = await h.server.inject({
      url: '/api/v1/jobs/failed?queue=sync',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(other.json().items).toEqual([]);
    const bad = await h.server.inject({
      url: '/api/v1/jobs/failed?limit=0',
      headers: { authorization: `Bearer ${token}` },
    });
    expect(bad.statusCode).toBe(400);
  });

  it('the jobs page and the integration tab show them to a signed-in admin', async () => {
    expect((await h.server.inject({ url: '/jobs' })).statusCode).toBe(303);
    const page = await h.server.inject({ url: '/jobs?lang=en', headers: { cookie } });
    expect(page.statusCode).toBe(200);
    expect(page.body).toContain('Failed jobs');
    const tab = await h.server.inject({
      url: `/integrations/${integration.id}/jobs?lang=en`,
      headers: { cookie },
    });
    expect(tab.statusCode).toBe(200);
    for (const body of [page.body, tab.body]) {
      if (onPostgres) {
        expect(body).toContain('XISA93DJ');
        expect(body).toContain('Spiris answered 503 Service Unavailable');
      } else {
        expect(body).toContain('No job queue here');
      }
    }
  });
});
