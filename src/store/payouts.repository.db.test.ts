import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import type { KlarnaPayout, TransactionRecord } from '../klarna/klarna.types.ts';
import { parseTransaction } from '../klarna/parse.ts';
import { createTransactionSums, reconcile } from '../klarna/reconcile.ts';
import { nativeSqlite } from './db.ts';
import { createIntegration } from './integrations.repository.ts';
import {
  beginTransactionRefresh,
  completeTransactions,
  countTransactions,
  findPayoutByReference,
  getPayout,
  insertTransactionPage,
  listPayouts,
  listTransactions,
  recordReconciliation,
  transactionLine,
  transactionSums,
  upsertPayout,
} from './payouts.repository.ts';

let store: TestStore;
let integrationId: string;
let otherIntegrationId: string;

beforeAll(async () => {
  store = await openTestStore();
  integrationId = (await createIntegration(store.db, { name: 'repo-test' })).id;
  otherIntegrationId = (await createIntegration(store.db, { name: 'other' })).id;
});
afterAll(async () => {
  await store.close();
});

function payout(
  ref: string,
  date: string,
  totals: Record<string, number> = {},
): { payout: KlarnaPayout; raw: Record<string, unknown> } {
  const raw = {
    totals: { sale_amount: 0, fee_amount: 0, tax_amount: 0, settlement_amount: 0, ...totals },
    payment_reference: ref,
    payout_date: `${date}T07:00:00Z`,
    currency_code: 'SEK',
    merchant_settlement_type: 'NET',
    merchant_id: 'K100001',
    transactions: `https://api.playground.klarna.com/settlements/v1/transactions?payment_reference=${ref}`,
  };
  return { payout: raw as KlarnaPayout, raw };
}

function lines(ref: string, n: number, amount = (i: number) => 1_000 + i): TransactionRecord[] {
  return Array.from({ length: n }, (_, i) =>
    parseTransaction({
      amount: amount(i),
      type: i % 10 === 9 ? 'FEE' : 'SALE',
      detailed_type: i % 10 === 9 ? 'PURCHASE_FEE_FIXED' : 'PURCHASE',
      vat_amount: i % 10 === 9 ? 25 : undefined,
      order_id: `order-${i}`,
      capture_id: `cap-${i}`,
      payment_reference: ref,
      currency_code: 'SEK',
      sale_date: '2026-01-01T00:00:00Z',
      capture_date: '2026-01-01T00:00:00Z',
      purchase_country: 'SE',
      extra_field: { kept: true },
    }),
  );
}

