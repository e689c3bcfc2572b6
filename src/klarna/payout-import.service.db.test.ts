import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { UNLIMITED_BUDGET } from '../http/rate-budget.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { createIntegration } from '../store/integrations.repository.ts';
import { listPayouts, transactionSums } from '../store/payouts.repository.ts';
import { requireKlarnaCredentials } from './key.ts';
import { KlarnaClient } from './klarna.client.ts';
import { type ImportProgress, importPayout, importPayouts } from './payout-import.service.ts';
import { reconcile } from './reconcile.ts';

let store: TestStore;
let sim: KlarnaSimulator;
let integrationId: string;
let client: KlarnaClient;

beforeAll(async () => {
  [store, sim] = await Promise.all([
    openTestStore(),
    startKlarnaSimulator({
      rateLimitPerSecond: 0,
      merchants: [{ seed: 21, days: 90, currencies: ['SEK', 'EUR'] }],
    }),
  ]);
  integrationId = (await createIntegration(store.db, { name: 'import-test' })).id;
  client = new KlarnaClient({
    credentials: requireKlarnaCredentials({ apiKey: sim.merchants[0]!.credentials.apiKey, baseUrl: sim.url }),
    rateBudget: UNLIMITED_BUDGET,
    retryPolicy: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2, maxWaitMs: 10 },
  });
});
afterAll(async () => {
  await Promise.all([store?.close(), sim?.close()]);
});

async function tableCounts() {
  const payouts = await store.db
    .selectFrom('klarna_payouts')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  const lines = await store.db
    .selectFrom('klarna_transactions')
    .select((eb) => eb.fn.countAll().as('n'))
    .executeTakeFirstOrThrow();
  return { payouts: Number(payouts.n), transactions: Number(lines.n) };
}

