import { Migrator } from 'kysely';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { migrateToLatest } from './db.ts';
import { newId } from './ids.ts';
import { migrationProvider } from './migrations/index.ts';
import { listTransactions } from './payouts.repository.ts';

// Migration 060 turns raw_json (the whole line) into extra_json (what the columns do not
// hold). Rows stored before it keep their whole line; they must read back unchanged.

const EXTRAS = '2026_11_26_060_transaction_extras';
let store: TestStore;

/** A store with every migration before 060 applied, and nothing else. */
async function openStoreBeforeExtras(): Promise<TestStore> {
  const opened = await openTestStore({ migrate: false });
  const provider = migrationProvider(opened.dialect);
  const names = Object.keys(await provider.getMigrations()).sort();
  const before = names[names.indexOf(EXTRAS) - 1]!;
  const { error } = await new Migrator({ db: opened.db, provider }).migrateTo(before);
  if (error) throw error;
  return opened;
}

beforeAll(async () => {
  store = await openStoreBeforeExtras();
});
afterAll(async () => {
  await store?.close();
});

describe(`migration 060 on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('keeps every line stored before it, including one that lacked payment_reference', async () => {
    const integrationId = newId();
    const payoutId = newId();
    const now = new Date().toISOString();
    // biome-ignore lint/suspicious/noExplicitAny: the tables as they were before migration 060
    const db = store.db as any;
    await db
      .insertInto('integrations')
      .values({ id: integrationId, name: 'legacy', created_at: now, updated_at: now })
      .execute();
    await db
      .insertInto('klarna_payouts')
      .values({
        id: payoutId,
        integration_id: integrationId,
        merchant_id: 'K1',
        payment_reference: 'OLD1',
        payout_date: '2026-01-05T00:00:00Z',
        currency_code: 'SEK',
        merchant_settlement_type: 'NET',
        settlement_amount: 0,
        totals_json: '{}',
        raw_json: '{}',
        transactions_complete: 1,
        fetched_at: now,
        updated_at: now,
      })
      .execute();
    const lines: Record<string, unknown>[] = [
      { amount: 100, type: 'SALE', currency_code: 'SEK', payment_reference: 'OLD1', extra: { a: [1, null] } },
      { amount: 200, type: 'FEE', currency_code: 'SEK', detailed_type: null, vat_amount: null },
      { amount: 300, type: 'SALE', currency_code: 'SEK', payment_reference: null, order_id: 'o-3' },
    ];
    await db
      .insertInto('klarna_transactions')
      .values(
        lines.map((l, seq) => ({
          payout_id: payoutId,
          seq,
          // As the import stored it: the payout's reference when the line had none.
          payment_reference: (l.payment_reference as string | null | undefined) || 'OLD1',
          type: l.type,
          detailed_type: null,
          amount: l.amount,
          currency_code: l.currency_code,
          order_id: l.order_id ?? null,
          vat_amount: null,
          known_type: 1,
          raw_json: JSON.stringify(l),
        })),
      )
      .execute();

    expect(await migrateToLatest(store)).toContain(EXTRAS);

    const read = await listTransactions(store.db, payoutId);
    expect(read.map((t) => t.raw)).toEqual(lines);
    expect(read[1]!.raw).not.toHaveProperty('payment_reference');
    expect(read.map((t) => t.paymentReference)).toEqual(['OLD1', 'OLD1', 'OLD1']);
  });
});
