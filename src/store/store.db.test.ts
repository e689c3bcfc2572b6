import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sql } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { Secret } from '../setup/secret.ts';
import {
  createConnection,
  getConnection,
  readConnectionSecret,
  writeConnectionSecret,
} from './connections.repository.ts';
import { migrateToLatest } from './db.ts';
import { listEvents, recordEvent } from './events.repository.ts';
import {
  createIntegration,
  ensureDefaultIntegration,
  findIntegration,
  updateIntegration,
} from './integrations.repository.ts';

let store: TestStore;
const sealer = new AesGcmSealer(randomBytes(32));
const KEY = `klarna_test_api_${'Zx9'.repeat(14)}Q7w`;

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store.close();
});

describe(`store on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('migrates once: a second migrateToLatest applies nothing', async () => {
    expect(await migrateToLatest(store)).toEqual([]);
  });

  it('creates a default integration once and finds it by name or id', async () => {
    const first = await ensureDefaultIntegration(store.db);
    const again = await ensureDefaultIntegration(store.db);
    expect(again.id).toBe(first.id);
    expect((await findIntegration(store.db, 'default'))?.id).toBe(first.id);
    expect((await findIntegration(store.db, first.id))?.name).toBe('default');
    const updated = await updateIntegration(store.db, first.id, {
      mode: 'test',
      settings: { windowDays: 14 },
    });
    expect(updated.mode).toBe('test');
    expect(updated.settings).toEqual({ windowDays: 14 });
  });

  it('asks which integration is meant once there are several', async () => {
    await createIntegration(store.db, { name: 'second-shop' });
    await createIntegration(store.db, { name: 'third-shop' });
    const def = await findIntegration(store.db, 'default');
    expect(def).toBeDefined();
    await updateIntegration(store.db, def!.id, { name: 'renamed' });
    await expect(ensureDefaultIntegration(store.db)).rejects.toThrow(/name one with --integration/);
  });

  it('stores a connection secret sealed: the clear key is nowhere in the database, only its mask', async () => {
    const conn = await createConnection(store.db, sealer, {
      kind: 'klarna',
      environment: 'playground',
      config: { region: 'eu' },
      secret: new Secret(KEY),
      externalId: 'K123456',
    });
    expect(conn.secretHint).toBe('klarna_test_api_…Q7w');
    expect(JSON.stringify(await getConnection(store.db, conn.id))).not.toContain(KEY);
    const { secret, version } = await readConnectionSecret(store.db, sealer, conn.id);
    expect(secret.reveal()).toBe(KEY);
    expect(version).toBe(1);

    const rows = await sql<{ s: string }>`select secret_sealed as s from connections`.execute(store.db);
    for (const r of rows.rows) expect(r.s).not.toContain(KEY.slice(16));
    if (store.dialect === 'sqlite') {
      await sql`pragma wal_checkpoint(TRUNCATE)`.execute(store.db);
      expect(readFileSync(store.target).includes(Buffer.from(KEY.slice(16)))).toBe(false);
    }
  });

  it('refuses a secret write based on a stale version, so a rotated token is never overwritten', async () => {
    const conn = await createConnection(store.db, sealer, {
      kind: 'spiris',
      environment: 'sandbox',
      secret: new Secret('{"refresh_token":"r1"}'),
    });
    expect(
      await writeConnectionSecret(store.db, sealer, conn.id, new Secret('{"refresh_token":"r2"}'), 1),
    ).toBe(true);
    expect(
      await writeConnectionSecret(store.db, sealer, conn.id, new Secret('{"refresh_token":"r3"}'), 1),
    ).toBe(false);
    const { secret, version } = await readConnectionSecret(store.db, sealer, conn.id);
    expect(secret.reveal()).toBe('{"refresh_token":"r2"}');
    expect(version).toBe(2);
  });

  it('keeps events newest first with their data', async () => {
    const i = await createIntegration(store.db, { name: 'events-shop' });
    await recordEvent(store.db, {
      integrationId: i.id,
      actor: 'cli',
      kind: 'mode.changed',
      message: 'off → test',
    });
    await recordEvent(store.db, {
      integrationId: i.id,
      actor: 'cli',
      kind: 'mode.changed',
      message: 'test → live',
      data: { confirmed: true },
    });
    const events = await listEvents(store.db, { integrationId: i.id });
    expect(events.map((e) => e.message)).toEqual(['test → live', 'off → test']);
    expect(events[0]!.data).toEqual({ confirmed: true });
  });

  it('keeps integer minor units exact through a bigint column', async () => {
    const i = await createIntegration(store.db, { name: 'money-shop' });
    const now = new Date().toISOString();
    await store.db
      .insertInto('klarna_payouts')
      .values({
        id: 'p1',
        integration_id: i.id,
        merchant_id: 'K1',
        payment_reference: 'REF1',
        payout_date: now,
        currency_code: 'SEK',
        merchant_settlement_type: 'NET',
        settlement_amount: 9_007_199_254_740_991,
        totals_json: '{}',
        raw_json: '{}',
        transaction_count: null,
        transactions_complete: 0,
        unknown_types_json: null,
        reconciled: null,
        reconciliation_json: null,
        state: 'discovered',
        state_reason: null,
        voucher_id: null,
        voucher_number: null,
        fetched_at: now,
        updated_at: now,
      })
      .execute();
    const row = await store.db
      .selectFrom('klarna_payouts')
      .select('settlement_amount')
      .where('id', '=', 'p1')
      .executeTakeFirstOrThrow();
    expect(row.settlement_amount).toBe(9_007_199_254_740_991);
  });
});
