import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { UNLIMITED_BUDGET } from '../http/rate-budget.ts';
import { requireKlarnaCredentials } from './key.ts';
import { KlarnaClient, type KlarnaClientOptions, type KlarnaLogger } from './klarna.client.ts';
import {
  KlarnaAuthenticationError,
  KlarnaBadRequestError,
  KlarnaConnectionError,
  KlarnaError,
  KlarnaNotFoundError,
  KlarnaRateLimitError,
  KlarnaResponseError,
  KlarnaServerError,
} from './klarna.errors.ts';

const KEY = 'klarna_test_api_c2VjcmV0LWtleS1mb3ItdW5pdC10ZXN0cw';
const KEY_PART = 'c2VjcmV0';
const UUID = '0b6f5e8c-1d2a-4c3b-9e8f-7a6b5c4d3e2f';

type Handler = (url: URL, init: RequestInit, n: number) => Response | Promise<Response>;

function jsonResponse(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function tx(i: number, extra: Record<string, unknown> = {}) {
  return {
    amount: 100 + i,
    type: 'SALE',
    detailed_type: 'PURCHASE',
    capture_id: `c${i}`,
    order_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    sale_date: '2026-01-01T10:00:00Z',
    capture_date: '2026-01-01T10:00:00Z',
    payment_reference: 'REF1',
    currency_code: 'SEK',
    purchase_country: 'SE',
    ...extra,
  };
}

function harness(handler: Handler, options: Partial<KlarnaClientOptions> = {}) {
  const calls: Array<{ url: URL; headers: Headers }> = [];
  const sleeps: number[] = [];
  const logs: Array<{ level: string; obj: object; msg?: string }> = [];
  const logger: KlarnaLogger = {
    debug: (obj, msg) => logs.push({ level: 'debug', obj, msg }),
    info: (obj, msg) => logs.push({ level: 'info', obj, msg }),
    warn: (obj, msg) => logs.push({ level: 'warn', obj, msg }),
  };
  const fakeFetch = (async (input: string | URL | Request, init: RequestInit = {}) => {
    const url = new URL(String(input));
    calls.push({ url, headers: new Headers(init.headers) });
    return handler(url, init, calls.length - 1);
  }) as typeof fetch;
  const client = new KlarnaClient({
    credentials: requireKlarnaCredentials({ apiKey: KEY }),
    fetch: fakeFetch,
    sleep: async (ms) => {
      sleeps.push(ms);
    },
    random: () => 1,
    rateBudget: UNLIMITED_BUDGET,
    retryPolicy: { maxRetries: 3, initialDelayMs: 10, maxDelayMs: 40, maxWaitMs: 5_000 },
    logger,
    now: () => new Date('2026-03-02T10:00:00Z'),
    ...options,
  });
  return { client, calls, sleeps, logs };
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Serves `all` in pages, honouring offset/size like Klarna, with a tweakable pagination object. */
function pagedTransactions(
  all: unknown[],
  tweak: (p: Record<string, unknown>, offset: number) => void = () => {},
): Handler {
  return (url) => {
    const offset = Number(url.searchParams.get('offset') ?? 0);
    const size = Number(url.searchParams.get('size') ?? 20);
    const items = all.slice(offset, offset + size);
    const pagination: Record<string, unknown> = { count: items.length, total: all.length, offset };
    tweak(pagination, offset);
    return jsonResponse({ transactions: items, pagination });
  };
}

describe('KlarnaClient requests', () => {
  it('sends base64(key) without username and base64(uuid:key) with one', async () => {
    const h1 = harness(() => jsonResponse({ payouts: [], pagination: { count: 0, total: 0 } }));
    await h1.client.probe();
    expect(h1.calls[0]!.headers.get('authorization')).toBe(`Basic ${Buffer.from(KEY).toString('base64')}`);

    const h2 = harness(() => jsonResponse({ payouts: [], pagination: { count: 0, total: 0 } }), {
      credentials: requireKlarnaCredentials({ apiKey: KEY, username: UUID }),
    });
    await h2.client.probe();
    expect(h2.calls[0]!.headers.get('authorization')).toBe(
      `Basic ${Buffer.from(`${UUID}:${KEY}`).toString('base64')}`,
    );
  });

  it('asks for payouts over whole UTC days at page size 500', async () => {
    const h = harness(() => jsonResponse({ payouts: [], pagination: { count: 0, total: 0 } }));
    await collect(h.client.listPayouts({ since: '2026-01-01', until: '2026-01-31', currencyCode: 'SEK' }));
    const q = h.calls[0]!.url.searchParams;
    expect(h.calls[0]!.url.pathname).toBe('/settlements/v1/payouts');
    expect(h.calls[0]!.url.origin).toBe('https://api.playground.klarna.com');
    expect(q.get('start_date')).toBe('2026-01-01T00:00:00Z');
    expect(q.get('end_date')).toBe('2026-01-31T23:59:59Z');
    expect(q.get('currency_code')).toBe('SEK');
    expect(q.get('size')).toBe('500');
    expect(q.get('offset')).toBe('0');
  });

  it.each([
    [{ since: '2026-1-1', until: '2026-01-02' }, /since must be a date/],
    [{ since: '2026-02-30', until: '2026-03-01' }, /since must be a date/],
    [{ since: '2026-03-02', until: '2026-03-01' }, /after until/],
  ])('refuses a bad window %j before any request', async (window, message) => {
    const h = harness(() => jsonResponse({}));
    await expect(collect(h.client.listPayouts(window))).rejects.toThrow(message);
    expect(h.calls).toHaveLength(0);
  });

  it('refuses a page size above 500', () => {
    expect(() => harness(() => jsonResponse({}), { pageSize: 501 })).toThrow(
      /pageSize must be an integer from 1 to 500/,
    );
  });

  it('encodes the payment reference in the path', async () => {
    const h = harness(() => jsonResponse({}, 404));
    await expect(h.client.getPayout('A/B C')).rejects.toBeInstanceOf(KlarnaNotFoundError);
    expect(h.calls[0]!.url.pathname).toBe('/settlements/v1/payouts/A%2FB%20C');
  });
});

describe('KlarnaClient pagination', () => {
  it('walks offset by count until total, page by page', async () => {
    const all = Array.from({ length: 7 }, (_, i) => tx(i));
    const h = harness(pagedTransactions(all), { pageSize: 3 });
    const pages = await collect(h.client.transactionPages({ paymentReference: 'REF1' }));
    expect(pages.map((p) => [p.index, p.offset, p.records.length, p.total])).toEqual([
      [0, 0, 3, 7],
      [1, 3, 3, 7],
      [2, 6, 1, 7],
    ]);
    expect(h.calls.map((c) => c.url.searchParams.get('offset'))).toEqual(['0', '3', '6']);
    expect(h.calls.every((c) => c.url.searchParams.get('payment_reference') === 'REF1')).toBe(true);
  });

  it('stops after one request when total fits in the first page', async () => {
    const h = harness(pagedTransactions([tx(1)]));
    expect(await collect(h.client.transactions({ orderId: 'o-1' }))).toHaveLength(1);
    expect(h.calls).toHaveLength(1);
    expect(h.calls[0]!.url.searchParams.get('order_id')).toBe('o-1');
  });

  it('without total follows next links and stops on an empty page', async () => {
    const all = Array.from({ length: 4 }, (_, i) => tx(i));
    const h = harness(
      pagedTransactions(all, (p, offset) => {
        delete p.total;
        p.next = `https://api.playground.klarna.com/settlements/v1/transactions?offset=${offset + 2}&size=2`;
      }),
      { pageSize: 2 },
    );
    const records = await collect(h.client.transactions({ paymentReference: 'REF1' }));
    expect(records).toHaveLength(4);
    expect(h.calls.map((c) => c.url.searchParams.get('offset'))).toEqual(['0', '2', '4']);
  });

  it('without total and next, a short page ends the walk', async () => {
    const all = Array.from({ length: 3 }, (_, i) => tx(i));
    const h = harness(
      pagedTransactions(all, (p) => delete p.total),
      { pageSize: 2 },
    );
    expect(await collect(h.client.transactions({ paymentReference: 'REF1' }))).toHaveLength(3);
    expect(h.calls).toHaveLength(2);
  });

  it("uses its own count when a next link's offset disagrees (Klarna's example is off by one), and warns", async () => {
    const all = Array.from({ length: 4 }, (_, i) => tx(i));
    const h = harness(
      pagedTransactions(all, (p, offset) => {
        delete p.total;
        if (offset < 4) p.next = `http://example.com/collection?offset=${offset + 3}&size=2`;
      }),
      { pageSize: 2 },
    );
    expect(await collect(h.client.transactions({ paymentReference: 'REF1' }))).toHaveLength(4);
    expect(h.calls.every((c) => c.url.origin === 'https://api.playground.klarna.com')).toBe(true);
    expect(h.logs.some((l) => l.level === 'warn' && /next link disagrees/.test(l.msg ?? ''))).toBe(true);
  });

  it('is bounded: a server that never ends paging is stopped', async () => {
    const h = harness(
      () => jsonResponse({ transactions: [tx(1)], pagination: { count: 1, next: 'x?offset=1' } }),
      {
        pageSize: 1,
        maxPages: 5,
      },
    );
    await expect(collect(h.client.transactions({ paymentReference: 'REF1' }))).rejects.toThrow(
      /did not end after 5 pages/,
    );
    expect(h.calls).toHaveLength(5);
  });

  it.each([
    [
      'count disagrees with the items',
      (p: Record<string, unknown>) => (p.count = 5),
      /says count 5 but holds/,
    ],
    [
      'total changes mid-walk',
      (p: Record<string, unknown>, o: number) => {
        if (o > 0) p.total = 9;
      },
      /changed while paging/,
    ],
    [
      'offset echoed wrong',
      (p: Record<string, unknown>, o: number) => {
        if (o > 0) p.offset = 0;
      },
      /answered offset 0 for a request at offset 2/,
    ],
    ['pagination missing count', (p: Record<string, unknown>) => delete p.count, /pagination\.count/],
  ])('a malformed page is a typed error: %s', async (_name, tweak, message) => {
    const all = Array.from({ length: 4 }, (_, i) => tx(i));
    const h = harness(pagedTransactions(all, tweak as (p: Record<string, unknown>, o: number) => void), {
      pageSize: 2,
    });
    const err = await collect(h.client.transactions({ paymentReference: 'REF1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlarnaResponseError);
    expect((err as Error).message).toMatch(message);
  });

  it('asks for the next page ahead once the total is known, and uses pages strictly in order', async () => {
    const all = Array.from({ length: 9 }, (_, i) => tx(i));
    const h = harness(pagedTransactions(all), { pageSize: 2 });
    const offsets: number[] = [];
    for await (const page of h.client.transactionPages({ paymentReference: 'REF1' })) {
      offsets.push(page.offset);
      // The caller is still on its first page while the one after it is already asked for.
      if (page.index === 0) expect(h.calls.map((c) => c.url.searchParams.get('offset'))).toEqual(['0', '2']);
    }
    expect(offsets).toEqual([0, 2, 4, 6, 8]);
    expect(h.calls.map((c) => c.url.searchParams.get('offset'))).toEqual(['0', '2', '4', '6', '8']);
  });

  it.each([0, 1, 2, 4])(
    'a short page mid-walk drops what was asked for ahead and goes on from the right offset (%i ahead)',
    async (pagesAhead) => {
      const all = Array.from({ length: 9 }, (_, i) => tx(i));
      const serve = pagedTransactions(all);
      const h = harness(
        (url, init, n) => {
          if (url.searchParams.get('offset') !== '2') return serve(url, init, n);
          return jsonResponse({ transactions: [all[2]], pagination: { count: 1, total: 9, offset: 2 } });
        },
        { pageSize: 2, pagesAhead },
      );
      const pages = await collect(h.client.transactionPages({ paymentReference: 'REF1' }));
      expect(pages.map((p) => p.offset)).toEqual([0, 2, 3, 5, 7]);
      expect(pages.flatMap((p) => p.records.map((r) => r.transaction.amount))).toEqual(
        all.map((t) => t.amount),
      );
      if (pagesAhead === 0) expect(h.calls).toHaveLength(5);
    },
  );

  it('a caller that stops early leaves no request open', async () => {
    const all = Array.from({ length: 9 }, (_, i) => tx(i));
    const serve = pagedTransactions(all);
    const signals: AbortSignal[] = [];
    const h = harness(
      (url, init, n) => {
        if (url.searchParams.get('offset') === '0') return serve(url, init, n);
        const signal = init.signal!;
        signals.push(signal);
        return new Promise<Response>((_, reject) =>
          signal.addEventListener('abort', () => reject(signal.reason), { once: true }),
        );
      },
      { pageSize: 2 },
    );
    for await (const page of h.client.transactionPages({ paymentReference: 'REF1' })) {
      expect(page.index).toBe(0);
      break;
    }
    expect(signals).toHaveLength(1);
    expect(signals.every((s) => s.aborted)).toBe(true);
  });

  it('an empty page before total is reached is an error, not the end', async () => {
    const h = harness(() => jsonResponse({ transactions: [], pagination: { count: 0, total: 3 } }));
    await expect(collect(h.client.transactions({ paymentReference: 'REF1' }))).rejects.toThrow(
      /empty page at offset 0 although/,
    );
  });

  it('keeps unknown fields in raw and flags unknown types without dropping them', async () => {
    const lines = [
      tx(1, { shipping_address_country: 'SE', consumer_vat: [{ rate: 2500 }] }),
      tx(2, { type: 'INTEREST', detailed_type: 'NEW_THING' }),
    ];
    const h = harness(pagedTransactions(lines));
    const records = await collect(h.client.transactions({ paymentReference: 'REF1' }));
    expect(records).toHaveLength(2);
    expect(records[0]!.raw.shipping_address_country).toBe('SE');
    expect(records[0]!.raw.consumer_vat).toEqual([{ rate: 2500 }]);
    expect(records[0]).toMatchObject({ knownType: true, knownDetailedType: true });
    expect(records[1]).toMatchObject({ knownType: false, knownDetailedType: false });
    expect(records[1]!.transaction.type).toBe('INTEREST');
  });

  it.each([
    [{ amount: 12.5 }, /transactions\[1\]\.amount: expected an amount in integer minor units, got 12\.5/],
    [
      { amount: '100' },
      /transactions\[1\]\.amount: expected an amount in integer minor units, got the string "100"/,
    ],
    [{ vat_amount: 0.2 }, /transactions\[1\]\.vat_amount/],
    [{ currency_code: undefined }, /transactions\[1\]\.currency_code/],
  ])('refuses a line with %j', async (bad, message) => {
    const h = harness(pagedTransactions([tx(0), tx(1, bad)]));
    const err = await collect(h.client.transactions({ paymentReference: 'REF1' })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KlarnaResponseError);
    expect((err as Error).message).toMatch(message);
  });

  it('refuses a payout whose totals are not integers', async () => {
    const h = harness(() =>
      jsonResponse({
        payouts: [
          {
            totals: { settlement_amount: 10.01 },
            payment_reference: 'R',
            payout_date: '2026-01-01T00:00:00Z',
            currency_code: 'SEK',
            merchant_settlement_type: 'NET',
            merchant_id: 'K1',
          },
        ],
        pagination: { count: 1, total: 1 },
      }),
    );
    await expect(collect(h.client.listPayouts({ since: '2026-01-01', until: '2026-01-01' }))).rejects.toThrow(
      /payouts\[0\]\.totals\.settlement_amount: expected an amount in integer minor units, got 10\.01/,
    );
  });
});

describe('KlarnaClient errors and retries', () => {
  const errorBody = {
    error_code: 'BAD_VALUE',
    error_messages: ['size must be less than or equal to 500'],
    correlation_id: 'corr-1',
  };

  it.each([
    [400, KlarnaBadRequestError],
    [401, KlarnaAuthenticationError],
    [403, KlarnaAuthenticationError],
    [404, KlarnaNotFoundError],
    [422, KlarnaBadRequestError],
    [501, KlarnaServerError],
  ])('%i maps to its error class without retrying', async (status, cls) => {
    const h = harness(() => jsonResponse(errorBody, status));
    const err = await h.client.getPayout('R').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(cls);
    expect(err).toBeInstanceOf(KlarnaError);
    expect(err).toMatchObject({
      status,
      errorCode: 'BAD_VALUE',
      correlationId: 'corr-1',
      errorMessages: errorBody.error_messages,
    });
    expect(h.calls).toHaveLength(1);
  });

  it('a 401 explains the likely causes and what to do, naming the key only masked', async () => {
    const h = harness(() =>
      jsonResponse(
        { error_code: 'BAD_CREDENTIALS', error_messages: ['Invalid credentials'], correlation_id: 'c' },
        401,
      ),
    );
    const err = (await h.client.probe().catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/key revoked or disabled, or wrong environment: /);
    expect(err.message).toMatch(/Merchant Portal → Settings → API credentials/);
    expect(err.message).toMatch(/playground, eu, key klarna_test_api_…/);
    expect(err.message).not.toContain(KEY_PART);
    expect(JSON.stringify(err)).not.toContain(KEY_PART);
  });

  it('retries 5xx with backoff, then succeeds', async () => {
    const h = harness((_u, _i, n) =>
      n < 2 ? jsonResponse({ error_code: 'X' }, n === 0 ? 500 : 503) : jsonResponse([]),
    );
    await expect(h.client.getPayoutsSummary({ since: '2026-01-01', until: '2026-01-02' })).resolves.toEqual(
      [],
    );
    expect(h.calls).toHaveLength(3);
    expect(h.sleeps).toEqual([10, 20]);
    expect(h.logs.filter((l) => l.level === 'warn')).toHaveLength(2);
  });

  it('gives up on 5xx after the policy and says why', async () => {
    const h = harness(() => jsonResponse({ error_code: 'INTERNAL_ERROR', correlation_id: 'c5' }, 502));
    const err = (await h.client.getPayout('R').catch((e: unknown) => e)) as KlarnaServerError;
    expect(err).toBeInstanceOf(KlarnaServerError);
    expect(err.message).toMatch(/gave up after 4 attempts/);
    expect(h.calls).toHaveLength(4);
  });

  it('waits as long as X-Ratelimit-Reset says on 429', async () => {
    const h = harness((_u, _i, n) =>
      n === 0 ? jsonResponse({}, 429, { 'x-ratelimit-reset': '2' }) : jsonResponse([]),
    );
    await h.client.getPayoutsSummary({ since: '2026-01-01', until: '2026-01-02' });
    expect(h.sleeps).toEqual([2_000]);
  });

  it('honours an HTTP-date Retry-After on 429', async () => {
    const h = harness((_u, _i, n) =>
      n === 0 ? jsonResponse({}, 429, { 'retry-after': 'Mon, 02 Mar 2026 10:00:03 GMT' }) : jsonResponse([]),
    );
    await h.client.getPayoutsSummary({ since: '2026-01-01', until: '2026-01-02' });
    expect(h.sleeps).toEqual([3_000]);
  });

  it('a 429 asking for longer than the cap becomes a KlarnaRateLimitError at once', async () => {
    const h = harness(() =>
      jsonResponse({ error_code: 'TOO_MANY_REQUESTS' }, 429, { 'x-ratelimit-reset': '600' }),
    );
    const err = (await h.client.getPayout('R').catch((e: unknown) => e)) as KlarnaRateLimitError;
    expect(err).toBeInstanceOf(KlarnaRateLimitError);
    expect(err.retryAfterMs).toBe(600_000);
    expect(err.message).toMatch(/asked to wait 10 min/);
    expect(h.calls).toHaveLength(1);
  });

  it('retries network errors and reports the code when they persist', async () => {
    const h = harness(() => {
      throw Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
      });
    });
    const err = (await h.client.getPayout('R').catch((e: unknown) => e)) as KlarnaConnectionError;
    expect(err).toBeInstanceOf(KlarnaConnectionError);
    expect(err.code).toBe('ECONNRESET');
    expect(h.calls).toHaveLength(4);
  });

  it('does not parse an HTML error page as Klarna JSON', async () => {
    const h = harness(
      () =>
        new Response('<html>{"error_code":"NO"}</html>', {
          status: 400,
          headers: { 'content-type': 'text/html' },
        }),
    );
    const err = (await h.client.getPayout('R').catch((e: unknown) => e)) as KlarnaBadRequestError;
    expect(err.errorCode).toBeUndefined();
    expect(err.message).toMatch(/not a Klarna error body \(text\/html/);
  });

  it('reads the error body a report endpoint sends under text/csv', async () => {
    const h = harness(
      () => new Response(JSON.stringify(errorBody), { status: 404, headers: { 'content-type': 'text/csv' } }),
    );
    const err = (await h.client.getPayoutCsv('R').catch((e: unknown) => e)) as KlarnaNotFoundError;
    expect(err).toBeInstanceOf(KlarnaNotFoundError);
    expect(err.errorCode).toBe('BAD_VALUE');
  });

  it.each([
    [
      'truncated JSON',
      () => new Response('{"payouts":[', { headers: { 'content-type': 'application/json' } }),
      /malformed JSON/,
    ],
    [
      'HTML with 200',
      () => new Response('<html></html>', { headers: { 'content-type': 'text/html' } }),
      /sent text\/html .* expected JSON/,
    ],
    ['an array for a page', () => jsonResponse([]), /sent a list .* expected a page of payouts/],
    ['no list', () => jsonResponse({ pagination: { count: 0 } }), /has no payouts list/],
  ])('%s on 200 is a KlarnaResponseError', async (_n, respond, message) => {
    const h = harness(respond);
    const err = await collect(h.client.listPayouts({ since: '2026-01-01', until: '2026-01-01' })).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KlarnaResponseError);
    expect((err as Error).message).toMatch(message);
  });

  it('returns the PDF as bytes and the CSV as text', async () => {
    const pdf = Buffer.from('%PDF-1.4\n...');
    const h = harness((url) =>
      url.pathname.endsWith('/reports/payout')
        ? new Response(pdf, { headers: { 'content-type': 'application/pdf' } })
        : new Response('a;b\n1;2\n', { headers: { 'content-type': 'text/csv; charset=utf-8' } }),
    );
    expect(Buffer.compare(await h.client.getPayoutPdf('R'), pdf)).toBe(0);
    expect(await h.client.getPayoutCsv('R')).toBe('a;b\n1;2\n');
    expect(h.calls[0]!.url.searchParams.get('payment_reference')).toBe('R');
  });

  it('never writes the key into a log line', async () => {
    const h = harness((_u, _i, n) => (n === 0 ? jsonResponse({}, 503) : jsonResponse([])));
    await h.client.getPayoutsSummary({ since: '2026-01-01', until: '2026-01-02' });
    expect(h.logs.length).toBeGreaterThan(0);
    expect(JSON.stringify(h.logs)).not.toContain(KEY_PART);
    expect(JSON.stringify(h.logs)).not.toContain(Buffer.from(KEY).toString('base64').slice(0, 20));
  });

  it('stops at once when the caller aborts', async () => {
    const controller = new AbortController();
    controller.abort(new Error('shutting down'));
    const h = harness(() => jsonResponse([]));
    await expect(h.client.getPayout('R', { signal: controller.signal })).rejects.toThrow('shutting down');
    expect(h.calls).toHaveLength(0);
  });
});

describe('KlarnaClient over a socket that never answers', () => {
  let close: (() => Promise<void>) | undefined;
  afterEach(async () => {
    await close?.();
    close = undefined;
  });

  it('times out each attempt, retries, then raises KlarnaConnectionError', async () => {
    const sockets = new Set<import('node:net').Socket>();
    let requests = 0;
    const server = createServer(() => {
      requests++; // never respond
    });
    server.on('connection', (s) => sockets.add(s));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    close = async () => {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => server.close(resolve));
    };
    const { port } = server.address() as AddressInfo;
    const client = new KlarnaClient({
      credentials: requireKlarnaCredentials({ apiKey: KEY, baseUrl: `http://127.0.0.1:${port}` }),
      timeoutMs: 100,
      retryPolicy: { maxRetries: 1, initialDelayMs: 1, maxDelayMs: 1, maxWaitMs: 10 },
      rateBudget: UNLIMITED_BUDGET,
    });
    const started = Date.now();
    const err = (await client.getPayout('R').catch((e: unknown) => e)) as KlarnaConnectionError;
    expect(err).toBeInstanceOf(KlarnaConnectionError);
    expect(err.code).toBe('TIMEOUT');
    expect(err.message).toMatch(/did not answer GET \/settlements\/v1\/payouts\/R within 100 ms/);
    expect(requests).toBe(2);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