describe(`payout import on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  const since = '2026-01-01';
  const until = '2026-03-31';

  it('stores every payout and line of 90 days exactly once, and every payout reconciles', async () => {
    const merchant = sim.merchants[0]!;
    // One payout fails once with a malformed page; the rest of the run carries on.
    const victim = merchant.payouts[10]!.payment_reference;
    sim.injectFault({ kind: 'malformed', times: 1, pathIncludes: `payment_reference=${victim}` });
    const progress: ImportProgress[] = [];
    const first = await importPayouts({
      store,
      client,
      integrationId,
      since,
      until,
      onProgress: (e) => progress.push(e),
    });

    expect(first.payoutsSeen).toBe(merchant.payouts.length);
    expect(first.payoutsNew).toBe(merchant.payouts.length);
    expect(first.failed).toBe(1);
    expect(first.payouts.find((p) => p.paymentReference === victim)?.error).toMatch(/malformed JSON/);
    expect(progress.some((e) => e.kind === 'failed' && e.paymentReference === victim)).toBe(true);
    expect(await listPayouts(store.db, { integrationId, transactionsComplete: false })).toHaveLength(1);

    // The next run fetches only the payout left incomplete.
    const second = await importPayouts({ store, client, integrationId, since, until });
    expect(second).toMatchObject({ payoutsNew: 0, payoutsChanged: 0, payoutsFetched: 1, failed: 0 });
    expect(second.transactionsStored).toBe(merchant.transactionCountFor(victim));

    const counts = await tableCounts();
    expect(counts).toEqual({ payouts: merchant.payouts.length, transactions: merchant.transactionCount });
    expect(first.transactionsStored + second.transactionsStored).toBe(merchant.transactionCount);

    const stored = await listPayouts(store.db, { integrationId });
    expect(stored.map((p) => p.paymentReference).sort()).toEqual(
      merchant.payouts.map((p) => p.payment_reference).sort(),
    );
    for (const p of stored) {
      expect(p.transactionsComplete).toBe(true);
      expect(p.transactionCount).toBe(merchant.transactionCountFor(p.paymentReference));
      expect(p.reconciled, `${p.paymentReference}: ${p.reconciliation?.problems.join('; ')}`).toBe(true);
      expect(p.totals).toEqual(merchant.payout(p.paymentReference)!.totals);
      // Re-reconciling from the database's own sums gives the same answer.
      const again = reconcile({
        totals: p.totals,
        sums: await transactionSums(store.db, p.id),
        currencyCode: p.currencyCode,
      });
      expect(again).toEqual(p.reconciliation);
    }
    expect(stored.some((p) => (p.totals.deposit_amount ?? 0) > 0)).toBe(true);
  });

  it('a re-run stores nothing new and fetches no lines', async () => {
    const before = await tableCounts();
    const requestsBefore = sim.requestCount;
    const rerun = await importPayouts({ store, client, integrationId, since, until });
    expect(rerun).toMatchObject({
      payoutsSeen: sim.merchants[0]!.payouts.length,
      payoutsNew: 0,
      payoutsChanged: 0,
      payoutsFetched: 0,
      transactionsStored: 0,
      reconciled: sim.merchants[0]!.payouts.length,
      notReconciled: 0,
      failed: 0,
      unknownTypes: [],
    });
    expect(await tableCounts()).toEqual(before);
    // 180 payouts fit in one page of 500: one request, no transaction pages.
    expect(sim.requestCount - requestsBefore).toBe(1);
  });

  it('keeps an unknown detailed_type, flags it on the payout and in the result, and still reconciles', async () => {
    const other = (await createIntegration(store.db, { name: 'new-detail' })).id;
    const merchant = sim.merchants[0]!;
    const ref = merchant.payouts.find((p) =>
      merchant.transactionsFor(p.payment_reference).some((t) => t.detailed_type === 'PURCHASE'),
    )!.payment_reference;
    const renaming = new KlarnaClient({
      credentials: requireKlarnaCredentials({ apiKey: merchant.credentials.apiKey, baseUrl: sim.url }),
      rateBudget: UNLIMITED_BUDGET,
      retryPolicy: { maxRetries: 2, initialDelayMs: 1, maxDelayMs: 2, maxWaitMs: 10 },
      fetch: async (input, init) => {
        const res = await fetch(input, init);
        if (!new URL(String(input)).pathname.endsWith('/transactions')) return res;
        const body = (await res.json()) as { transactions: Record<string, unknown>[] };
        for (const tx of body.transactions) {
          if (tx.detailed_type === 'PURCHASE') tx.detailed_type = 'PURCHASE_PAY_IN_3';
        }
        return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
      },
    });
    const sales = merchant.transactionsFor(ref).filter((t) => t.detailed_type === 'PURCHASE').length;
    const progress: ImportProgress[] = [];
    const r = await importPayout({
      store,
      client: renaming,
      integrationId: other,
      paymentReference: ref,
      onProgress: (e) => progress.push(e),
    });
    expect(r).toMatchObject({ reconciled: 1, notReconciled: 0, unknownTypes: [] });
    expect(r.unknownDetailedTypes).toEqual(['PURCHASE_PAY_IN_3']);
    expect(r.payouts[0]!.warnings).toEqual([
      expect.stringContaining(`PURCHASE_PAY_IN_3 on ${sales} SALE line(s)`),
    ]);
    expect(progress.find((e) => e.kind === 'reconciled')).toMatchObject({
      ok: true,
      warnings: r.payouts[0]!.warnings,
    });

    const [stored] = await listPayouts(store.db, { integrationId: other });
    expect(stored).toMatchObject({ reconciled: true, unknownDetailedTypes: ['PURCHASE_PAY_IN_3'] });
    // The lines are kept as sent, and the database's own sums find the same detail.
    const sums = await transactionSums(store.db, stored!.id);
    expect(sums.detailedTypes?.SALE?.PURCHASE_PAY_IN_3?.count).toBe(sales);
    expect(reconcile({ totals: stored!.totals, sums, currencyCode: stored!.currencyCode })).toEqual(
      stored!.reconciliation,
    );
  });

  it('imports one payout by reference, idempotently', async () => {
    const other = (await createIntegration(store.db, { name: 'single' })).id;
    const ref = sim.merchants[0]!.payouts[3]!.payment_reference;
    const one = await importPayout({ store, client, integrationId: other, paymentReference: ref });
    expect(one).toMatchObject({ payoutsSeen: 1, payoutsNew: 1, reconciled: 1 });
    expect(one.transactionsStored).toBe(sim.merchants[0]!.transactionCountFor(ref));
    const again = await importPayout({ store, client, integrationId: other, paymentReference: ref });
    expect(again).toMatchObject({ payoutsNew: 0, transactionsStored: 0, reconciled: 1 });
  });
});
