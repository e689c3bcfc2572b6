import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import {
  createAdminPasswordIfAbsent,
  createSession,
  deleteExpiredSessions,
  findActiveSession,
  getAdminCredential,
  insertApiToken,
  listIntegrationActivity,
  revokeApiToken,
  setAdminPassword,
} from './admin.repository.ts';
import { createIntegration } from './integrations.repository.ts';
import { finishSyncRun, startSyncRun } from './sync-runs.repository.ts';

let store: TestStore;
beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.close();
});

describe(`admin repository on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('lets exactly one first-run setup win', async () => {
    expect(await createAdminPasswordIfAbsent(store.db, 'hash-a')).toBe(true);
    expect(await createAdminPasswordIfAbsent(store.db, 'hash-b')).toBe(false);
    expect((await getAdminCredential(store.db))?.passwordHash).toBe('hash-a');
  });

  it('ends every session when the password changes, and expires old ones', async () => {
    const { userId } = (await getAdminCredential(store.db))!;
    const base = { userId, csrfToken: 'c', now: '2026-11-26T10:00:00.000Z' };
    await createSession(store.db, { ...base, idHash: 'live', expiresAt: '2026-11-26T22:00:00.000Z' });
    await createSession(store.db, { ...base, idHash: 'old', expiresAt: '2026-11-26T11:00:00.000Z' });
    const at = '2026-11-26T12:00:00.000Z';
    expect(await findActiveSession(store.db, 'live', at)).toMatchObject({ userId, csrfToken: 'c' });
    expect(await findActiveSession(store.db, 'old', at)).toBeUndefined();
    expect(await deleteExpiredSessions(store.db, at)).toBe(1);
    await setAdminPassword(store.db, 'hash-c');
    expect(await findActiveSession(store.db, 'live', at)).toBeUndefined();
    expect((await getAdminCredential(store.db))?.passwordHash).toBe('hash-c');
  });

  it('revokes by id, or by a name only when it is unambiguous', async () => {
    const a = await insertApiToken(store.db, {
      name: 'ci',
      tokenHash: 'h1',
      hint: 'ks_…aaaa',
      createdBy: 'test',
    });
    await insertApiToken(store.db, { name: 'ci', tokenHash: 'h2', hint: 'ks_…bbbb', createdBy: 'test' });
    expect(await revokeApiToken(store.db, 'ci')).toBeUndefined();
    expect((await revokeApiToken(store.db, a.id))?.revokedAt).toBeTruthy();
    expect((await revokeApiToken(store.db, 'ci'))?.hint).toBe('ks_…bbbb');
    expect(await revokeApiToken(store.db, 'ci')).toBeUndefined();
  });

  it('reports the latest run and last success per integration', async () => {
    const i = await createIntegration(store.db, { name: 'activity' });
    const r1 = await startSyncRun(store.db, { integrationId: i.id, kind: 'sync' });
    await finishSyncRun(store.db, r1, { status: 'succeeded' });
    await new Promise((r) => setTimeout(r, 5));
    const r2 = await startSyncRun(store.db, { integrationId: i.id, kind: 'sync' });
    await finishSyncRun(store.db, r2, { status: 'failed', error: 'boom' });
    const a = (await listIntegrationActivity(store.db)).get(i.id)!;
    expect(a.lastRun).toMatchObject({ id: r2, status: 'failed', error: 'boom' });
    expect(a.lastSuccessAt).not.toBeNull();
    expect(a.payoutsByState).toEqual({});
  });
});
