import { describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../http/retry.ts';
import { Secret } from '../setup/secret.ts';
import {
  endpointKey,
  SpirisClient,
  sanitizeAttachmentFileName,
  voucherFromApi,
  voucherToApi,
} from './spiris.client.ts';
import {
  SpirisConnectionError,
  SpirisError,
  SpirisRateLimitError,
  SpirisServerError,
  SpirisUnknownOutcomeError,
  SpirisValidationError,
} from './spiris.errors.ts';
import type { SpirisTokenSource } from './token-store.ts';

type Handler = (req: {
  method: string;
  url: URL;
  headers: Record<string, string>;
  body: unknown;
}) => Response;

const POLICY: RetryPolicy = { maxRetries: 3, initialDelayMs: 10, maxDelayMs: 40, maxWaitMs: 120_000 };

function json(status: number, body: unknown, headers: Record<string, string> = {}) {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json', ...headers },
  });
}

function reset(): never {
  throw Object.assign(new TypeError('fetch failed'), {
    cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
  });
}

function harness(handlers: Handler[], tokens?: SpirisTokenSource) {
  const seen: { method: string; url: URL; headers: Record<string, string>; body: unknown }[] = [];
  const waits: number[] = [];
  const client = new SpirisClient({
    apiBaseUrl: 'http://spiris.test/v2/',
    tokens: tokens ?? { getAccessToken: async () => new Secret('token-1') },
    retryPolicy: POLICY,
    random: () => 1,
    sleep: async (ms) => {
      waits.push(ms);
    },
    fetch: async (input, init) => {
      const req = {
        method: init?.method ?? 'GET',
        url: new URL(String(input)),
        headers: init?.headers as Record<string, string>,
        body: init?.body ? JSON.parse(String(init.body)) : undefined,
      };
      seen.push(req);
      const h = handlers.shift();
      if (!h) throw new Error(`unexpected request ${req.method} ${req.url}`);
      return h(req);
    },
  });
  return { client, seen, waits };
}

const page = <T>(data: T[], current: number, total: number) => ({
  Meta: { CurrentPage: current, PageSize: data.length, TotalNumberOfPages: total, TotalNumberOfResults: 0 },
  Data: data,
});

describe('voucher serialization', () => {
  it('sends öre as decimals with at most two places and reads them back', () => {
    const api = voucherToApi({
      date: '2026-03-12',
      text: 'Klarna payout',
      rows: [
        { accountNumber: 1930, debitMinor: 971_250, creditMinor: 0, text: 'payout' },
        { accountNumber: 6064, debitMinor: 23_000, creditMinor: 0 },
        { accountNumber: 2640, debitMinor: 5_750, creditMinor: 0 },
        { accountNumber: 1580, debitMinor: 0, creditMinor: 1_000_000 },
      ],
      attachmentIds: ['att-1'],
    });
    expect(JSON.stringify(api)).toBe(
      '{"VoucherDate":"2026-03-12","VoucherText":"Klarna payout","Rows":[' +
        '{"AccountNumber":1930,"DebitAmount":9712.5,"CreditAmount":0,"TransactionText":"payout"},' +
        '{"AccountNumber":6064,"DebitAmount":230,"CreditAmount":0},' +
        '{"AccountNumber":2640,"DebitAmount":57.5,"CreditAmount":0},' +
        '{"AccountNumber":1580,"DebitAmount":0,"CreditAmount":10000}],' +
        '"Attachments":{"DocumentType":3,"AttachmentIds":["att-1"]}}',
    );
    const back = voucherFromApi({
      ...api,
      Id: 'v1',
      VoucherDate: '2026-03-12T00:00:00',
      NumberAndNumberSeries: 'A1',
    });
    expect(back.date).toBe('2026-03-12');
    expect(back.number).toBe('A1');
    expect(back.rows.map((r) => [r.debitMinor, r.creditMinor])).toEqual([
      [971_250, 0],
      [23_000, 0],
      [5_750, 0],
      [0, 1_000_000],
    ]);
  });

  it('cleans file names to what Spiris accepts', () => {
    expect(sanitizeAttachmentFileName('reports/Klarna report 2026-03.12 (v2).PDF')).toBe(
      'Klarna-report-2026-03-12-(v2).PDF',
    );
    expect(sanitizeAttachmentFileName('..pdf')).toBe('attachment.pdf');
    expect(sanitizeAttachmentFileName('avräkning_öre.pdf')).toBe('avräkning_öre.pdf');
  });

  it('keys the rate budget by endpoint, not by id', () => {
    expect(endpointKey('/vouchers/fy-1/v-2')).toBe('/vouchers');
    expect(endpointKey('/accounts/fy-1')).toBe('/accounts');
  });
});

