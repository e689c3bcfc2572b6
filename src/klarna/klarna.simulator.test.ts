import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TokenBucketBudget, UNLIMITED_BUDGET } from '../http/rate-budget.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { requireKlarnaCredentials } from './key.ts';
import { KlarnaClient, type KlarnaClientOptions } from './klarna.client.ts';
import {
  KlarnaAuthenticationError,
  KlarnaConnectionError,
  KlarnaNotFoundError,
  KlarnaResponseError,
  KlarnaServerError,
} from './klarna.errors.ts';
import { createTransactionSums, reconcile } from './reconcile.ts';

// The client against the Klarna simulator's real HTTP server: wire format, auth,
// paging and fault handling as a deployed client would meet them.

let sim: KlarnaSimulator;
const LARGE = 1203;

beforeAll(async () => {
  sim = await startKlarnaSimulator({
    environment: 'playground',
    rateLimitPerSecond: 0,
    merchants: [
      { seed: 11, days: 30, currencies: ['SEK', 'EUR'] },
      { seed: 12, days: 3, largePayouts: [{ index: 1, transactions: LARGE }] },
    ],
  });
});
afterAll(async () => {
  await sim?.close();
});

function clientFor(
  merchant = 0,
  options: Partial<KlarnaClientOptions> & { apiKey?: string; username?: string } = {},
) {
  const creds = sim.merchants[merchant]!.credentials;
  const sleeps: number[] = [];
  const client = new KlarnaClient({
    credentials: requireKlarnaCredentials({
      apiKey: options.apiKey ?? creds.apiKey,
      username: options.username,
      baseUrl: sim.url,
    }),
    rateBudget: UNLIMITED_BUDGET,
    retryPolicy: { maxRetries: 3, initialDelayMs: 5, maxDelayMs: 20, maxWaitMs: 5_000 },
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    timeoutMs: 2_000,
    ...options,
  });
  return { client, sleeps };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('against the simulator: data', () => {
  it('lists every payout of the window exactly once', async () => {
    const { client } = clientFor(0);
    const expected = sim.merchants[0]!.payouts;
    const first = expected[0]!.payout_date.slice(0, 10);
    const last = expected[expected.length - 1]!.payout_date.slice(0, 10);
    const got = await collect(client.listPayouts({ since: first, until: last }));
    expect(got.map((r) => r.payout.payment_reference)).toEqual(expected.map((p) => p.payment_reference));
    expect(got[0]!.payout.totals).toEqual(expected[0]!.totals);
    expect(got[0]!.raw).toEqual(expected[0]);
  });

  it('the window covers whole days at both ends', async () => {
    const { client } = clientFor(0);
    const p = sim.merchants[0]!.payouts[5]!;
    const day = p.payout_date.slice(0, 10);
    const got = await collect(client.listPayouts({ since: day, until: day, currencyCode: p.currency_code }));
    expect(got.map((r) => r.payout.payment_reference)).toContain(p.payment_reference);
    expect(got.every((r) => r.payout.payout_date.startsWith(day))).toBe(true);
  });

  it('pages a payout of 1,203 lines at 500 a page and never asks for more than 500', async () => {
    const { client } = clientFor(1);
    const ref = sim.merchants[1]!.payouts[1]!.payment_reference;
    const before = sim.requestCount;
    const pages = await collect(client.transactionPages({ paymentReference: ref }));
    expect(pages.map((p) => p.records.length)).toEqual([500, 500, 203]);
    const sent = sim.requestLog.slice(-(sim.requestCount - before));
    const sizes = sent.map((r) => Number(new URL(r.path, sim.url).searchParams.get('size')));
    expect(sizes).toEqual([500, 500, 500]);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(500);
  });

  it('the server itself refuses a page size above 500', async () => {
    const creds = sim.merchants[0]!.credentials;
    const res = await fetch(`${sim.url}/settlements/v1/transactions?size=501`, {
      headers: { authorization: `Basic ${Buffer.from(creds.apiKey).toString('base64')}` },
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ error_code: 'BAD_VALUE' });
  });

  it('streams lines that reconcile with the payout, for every payout of the merchant', async () => {
    const { client } = clientFor(0, { pageSize: 37 });
    for (const p of sim.merchants[0]!.payouts) {
      const sums = createTransactionSums();
      let n = 0;
      for await (const r of client.transactions({ paymentReference: p.payment_reference })) {
        sums.add(r.transaction);
        n += 1;
      }
      expect(n).toBe(sim.merchants[0]!.transactionCountFor(p.payment_reference));
      const result = reconcile({ totals: p.totals, sums: sums.result(), currencyCode: p.currency_code });
      expect(result.problems, p.payment_reference).toEqual([]);
    }
  });

  it('finds lines by order_id, one payout by reference, the summary, the PDF and the CSV', async () => {
    const { client } = clientFor(0);
    const m = sim.merchants[0]!;
    const p = m.payouts[2]!;
    const line = m.transactionsFor(p.payment_reference)[0]!;
    const byOrder = await collect(client.transactions({ orderId: line.order_id }));
    expect(byOrder.length).toBeGreaterThan(0);
    expect(byOrder.every((r) => r.transaction.order_id === line.order_id)).toBe(true);

    expect((await client.getPayout(p.payment_reference)).payout).toEqual(p);
    await expect(client.getPayout('NOPE1234')).rejects.toBeInstanceOf(KlarnaNotFoundError);

    const day = p.payout_date.slice(0, 10);
    const summary = await client.getPayoutsSummary({ since: day, until: day });
    expect(summary.map((s) => s.summary.summary_settlement_currency).sort()).toEqual(['EUR', 'SEK']);

    const pdf = await client.getPayoutPdf(p.payment_reference);
    expect(pdf.subarray(0, 5).toString('latin1')).toBe('%PDF-');
    const csv = await client.getPayoutCsv(p.payment_reference);
    expect(csv).toContain(p.payment_reference);
    await expect(client.getPayoutCsv('NOPE1234')).rejects.toBeInstanceOf(KlarnaNotFoundError);
  });

  it('probe names the merchant', async () => {
    const { client } = clientFor(0, { username: sim.merchants[0]!.credentials.username });
    expect(await client.probe()).toEqual({ merchantId: sim.merchants[0]!.merchantId });
  });
});

describe('against the simulator: credentials', () => {
  it('a well-formed but unknown key gets KlarnaAuthenticationError with what to do', async () => {
    const { client } = clientFor(0, { apiKey: 'klarna_test_api_bm90LWEtcmVhbC1rZXktYXQtYWxs' });
    const err = (await client.probe().catch((e: unknown) => e)) as KlarnaAuthenticationError;
    expect(err).toBeInstanceOf(KlarnaAuthenticationError);
    expect(err.status).toBe(401);
    expect(err.correlationId).toBeTruthy();
    expect(err.message).toMatch(/key revoked or disabled, or wrong environment/);
    expect(err.message).not.toContain('bm90LWEtcmVhbC1rZXktYXQtYWxs');
  });

  it('a live key against the playground is refused', async () => {
    const live = 'klarna_live_api_bGl2ZS1rZXktYWdhaW5zdC1wbGF5Z3JvdW5k';
    const { client } = clientFor(0, { apiKey: live });
    const err = (await client.probe().catch((e: unknown) => e)) as KlarnaAuthenticationError;
    expect(err).toBeInstanceOf(KlarnaAuthenticationError);
    expect(err.message).toMatch(/production, eu, http:\/\/127\.0\.0\.1:\d+, key klarna_live_api_…/);
    expect(err.message).not.toContain('bGl2ZS1rZXkt');
  });

  it('a username that does not belong to the key is refused', async () => {
    const { client } = clientFor(0, { username: '0b6f5e8c-1d2a-4c3b-9e8f-7a6b5c4d3e2f' });
    await expect(client.probe()).rejects.toBeInstanceOf(KlarnaAuthenticationError);
  });

  it('a revoked key stops working', async () => {
    const s = await startKlarnaSimulator({ merchants: [{ seed: 99, days: 2 }], rateLimitPerSecond: 0 });
    try {
      const client = new KlarnaClient({
        credentials: requireKlarnaCredentials({ apiKey: s.merchants[0]!.credentials.apiKey, baseUrl: s.url }),
        rateBudget: UNLIMITED_BUDGET,
      });
      await client.probe();
      s.revokeKey(s.merchants[0]!.credentials.apiKey);
      await expect(client.probe()).rejects.toBeInstanceOf(KlarnaAuthenticationError);
    } finally {
      await s.close();
    }
  });
});

describe('against the simulator: faults', () => {
  it('429 with X-Ratelimit-Reset: waits the reset, then succeeds', async () => {
    const { client, sleeps } = clientFor(0);
    sim.injectFault({ kind: '429', resetSeconds: 2, times: 1, pathIncludes: '/payouts/' });
    const ref = sim.merchants[0]!.payouts[0]!.payment_reference;
    await expect(client.getPayout(ref)).resolves.toBeTruthy();
    expect(sleeps).toEqual([2_000]);
  });

  it('429 with an HTTP-date Retry-After longer than the reset: waits the longer one', async () => {
    const { client, sleeps } = clientFor(0, { now: () => new Date('2026-03-02T10:00:00Z') });
    sim.injectFault({
      kind: '429',
      resetSeconds: 1,
      retryAfter: 'Mon, 02 Mar 2026 10:00:04 GMT',
      pathIncludes: '/payouts/',
    });
    await client.getPayout(sim.merchants[0]!.payouts[0]!.payment_reference);
    expect(sleeps).toEqual([4_000]);
  });

  it('5xx then success', async () => {
    const { client, sleeps } = clientFor(0);
    const before = sim.requestCount;
    sim.injectFault({ kind: '500', times: 1, pathIncludes: '/payouts/' });
    sim.injectFault({ kind: '503', times: 1, pathIncludes: '/payouts/' });
    await client.getPayout(sim.merchants[0]!.payouts[0]!.payment_reference);
    expect(sim.requestCount - before).toBe(3);
    expect(sleeps).toHaveLength(2);
  });

  it('5xx that persists ends in KlarnaServerError with the correlation id', async () => {
    const { client } = clientFor(0);
    sim.injectFault({ kind: '502', times: 10, pathIncludes: '/payouts/' });
    try {
      const err = (await client.getPayout('X').catch((e: unknown) => e)) as KlarnaServerError;
      expect(err).toBeInstanceOf(KlarnaServerError);
      expect(err.errorCode).toBe('BAD_GATEWAY');
      expect(err.correlationId).toBeTruthy();
    } finally {
      sim.clearFaults();
    }
  });

  it('a slow answer times out and the retry succeeds', async () => {
    const { client } = clientFor(0, { timeoutMs: 150 });
    sim.injectFault({ kind: 'slow', delayMs: 1_000, times: 1, pathIncludes: '/payouts/' });
    await expect(client.getPayout(sim.merchants[0]!.payouts[0]!.payment_reference)).resolves.toBeTruthy();
  });

  it('an answer that never comes in time is a KlarnaConnectionError (TIMEOUT)', async () => {
    const { client } = clientFor(0, {
      timeoutMs: 100,
      retryPolicy: { maxRetries: 1, initialDelayMs: 1, maxDelayMs: 1, maxWaitMs: 10 },
    });
    sim.injectFault({ kind: 'slow', delayMs: 1_000, times: 2, pathIncludes: '/payouts/' });
    const err = (await client.getPayout('X').catch((e: unknown) => e)) as KlarnaConnectionError;
    expect(err).toBeInstanceOf(KlarnaConnectionError);
    expect(err.code).toBe('TIMEOUT');
  });

  it('a dropped connection is retried', async () => {
    const { client, sleeps } = clientFor(0);
    sim.injectFault({ kind: 'drop', times: 1, pathIncludes: '/payouts/' });
    await expect(client.getPayout(sim.merchants[0]!.payouts[0]!.payment_reference)).resolves.toBeTruthy();
    expect(sleeps).toHaveLength(1);
  });

  it('malformed JSON is a KlarnaResponseError', async () => {
    const { client } = clientFor(0);
    sim.injectFault({ kind: 'malformed', times: 1, pathIncludes: '/transactions' });
    const ref = sim.merchants[0]!.payouts[0]!.payment_reference;
    const err = await collect(client.transactions({ paymentReference: ref })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlarnaResponseError);
    expect((err as Error).message).toMatch(/malformed JSON/);
  });

  it("a budget a bit under the server's limit gets no 429s", async () => {
    const s = await startKlarnaSimulator({ merchants: [{ seed: 5, days: 2 }], rateLimitPerSecond: 10 });
    try {
      const client = new KlarnaClient({
        credentials: requireKlarnaCredentials({ apiKey: s.merchants[0]!.credentials.apiKey, baseUrl: s.url }),
        rateBudget: new TokenBucketBudget({ capacity: 2, refillPerSecond: 8 }),
        retryPolicy: { maxRetries: 0, initialDelayMs: 1, maxDelayMs: 1, maxWaitMs: 1 },
      });
      const ref = s.merchants[0]!.payouts[0]!.payment_reference;
      await Promise.all(Array.from({ length: 12 }, () => client.getPayout(ref)));
      expect(s.requestLog.filter((r) => r.status === 429)).toEqual([]);
      expect(s.requestCount).toBe(12);
    } finally {
      await s.close();
    }
  });
});