describe(`payouts repository on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('upserts on the natural key: new, unchanged (even with keys reordered), changed', async () => {
    const p = payout('REPO1', '2026-01-05', { sale_amount: 1000, settlement_amount: 1000 });
    const first = await upsertPayout(store.db, { integrationId, ...p });
    expect(first.status).toBe('new');
    expect(first.payout).toMatchObject({
      integrationId,
      merchantId: 'K100001',
      paymentReference: 'REPO1',
      settlementAmount: 1000,
      transactionsComplete: false,
      reconciled: null,
      state: 'discovered',
    });

    const reordered = Object.fromEntries(Object.entries(p.raw).reverse());
    expect((await upsertPayout(store.db, { integrationId, payout: p.payout, raw: reordered })).status).toBe(
      'unchanged',
    );

    // The same payout under another integration is a separate row.
    expect((await upsertPayout(store.db, { integrationId: otherIntegrationId, ...p })).status).toBe('new');

    await beginTransactionRefresh(store.db, first.payout.id);
    await insertTransactionPage(store.db, {
      payoutId: first.payout.id,
      paymentReference: 'REPO1',
      firstSeq: 0,
      records: lines('REPO1', 1, () => 1000),
    });
    const sums = await transactionSums(store.db, first.payout.id);
    await completeTransactions(store.db, first.payout.id, {
      count: 1,
      reconciliation: reconcile({ totals: p.payout.totals, sums }),
    });
    expect((await getPayout(store.db, first.payout.id))?.transactionsComplete).toBe(true);

    const changed = payout('REPO1', '2026-01-05', { sale_amount: 1200, settlement_amount: 1200 });
    const again = await upsertPayout(store.db, { integrationId, ...changed });
    expect(again.status).toBe('changed');
    expect(again.payout.id).toBe(first.payout.id);
    expect(again.payout).toMatchObject({
      settlementAmount: 1200,
      transactionsComplete: false,
      reconciled: null,
    });
  });

  it('stores pages in chunks with consecutive seq, and SQL sums equal the streamed sums', async () => {
    const p = payout('REPO2', '2026-01-06');
    const { payout: stored } = await upsertPayout(store.db, { integrationId, ...p });
    await beginTransactionRefresh(store.db, stored.id);
    // 450 lines in two pages: more than one insert chunk, and amounts beyond 32 bits.
    const all = lines('REPO2', 450, (i) => (i === 0 ? 5_000_000_000 : 1_000 + i));
    const acc = createTransactionSums();
    let seq = 0;
    for (const page of [all.slice(0, 300), all.slice(300)]) {
      for (const r of page) acc.add(r.transaction);
      seq += await insertTransactionPage(store.db, {
        payoutId: stored.id,
        paymentReference: 'REPO2',
        firstSeq: seq,
        records: page,
      });
    }
    expect(seq).toBe(450);
    expect(await transactionSums(store.db, stored.id)).toEqual(acc.result());

    const firstSlice = await listTransactions(store.db, stored.id, { limit: 2 });
    expect(firstSlice.map((t) => t.seq)).toEqual([0, 1]);
    expect(firstSlice[0]).toMatchObject({
      amount: 5_000_000_000,
      type: 'SALE',
      orderId: 'order-0',
      knownType: true,
      vatAmount: null,
    });
    expect(firstSlice[0]!.raw.extra_field).toEqual({ kept: true });
    const tail = await listTransactions(store.db, stored.id, { afterSeq: 447 });
    expect(tail.map((t) => t.seq)).toEqual([448, 449]);
    expect(tail[1]).toMatchObject({ type: 'FEE', vatAmount: 25 });
  });

  it('a run that crashed mid-way leaves the payout incomplete, and the next run starts clean', async () => {
    const p = payout('REPO3', '2026-01-07', { sale_amount: 3000, settlement_amount: 3000 });
    const { payout: stored } = await upsertPayout(store.db, { integrationId, ...p });
    await beginTransactionRefresh(store.db, stored.id);
    await insertTransactionPage(store.db, {
      payoutId: stored.id,
      paymentReference: 'REPO3',
      firstSeq: 0,
      records: lines('REPO3', 2),
    });
    // ...crash: complete was never called.
    expect((await getPayout(store.db, stored.id))?.transactionsComplete).toBe(false);
    expect(await listPayouts(store.db, { integrationId, transactionsComplete: false })).toEqual(
      expect.arrayContaining([expect.objectContaining({ paymentReference: 'REPO3' })]),
    );

    await beginTransactionRefresh(store.db, stored.id);
    expect(await countTransactions(store.db, stored.id)).toBe(0);
    const page = lines('REPO3', 3, () => 1000);
    await insertTransactionPage(store.db, {
      payoutId: stored.id,
      paymentReference: 'REPO3',
      firstSeq: 0,
      records: page,
    });
    await expect(
      completeTransactions(store.db, stored.id, {
        count: 4,
        reconciliation: reconcile({
          totals: p.payout.totals,
          sums: await transactionSums(store.db, stored.id),
        }),
      }),
    ).rejects.toThrow(/3 lines stored but 4 fetched; not marked complete/);

    const r = reconcile({
      totals: p.payout.totals,
      sums: await transactionSums(store.db, stored.id),
      currencyCode: 'SEK',
    });
    expect(r.ok).toBe(true);
    const done = await completeTransactions(store.db, stored.id, { count: 3, reconciliation: r });
    expect(done).toMatchObject({
      transactionsComplete: true,
      transactionCount: 3,
      reconciled: true,
      unknownTypes: [],
    });
    expect(done.reconciliation?.identity.ok).toBe(true);
  });

  it('a duplicate seq is refused rather than silently doubled', async () => {
    const { payout: stored } = await upsertPayout(store.db, {
      integrationId,
      ...payout('REPO4', '2026-01-08'),
    });
    await insertTransactionPage(store.db, {
      payoutId: stored.id,
      paymentReference: 'REPO4',
      firstSeq: 0,
      records: lines('REPO4', 2),
    });
    await expect(
      insertTransactionPage(store.db, {
        payoutId: stored.id,
        paymentReference: 'REPO4',
        firstSeq: 1,
        records: lines('REPO4', 2),
      }),
    ).rejects.toThrow();
    expect(await countTransactions(store.db, stored.id)).toBe(2);
  });

  it('on SQLite, lowers durability for the commit of a page only', async () => {
    const sqlite = nativeSqlite(store.db);
    if (!sqlite) return;
    const level = () => sqlite.pragma('synchronous', { simple: true });
    expect(level()).toBe(2); // FULL: what voucher intents and booking records rely on
    const { payout: stored } = await upsertPayout(store.db, {
      integrationId,
      ...payout('REPO6', '2026-01-10'),
    });
    const page = { payoutId: stored.id, paymentReference: 'REPO6', firstSeq: 0, records: lines('REPO6', 3) };
    await insertTransactionPage(store.db, page);
    expect(level()).toBe(2);
    await expect(insertTransactionPage(store.db, page)).rejects.toThrow();
    expect(level()).toBe(2);
  });

  it('records a re-reconciliation and lists by day range', async () => {
    const stored = await findPayoutByReference(store.db, integrationId, 'REPO2');
    const sums = await transactionSums(store.db, stored!.id);
    const r = reconcile({ totals: stored!.totals, sums, currencyCode: 'SEK' });
    await recordReconciliation(store.db, stored!.id, r);
    expect((await getPayout(store.db, stored!.id))?.reconciled).toBe(false);

    const inRange = await listPayouts(store.db, { integrationId, since: '2026-01-06', until: '2026-01-07' });
    expect(inRange.map((p) => p.paymentReference)).toEqual(['REPO2', 'REPO3']);
    // REPO1 changed after it was reconciled, so only REPO3 still counts as reconciled.
    expect(
      (await listPayouts(store.db, { integrationId, reconciled: true })).map((p) => p.paymentReference),
    ).toEqual(['REPO3']);
    expect(await findPayoutByReference(store.db, integrationId, 'NOPE')).toBeUndefined();
  });

  it('stores only what the columns do not hold, and rebuilds every line exactly', async () => {
    const { payout: stored } = await upsertPayout(store.db, {
      integrationId,
      ...payout('REPO5', '2026-01-09'),
    });
    // Read from JSON text, as Klarna's answers are, so a field named __proto__ is a field.
    const sent = JSON.parse(String.raw`[
      {"amount": 1000, "type": "SALE", "currency_code": "SEK", "payment_reference": "REPO5"},
      {"amount": 2000, "type": "SALE", "detailed_type": "PURCHASE", "order_id": "o-1", "capture_id": "c-1",
       "refund_id": "r-1", "short_order_id": "S1", "merchant_reference1": "m1", "merchant_reference2": "m2",
       "purchase_country": "SE", "vat_rate": 0, "vat_amount": 0, "sale_date": "2026-01-01T00:00:00Z",
       "capture_date": "2026-01-02T00:00:00Z", "payment_reference": "REPO5", "currency_code": "SEK"},
      {"type": "FEE", "amount": -5000000000, "currency_code": "SEK", "payment_reference": "REPO5",
       "payout": "https://api.playground.klarna.com/settlements/v1/payouts/REPO5", "shipping_country": "NO",
       "tax_in_currency_of_registration_country": 12, "consumer": {"vat": [2500, null], "ok": true},
       "note": "räksmörgås \u2603 \"quoted\"", "unknown_null": null, "__proto__": {"polluted": true}},
      {"amount": 3, "type": "FEE", "currency_code": "SEK", "payment_reference": "REPO5", "detailed_type": null,
       "vat_amount": null, "order_id": null, "purchase_country": null},
      {"amount": 4, "type": "SALE", "currency_code": "SEK"},
      {"amount": 5, "type": "SALE", "currency_code": "SEK", "payment_reference": null},
      {"amount": 6, "type": "SALE", "currency_code": "SEK", "payment_reference": ""}
    ]`) as Record<string, unknown>[];
    await insertTransactionPage(store.db, {
      payoutId: stored.id,
      paymentReference: 'REPO5',
      firstSeq: 0,
      // Twice over, so lines go through both the ten-row and the one-row insert.
      records: [...sent, ...sent].map((raw, i) => parseTransaction(raw, `transactions[${i}]`)),
    });

    const rows = await store.db
      .selectFrom('klarna_transactions')
      .selectAll()
      .where('payout_id', '=', stored.id)
      .orderBy('seq')
      .execute();
    // A line the columns hold completely costs no extra bytes.
    expect(rows.map((r) => r.extra_json).slice(0, 2)).toEqual(['{}', '{}']);
    expect(JSON.parse(rows[2]!.extra_json)).not.toHaveProperty('amount');
    expect(rows.map((r) => r.payment_reference)).toEqual(Array(14).fill('REPO5'));

    const read = await listTransactions(store.db, stored.id);
    expect(read).toHaveLength(2 * sent.length);
    read.forEach((t, i) => {
      const original = sent[i % sent.length];
      expect(t.raw, `line ${i}`).toEqual(original);
      expect(sortedJson(t.raw), `line ${i}`).toBe(sortedJson(original));
      expect(sortedJson(transactionLine(rows[i]!))).toBe(sortedJson(original));
    });
    expect(Object.getPrototypeOf(read[2]!.raw)).toBe(Object.prototype);
    expect(read[4]!.raw).not.toHaveProperty('payment_reference');
    expect(read[4]!.paymentReference).toBe('REPO5');
  });
});

/** JSON with keys sorted at every level: equal text means equal lines, whatever the field order. */
function sortedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(sortedJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const o = value as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${sortedJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(value);
}