describe('reads', () => {
  it('sends the bearer token and pages with $page/$pagesize until the last page', async () => {
    const h = harness([
      () => json(200, page([{ Id: 'a' }, { Id: 'b' }], 1, 2)),
      () => json(200, page([{ Id: 'c' }], 2, 2)),
    ]);
    const ids: string[] = [];
    for await (const fy of h.client.listFiscalYears({ pageSize: 2 })) ids.push(fy.Id);
    expect(ids).toEqual(['a', 'b', 'c']);
    expect(h.seen.map((r) => r.url.search)).toEqual(['?%24page=1&%24pagesize=2', '?%24page=2&%24pagesize=2']);
    expect(h.seen[0]!.headers.authorization).toBe('Bearer token-1');
  });

  it('stops on an empty page and refuses a page that ignores $page', async () => {
    const empty = harness([() => json(200, page([], 1, 5))]);
    for await (const _ of empty.client.listVatCodes()) throw new Error('no data expected');
    expect(empty.seen).toHaveLength(1);

    const stuck = harness([
      () => json(200, page([{ Id: 'a' }], 1, 3)),
      () => json(200, page([{ Id: 'a' }], 1, 3)),
    ]);
    const run = async () => {
      for await (const _ of stuck.client.listFiscalYears()) {
      }
    };
    await expect(run()).rejects.toThrow(/returned page 1 when page 2/);
  });

  it('refuses a malformed page', async () => {
    const h = harness([() => json(200, { items: [] })]);
    const run = async () => {
      for await (const _ of h.client.listBankAccounts()) {
      }
    };
    await expect(run()).rejects.toBeInstanceOf(SpirisError);
  });

  it('retries a GET on 5xx and on a reset connection', async () => {
    const h = harness([
      () => json(503, { ErrorCode: 5001 }),
      () => reset(),
      () => json(200, { Name: 'Demo AB', CorporateIdentityNumber: '556000-0000' }),
    ]);
    const c = await h.client.getCompanySettings();
    expect(c.Name).toBe('Demo AB');
    expect(h.waits).toEqual([10, 20]);
  });

  it('gives up on a GET after the policy retries', async () => {
    const h = harness([
      () => json(500, {}),
      () => json(500, {}),
      () => json(500, {}),
      () => json(500, { ErrorCode: 5000 }),
    ]);
    await expect(h.client.getCompanySettings()).rejects.toBeInstanceOf(SpirisServerError);
    expect(h.seen).toHaveLength(4);
  });

  it('turns a dead network into SpirisConnectionError after the retries', async () => {
    const h = harness([reset, reset, reset, reset]);
    await expect(h.client.getCompanySettings()).rejects.toBeInstanceOf(SpirisConnectionError);
  });

  it('filters vouchers by date with $filter', async () => {
    const h = harness([
      () =>
        json(200, page([{ Id: 'v1', VoucherDate: '2026-03-12T00:00:00', VoucherText: 't', Rows: [] }], 1, 1)),
    ]);
    const found = await h.client.findVouchersByDate('2026-03-12', { fiscalYearId: 'fy1' });
    expect(found.map((v) => v.id)).toEqual(['v1']);
    expect(h.seen[0]!.url.pathname).toBe('/v2/vouchers/fy1');
    expect(h.seen[0]!.url.searchParams.get('$filter')).toBe('VoucherDate eq 2026-03-12');
  });
});

