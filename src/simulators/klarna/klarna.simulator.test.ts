import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SimMerchant } from './generator.ts';
import { type KlarnaSimulator, runKlarnaSimulatorCli, startKlarnaSimulator } from './klarna.simulator.ts';

interface PageInfo {
  count: number;
  total: number;
  offset: number;
  next?: string;
  prev?: string;
}

const basic = (user: string, pass: string) => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const authOf = (m: SimMerchant) => basic(m.credentials.username, m.credentials.apiKey);

interface ErrorBody {
  error_code: string;
  error_messages: string[];
  correlation_id: string;
}

async function expectError(res: Response, status: number, code?: string): Promise<ErrorBody> {
  expect(res.status).toBe(status);
  const body = (await res.json()) as ErrorBody;
  expect(body.error_messages.length).toBeGreaterThan(0);
  expect(body.correlation_id).toMatch(/^[0-9a-f-]{36}$/);
  if (code) expect(body.error_code).toBe(code);
  return body;
}

describe('Klarna simulator over HTTP', () => {
  let sim: KlarnaSimulator;
  let main: SimMerchant;
  let big: SimMerchant;
  let api: string;
  const get = (path: string, m: SimMerchant = main, init: RequestInit = {}) =>
    fetch(`${api}${path}`, { ...init, headers: { Authorization: authOf(m), ...(init.headers ?? {}) } });

  beforeAll(async () => {
    sim = await startKlarnaSimulator({
      rateLimitPerSecond: 0,
      merchants: [{ seed: 1 }, { seed: 7, days: 3, largePayouts: [{ index: 1, transactions: 1_200 }] }],
    });
    [main, big] = sim.merchants as [SimMerchant, SimMerchant];
    api = `${sim.url}/settlements/v1`;
  });
  afterAll(() => sim.close());
  afterEach(() => sim.clearFaults());

  describe('authentication', () => {
    it('accepts base64(username:key), base64(:key) and base64(key)', async () => {
      expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const { apiKey } = main.credentials;
      for (const header of [
        authOf(main),
        basic('', apiKey),
        `Basic ${Buffer.from(apiKey).toString('base64')}`,
      ]) {
        const res = await fetch(`${api}/payouts?size=1`, { headers: { Authorization: header } });
        expect(res.status).toBe(200);
      }
    });

    it('refuses missing, wrong, mismatched and raw credentials with a 401 error body', async () => {
      await expectError(await fetch(`${api}/payouts`), 401, 'UNAUTHORIZED');
      const wrongKey = `klarna_test_api_${'x'.repeat(48)}`;
      await expectError(
        await fetch(`${api}/payouts`, {
          headers: { Authorization: basic(main.credentials.username, wrongKey) },
        }),
        401,
        'BAD_CREDENTIALS',
      );
      await expectError(
        await fetch(`${api}/payouts`, {
          headers: { Authorization: basic(big.credentials.username, main.credentials.apiKey) },
        }),
        401,
      );
      await expectError(
        await fetch(`${api}/payouts`, { headers: { Authorization: `Basic ${main.credentials.apiKey}` } }),
        401,
      );
    });

    it('refuses a live key on the playground', async () => {
      const live = main.credentials.apiKey.replace('klarna_test_api_', 'klarna_live_api_');
      const body = await expectError(
        await fetch(`${api}/payouts`, { headers: { Authorization: basic('', live) } }),
        401,
      );
      expect(body.error_messages.join(' ')).toMatch(/production|live/);
    });

    it('refuses a revoked key', async () => {
      const extra = sim.addMerchant({ seed: 99, days: 2 });
      expect((await get('/payouts', extra)).status).toBe(200);
      sim.revokeKey(extra.credentials.apiKey);
      await expectError(await get('/payouts', extra), 401);
    });

    it('refuses test keys on a production simulator and issues live keys there', async () => {
      const prod = await startKlarnaSimulator({
        environment: 'production',
        merchants: [{ seed: 1, days: 2 }],
      });
      try {
        const m = prod.merchants[0]!;
        expect(m.credentials.apiKey).toMatch(/^klarna_live_api_/);
        expect(m.credentials.environment).toBe('production');
        const ok = await fetch(`${prod.url}/settlements/v1/payouts`, {
          headers: { Authorization: authOf(m) },
        });
        expect(ok.status).toBe(200);
        expect(ok.headers.get('x-ratelimit-limit')).toMatch(/^200\b/);
        await expectError(
          await fetch(`${prod.url}/settlements/v1/payouts`, { headers: { Authorization: authOf(main) } }),
          401,
        );
      } finally {
        await prod.close();
      }
    });
  });

  describe('payouts', () => {
    it('pages with count, total, offset and absolute next/prev links', async () => {
      const res = await get('/payouts?size=40&offset=40');
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^application\/json/);
      const body = (await res.json()) as {
        payouts: Array<{ payment_reference: string }>;
        pagination: PageInfo;
      };
      expect(body.payouts.map((p) => p.payment_reference)).toEqual(
        main.payouts.slice(40, 80).map((p) => p.payment_reference),
      );
      expect(body.pagination).toMatchObject({ count: 40, total: 90, offset: 40 });
      expect(new URL(body.pagination.next!).origin).toBe(sim.url);
      expect(new URL(body.pagination.next!).searchParams.get('offset')).toBe('80');
      expect(new URL(body.pagination.prev!).searchParams.get('offset')).toBe('0');

      const first = (await (await get('/payouts')).json()) as { payouts: unknown[]; pagination: PageInfo };
      expect(first.payouts).toHaveLength(20);
      expect(first.pagination.prev).toBeUndefined();
      const last = (await (await get('/payouts?offset=80&size=40')).json()) as { pagination: PageInfo };
      expect(last.pagination.count).toBe(10);
      expect(last.pagination.next).toBeUndefined();
    });

    it('filters on payout_date; a date without a time means midnight UTC', async () => {
      const dates = async (query: string) => {
        const body = (await (await get(`/payouts?${query}`)).json()) as {
          payouts: Array<{ payout_date: string }>;
        };
        return body.payouts.map((p) => p.payout_date.slice(0, 10));
      };
      expect(await dates('start_date=2026-01-10&end_date=2026-01-12')).toEqual(['2026-01-10', '2026-01-11']);
      expect(await dates('start_date=2026-01-10T00:00:00Z&end_date=2026-01-12T23:59:59Z')).toEqual([
        '2026-01-10',
        '2026-01-11',
        '2026-01-12',
      ]);
      expect(await dates('start_date=2026-03-30T00:00:00%2B02:00&size=500')).toEqual([
        '2026-03-30',
        '2026-03-31',
      ]);
      expect(await dates('currency_code=EUR')).toEqual([]);
    });

    it('answers 400 with an error body on bad parameters', async () => {
      const tooBig = await expectError(await get('/payouts?size=501'), 400);
      expect(tooBig.error_messages.join(' ')).toMatch(/500/);
      await expectError(await get('/payouts?size=abc'), 400);
      await expectError(await get('/payouts?offset=-1'), 400);
      await expectError(await get('/payouts?start_date=yesterday'), 400);
      await expectError(await get('/transactions?size=501'), 400);
      await expectError(await get('/payouts/summary?start_date=2026-01-01'), 400);
    });

    it('returns one payout by reference and 404 for an unknown or foreign one', async () => {
      const p = main.payouts[5]!;
      const res = await get(`/payouts/${p.payment_reference}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { payment_reference: string; transactions: string; totals: unknown };
      expect(body).toEqual({
        ...p,
        transactions: `${api}/transactions?payment_reference=${p.payment_reference}`,
      });
      await expectError(await get('/payouts/NOPE1234'), 404, 'NOT_FOUND');
      await expectError(await get(`/payouts/${p.payment_reference}`, big), 404);
    });

    it('summarises a date range per currency', async () => {
      const multi = sim.addMerchant({ seed: 11, days: 5, currencies: ['SEK', 'EUR'], ordersPerPayout: 3 });
      const res = await get('/payouts/summary?start_date=2026-01-01&end_date=2026-01-03T23:59:59Z', multi);
      const body = (await res.json()) as Array<Record<string, number | string>>;
      expect(body.map((s) => s.summary_settlement_currency)).toEqual(['SEK', 'EUR']);
      const sek = multi.payouts.filter((p) => p.currency_code === 'SEK').slice(0, 3);
      expect(body[0]!.summary_total_sale_amount).toBe(sek.reduce((n, p) => n + p.totals.sale_amount, 0));
      expect(body[0]!.summary_total_settlement_amount).toBe(
        sek.reduce((n, p) => n + p.totals.settlement_amount, 0),
      );
      expect(body[0]!.summary_payout_date_start).toBe('2026-01-01T00:00:00Z');
      const eurOnly = (await (
        await get('/payouts/summary?start_date=2026-01-01&end_date=2026-01-03&currency_code=EUR', multi)
      ).json()) as unknown[];
      expect(eurOnly).toHaveLength(1);
    });
  });

  describe('transactions', () => {
    it('pages through a >500-line payout by following next links', async () => {
      const payout = big.payouts[1]!;
      expect(big.transactionCountFor(payout.payment_reference)).toBe(1_200);
      let next: string | undefined =
        `${api}/transactions?payment_reference=${payout.payment_reference}&size=500`;
      const counts: number[] = [];
      const seen: unknown[] = [];
      while (next) {
        const res = await fetch(next, { headers: { Authorization: authOf(big) } });
        expect(res.status).toBe(200);
        const body = (await res.json()) as { transactions: unknown[]; pagination: PageInfo };
        counts.push(body.pagination.count);
        expect(body.pagination.total).toBe(1_200);
        seen.push(...body.transactions);
        next = body.pagination.next;
      }
      expect(counts).toEqual([500, 500, 200]);
      expect(seen).toEqual(big.transactionsFor(payout.payment_reference));
    });

    it('links each transaction to its payout and filters by order_id', async () => {
      const payout = main.payouts[30]!;
      const body = (await (
        await get(`/transactions?payment_reference=${payout.payment_reference}&size=5`)
      ).json()) as { transactions: Array<{ payout: string; order_id: string }> };
      expect(body.transactions[0]!.payout).toBe(`${api}/payouts/${payout.payment_reference}`);
      const orderId = body.transactions[0]!.order_id;
      const byOrder = (await (await get(`/transactions?order_id=${orderId}&size=500`)).json()) as {
        transactions: Array<{ order_id: string }>;
        pagination: { total: number };
      };
      expect(byOrder.transactions.length).toBeGreaterThanOrEqual(3);
      expect(byOrder.transactions.every((t) => t.order_id === orderId)).toBe(true);
    });

    it('lists all of a merchant’s transactions across payouts', async () => {
      const res = await get('/transactions?size=500&offset=1000');
      const body = (await res.json()) as {
        transactions: unknown[];
        pagination: { total: number; count: number };
      };
      expect(body.pagination).toMatchObject({ total: main.transactionCount, count: 500 });
      const all = [...main.eachPayoutTransactions()].flatMap((p) => p.transactions);
      expect(body.transactions).toEqual(all.slice(1000, 1500));
    });

    it('returns an empty collection for an unknown payment_reference', async () => {
      const body = (await (await get('/transactions?payment_reference=NOPE1234')).json()) as {
        transactions: unknown[];
        pagination: { count: number; total: number };
      };
      expect(body.transactions).toEqual([]);
      expect(body.pagination).toMatchObject({ count: 0, total: 0 });
    });
  });

  describe('reports', () => {
    it('serves the payout CSV with totals and every transaction line', async () => {
      const p = main.payouts[12]!;
      const res = await get(`/reports/payout-with-transactions?payment_reference=${p.payment_reference}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/^text\/csv/);
      const lines = (await res.text()).split('\r\n');
      const header = lines[0]!.split(';');
      const values = lines[1]!.split(';');
      expect(values[header.indexOf('payment_reference')]).toBe(p.payment_reference);
      const settlement = values[header.indexOf('total_settlement_amount')]!;
      expect(settlement).toMatch(/^\d+\.\d{2}$/);
      expect(Math.round(Number(settlement) * 100)).toBe(p.totals.settlement_amount);
      expect(lines[2]).toBe('');
      expect(lines[3]!.split(';').slice(0, 10)).toEqual([
        'type',
        'capture_date',
        'sale_date',
        'order_id',
        'short_order_id',
        'capture_id',
        'merchant_reference1',
        'merchant_reference2',
        'amount',
        'posting_currency',
      ]);
      const rows = lines.slice(4).filter((l) => l !== '');
      expect(rows).toHaveLength(main.transactionCountFor(p.payment_reference));
      expect(rows[0]!.split(';')[8]).toMatch(/^-?\d+\.\d{2}$/);
      await expectError(await get('/reports/payout-with-transactions?payment_reference=NOPE1234'), 404);
      await expectError(await get('/reports/payout-with-transactions'), 400);
    });

    it('serves a PDF naming the payout', async () => {
      const p = main.payouts[12]!;
      const res = await get(`/reports/payout?payment_reference=${p.payment_reference}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('application/pdf');
      const buf = Buffer.from(await res.arrayBuffer());
      const text = buf.toString('latin1');
      expect(text.startsWith('%PDF-')).toBe(true);
      expect(text.trimEnd().endsWith('%%EOF')).toBe(true);
      expect(text).toContain(p.payment_reference);
      expect(text).toContain(p.payout_date);
      // The xref offset must point at the xref table, or readers reject the file.
      const startxref = Number(/startxref\n(\d+)/.exec(text)![1]);
      expect(text.slice(startxref, startxref + 4)).toBe('xref');
      const notFound = await get('/reports/payout?payment_reference=NOPE1234');
      expect(notFound.headers.get('content-type')).toBe('application/pdf');
      await expectError(notFound, 404);
    });

    it('serves the date-range summary reports', async () => {
      const csv = await get(
        '/reports/payouts-summary-with-transactions?start_date=2026-01-01&end_date=2026-01-02',
      );
      expect(csv.status).toBe(200);
      const text = await csv.text();
      expect(text.split('\r\n')[1]).toMatch(/^SEK;2026-01-01T00:00:00Z;2026-01-02T00:00:00Z;/);
      expect(text).toContain(main.payouts[0]!.payment_reference);
      const pdf = await get('/reports/payouts-summary?start_date=2026-01-01&end_date=2026-01-31');
      expect(
        Buffer.from(await pdf.arrayBuffer())
          .subarray(0, 5)
          .toString(),
      ).toBe('%PDF-');
      await expectError(await get('/reports/payouts-summary?end_date=2026-01-31'), 400);
    });

    it('pads PDFs to a requested size', async () => {
      const padded = await startKlarnaSimulator({ merchants: [{ seed: 1, days: 2 }], pdfSizeBytes: 200_000 });
      try {
        const m = padded.merchants[0]!;
        const res = await fetch(
          `${padded.url}/settlements/v1/reports/payout?payment_reference=${m.payouts[0]!.payment_reference}`,
          { headers: { Authorization: authOf(m) } },
        );
        const buf = Buffer.from(await res.arrayBuffer());
        expect(buf.length).toBeGreaterThan(190_000);
        expect(buf.length).toBeLessThan(210_000);
      } finally {
        await padded.close();
      }
    });
  });

  describe('faults', () => {
    it('answers 429 with reset and Retry-After, then recovers', async () => {
      sim.injectFault({ kind: '429', resetSeconds: 3, retryAfter: '2', times: 2 });
      for (let i = 0; i < 2; i++) {
        const res = await get('/payouts');
        expect(res.headers.get('x-ratelimit-reset')).toBe('3');
        expect(res.headers.get('x-ratelimit-remaining')).toBe('0');
        expect(res.headers.get('retry-after')).toBe('2');
        await expectError(res, 429);
      }
      expect((await get('/payouts')).status).toBe(200);
    });

    it('answers 5xx with an error body', async () => {
      for (const kind of ['500', '502', '503'] as const) {
        sim.injectFault({ kind });
        await expectError(await get('/payouts'), Number(kind));
      }
    });

    it('delays a slow response', async () => {
      sim.injectFault({ kind: 'slow', delayMs: 150 });
      const t0 = performance.now();
      const res = await get('/payouts?size=1');
      expect(res.status).toBe(200);
      expect(performance.now() - t0).toBeGreaterThanOrEqual(140);
    });

    it('drops the connection without a response', async () => {
      sim.injectFault({ kind: 'drop' });
      await expect(get('/payouts')).rejects.toThrow();
      expect(sim.requestLog.at(-1)).toMatchObject({ status: 0 });
      expect((await get('/payouts')).status).toBe(200);
    });

    it('sends truncated JSON with status 200', async () => {
      sim.injectFault({ kind: 'malformed' });
      const res = await get('/payouts');
      expect(res.status).toBe(200);
      const text = await res.text();
      expect(text.length).toBeGreaterThan(0);
      expect(() => JSON.parse(text)).toThrow();
    });

    it('applies faults only to matching paths, in order', async () => {
      sim.injectFault({ kind: '503', pathIncludes: '/transactions' });
      sim.injectFault({ kind: '500' });
      expect((await get('/payouts/summary?start_date=2026-01-01&end_date=2026-01-02')).status).toBe(500);
      expect((await get('/payouts')).status).toBe(200);
      expect((await get('/transactions?size=1')).status).toBe(503);
      expect((await get('/transactions?size=1')).status).toBe(200);
    });
  });

  it('counts and logs requests', async () => {
    const before = sim.requestCount;
    await get('/payouts?size=2');
    expect(sim.requestCount).toBe(before + 1);
    expect(sim.requestLog.at(-1)).toEqual({
      method: 'GET',
      path: '/settlements/v1/payouts?size=2',
      status: 200,
    });
    expect(sim.requestLog.length).toBeLessThanOrEqual(1000);
  });
});

describe('rate limiting', () => {
  it('sends rate-limit headers and answers 429 past the per-second budget', async () => {
    const sim = await startKlarnaSimulator({ rateLimitPerSecond: 5, merchants: [{ seed: 1, days: 2 }] });
    try {
      const m = sim.merchants[0]!;
      const url = `${sim.url}/settlements/v1/payouts`;
      const first = await fetch(url, { headers: { Authorization: authOf(m) } });
      expect(first.headers.get('x-ratelimit-limit')).toMatch(/^5\b/);
      expect(Number(first.headers.get('x-ratelimit-remaining'))).toBeLessThan(5);
      expect(Number(first.headers.get('x-ratelimit-reset'))).toBeGreaterThanOrEqual(1);
      const burst = await Promise.all(
        Array.from({ length: 12 }, () => fetch(url, { headers: { Authorization: authOf(m) } })),
      );
      const limited = burst.filter((r) => r.status === 429);
      expect(limited.length).toBeGreaterThan(0);
      const body = (await limited[0]!.json()) as ErrorBody;
      expect(body.error_code).toBe('TOO_MANY_REQUESTS');
      expect(limited[0]!.headers.get('x-ratelimit-remaining')).toBe('0');
      await Promise.all(burst.filter((r) => !r.bodyUsed).map((r) => r.arrayBuffer()));
    } finally {
      await sim.close();
    }
  });
});

describe('runKlarnaSimulatorCli', () => {
  it('logs the URL and each merchant’s credentials, with payouts up to yesterday', async () => {
    const lines: string[] = [];
    const sim = await runKlarnaSimulatorCli({ seed: 4, days: 10, log: (l) => lines.push(l) });
    try {
      const m = sim.merchants[0]!;
      const text = lines.join('\n');
      expect(text).toContain(sim.url);
      expect(text).toContain(m.merchantId);
      expect(text).toContain(m.credentials.username);
      expect(text).toContain(m.credentials.apiKey);
      const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);
      expect(m.payouts.at(-1)!.payout_date.slice(0, 10)).toBe(yesterday);
    } finally {
      await sim.close();
    }
  });
});