describe('rate limits', () => {
  const quota = (seconds: number) =>
    json(429, {
      ErrorCode: 4010,
      DeveloperErrorMessage: `API calls quota exceeded! maximum admitted 600 per Minute. Try again in ${seconds} seconds.`,
      ErrorId: 'e1',
    });

  it('waits the "Try again in N seconds" from the message when there is no Retry-After', async () => {
    const h = harness([() => quota(55), () => json(200, { Name: 'Demo AB' })]);
    await h.client.getCompanySettings();
    expect(h.waits).toEqual([55_000]);
  });

  it('prefers the longer of Retry-After and the message', async () => {
    const h = harness([
      () =>
        json(
          429,
          { ErrorCode: 4010, DeveloperErrorMessage: 'Try again in 3 seconds.' },
          { 'retry-after': '7' },
        ),
      () => json(200, { Name: 'x' }),
    ]);
    await h.client.getCompanySettings();
    expect(h.waits).toEqual([7000]);
  });

  it('repeats a POST that got 429: it was refused before being handled', async () => {
    const h = harness([() => quota(2), () => json(201, { Id: 'att-1' })]);
    const att = await h.client.uploadAttachment({
      fileName: 'a.pdf',
      contentType: 'application/pdf',
      data: Buffer.from('%PDF'),
    });
    expect(att.Id).toBe('att-1');
    expect(h.seen.map((r) => r.method)).toEqual(['POST', 'POST']);
    expect(h.waits).toEqual([2000]);
  });

  it('gives up with SpirisRateLimitError when asked to wait longer than the policy allows', async () => {
    const h = harness([() => quota(600)]);
    const err = await h.client.getCompanySettings().catch((e) => e);
    expect(err).toBeInstanceOf(SpirisRateLimitError);
    expect(err.retryAfterMs).toBe(600_000);
  });
});

describe('writes are never repeated blindly', () => {
  const draft = {
    date: '2026-03-12',
    text: 'Klarna',
    rows: [
      { accountNumber: 1930, debitMinor: 100, creditMinor: 0 },
      { accountNumber: 1580, debitMinor: 0, creditMinor: 100 },
    ],
  };

  it('a 5xx on POST is an unknown outcome, not a retry', async () => {
    const h = harness([() => json(500, { ErrorCode: 5000 })]);
    const err = await h.client.createVoucher(draft).catch((e) => e);
    expect(err).toBeInstanceOf(SpirisUnknownOutcomeError);
    expect(err.message).toMatch(/Look it up in Spiris before trying again/);
    expect(h.seen).toHaveLength(1);
  });

  it('a lost response on POST is an unknown outcome', async () => {
    const h = harness([reset]);
    await expect(h.client.createVoucher(draft)).rejects.toBeInstanceOf(SpirisUnknownOutcomeError);
    expect(h.seen).toHaveLength(1);
  });

  it('a refused connection on POST is a plain connection error: nothing was sent', async () => {
    const h = harness([
      () => {
        throw Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNREFUSED' } });
      },
    ]);
    await expect(h.client.createVoucher(draft)).rejects.toBeInstanceOf(SpirisConnectionError);
  });

  it('a 400 is a definite rejection with the explanation', async () => {
    const h = harness([
      () => json(400, { ErrorCode: 4026, DeveloperErrorMessage: 'Locked period', ErrorId: 'x' }),
    ]);
    const err = await h.client.createVoucher(draft).catch((e) => e);
    expect(err).toBeInstanceOf(SpirisValidationError);
    expect(err.message).toMatch(/Unlock the period/);
  });

  it('passes the query flags and reads the created voucher back in öre', async () => {
    const h = harness([
      (req) =>
        json(201, {
          ...(req.body as object),
          Id: 'v-1',
          NumberAndNumberSeries: 'A7',
          VoucherDate: '2026-03-12T00:00:00',
        }),
    ]);
    const v = await h.client.createVoucher(draft, { useDefaultVatCodes: false });
    expect(h.seen[0]!.url.search).toBe('?useDefaultVatCodes=false');
    expect(v).toMatchObject({ id: 'v-1', number: 'A7', date: '2026-03-12' });
    expect(v.rows[0]).toMatchObject({ accountNumber: 1930, debitMinor: 100, creditMinor: 0 });
  });
});

describe('401', () => {
  it('asks the token source for a new token once, then repeats the request', async () => {
    const asked: (string | undefined)[] = [];
    const tokens: SpirisTokenSource = {
      getAccessToken: async (opts) => {
        asked.push(opts?.rejected?.reveal());
        return new Secret(opts?.rejected ? 'token-2' : 'token-1');
      },
    };
    const h = harness([() => json(401, {}), () => json(200, { Name: 'x' })], tokens);
    await h.client.getCompanySettings();
    expect(asked).toEqual([undefined, 'token-1']);
    expect(h.seen.map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
  });
});
