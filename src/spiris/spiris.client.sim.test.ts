import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { RetryPolicy } from '../http/retry.ts';
import { Secret } from '../setup/secret.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import type { FetchLike } from './oauth.ts';
import { SpirisClient } from './spiris.client.ts';
import {
  SpirisApiError,
  SpirisAuthError,
  SpirisUnknownOutcomeError,
  SpirisValidationError,
} from './spiris.errors.ts';
import type { VoucherDraft } from './spiris.types.ts';
import { StaticTokenSource } from './token-store.ts';

// The client against the Spiris simulator over real HTTP: every voucher rule the
// service enforces comes back as a typed error with an explanation a merchant can act on.

const TODAY = '2026-06-15';
const POLICY: RetryPolicy = { maxRetries: 3, initialDelayMs: 5, maxDelayMs: 20, maxWaitMs: 120_000 };

let sim: SpirisSimulator;
let waits: number[];

function client(opts: { fetch?: FetchLike; scopes?: string[]; maxPages?: number } = {}) {
  const tokens = sim.issueTokens(opts.scopes ? { scopes: opts.scopes } : {});
  return new SpirisClient({
    apiBaseUrl: sim.apiBaseUrl,
    tokens: new StaticTokenSource(new Secret(tokens.accessToken)),
    retryPolicy: POLICY,
    // Waiting is simulated: the simulator's clock moves instead of the test sleeping.
    sleep: async (ms) => {
      waits.push(ms);
      sim.advanceTime(ms);
    },
    ...(opts.fetch ? { fetch: opts.fetch } : {}),
    ...(opts.maxPages ? { maxPages: opts.maxPages } : {}),
  });
}

const balanced = (over: Partial<VoucherDraft> = {}): VoucherDraft => ({
  date: '2026-06-10',
  text: 'Klarna utbetalning ref K1',
  rows: [
    { accountNumber: 1930, debitMinor: 971_250, creditMinor: 0, text: 'Klarna payout K1' },
    { accountNumber: 6064, debitMinor: 23_000, creditMinor: 0, text: 'Klarna avgifter' },
    { accountNumber: 2640, debitMinor: 5_750, creditMinor: 0, text: 'Ingående moms' },
    { accountNumber: 1580, debitMinor: 0, creditMinor: 1_000_000, text: 'Avräkning Klarna' },
  ],
  ...over,
});

beforeAll(async () => {
  sim = await startSpirisSimulator({ today: TODAY });
});
afterAll(async () => {
  await sim.close();
});
beforeEach(() => {
  waits = [];
  sim.clearFaults();
});

describe('reading the company', () => {
  it('reads settings, fiscal years, accounts per year, VAT codes and bank accounts', async () => {
    const c = client();
    const company = await c.getCompanySettings();
    expect(company.Name).toBe('Testbolaget Nordic AB');
    expect(company.CorporateIdentityNumber).toBe('556677-8899');

    const fy = await c.findFiscalYearForDate('2026-06-10');
    expect(fy?.StartDate.slice(0, 10)).toBe('2026-01-01');
    const accounts: string[] = [];
    for await (const a of c.listAccounts(fy!.Id, { pageSize: 7 })) accounts.push(a.Number);
    expect(accounts).toEqual(expect.arrayContaining(['1580', '1930', '2640', '6064', '3740']));
    expect(new Set(accounts).size).toBe(accounts.length);

    const vat: number[] = [];
    for await (const v of c.listVatCodes()) vat.push(v.VatRate);
    expect(vat).toContain(0.25);
    const banks: number[] = [];
    for await (const b of c.listBankAccounts()) banks.push(b.LedgerAccountNumber);
    expect(banks).toContain(1930);
  });

  it('retries a read through 503 and 500', async () => {
    sim.injectFault({ kind: '503', pathIncludes: '/companysettings' });
    sim.injectFault({ kind: '500', pathIncludes: '/companysettings' });
    const company = await client().getCompanySettings();
    expect(company.Name).toBe('Testbolaget Nordic AB');
    expect(waits).toHaveLength(2);
  });

  it('says which scope is missing', async () => {
    const c = client({ scopes: ['ea:api', 'offline_access', 'ea:accounting'] });
    const err = await c.getCompanySettings().catch((e) => e);
    expect(err).toBeInstanceOf(SpirisAuthError);
    expect(err.errorCode).toBe(4006);
    expect(err.message).toMatch(/approve all requested permissions/);
  });
});

describe('paging without Meta', () => {
  // The simulator's real pages with the paging metadata cut out on the wire, so the
  // client has only the rows to go by.
  const stripMeta =
    (rewrite: (url: URL) => URL = (u) => u): FetchLike =>
    async (input, init) => {
      const res = await fetch(rewrite(new URL(String(input))), init);
      const body = await res.json();
      if (res.ok && body && typeof body === 'object' && 'Meta' in body) delete body.Meta;
      return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
    };

  async function accountNumbers(c: SpirisClient, fiscalYearId: string, pageSize: number) {
    const out: string[] = [];
    for await (const a of c.listAccounts(fiscalYearId, { pageSize })) out.push(a.Number);
    return out;
  }

  it('reads on past page 1 until a short or empty page, and finds every row', async () => {
    const fy = await client().findFiscalYearForDate('2026-06-10');
    const all = await accountNumbers(client(), fy!.Id, 1000);
    expect(all.length).toBeGreaterThan(10);

    for (const pageSize of [7, all.length, Math.ceil(all.length / 2)]) {
      const pages: string[] = [];
      const c = client({
        fetch: stripMeta((u) => {
          pages.push(u.searchParams.get('$page')!);
          return u;
        }),
      });
      expect(await accountNumbers(c, fy!.Id, pageSize)).toEqual(all);
      // A last page that is exactly full costs one more (empty) page to be sure.
      const expected = Math.floor(all.length / pageSize) + 1;
      expect(pages).toHaveLength(expected);
    }
  });

  it('stops at the page bound with a clear error instead of reading forever', async () => {
    const fy = await client().findFiscalYearForDate('2026-06-10');
    const c = client({ fetch: stripMeta(), maxPages: 3 });
    await expect(accountNumbers(c, fy!.Id, 2)).rejects.toThrow(
      /sent no page count and was still returning full pages after 3 pages of 2/,
    );
  });

  it('refuses a server that ignores $page when there is no CurrentPage to tell', async () => {
    const fy = await client().findFiscalYearForDate('2026-06-10');
    const c = client({
      fetch: stripMeta((u) => {
        u.searchParams.set('$page', '1');
        return u;
      }),
    });
    await expect(accountNumbers(c, fy!.Id, 5)).rejects.toThrow(/same page again for page 2.*ignore \$page/);
  });
});

describe('rate limit', () => {
  it('waits out a 429 without Retry-After using "Try again in N seconds", then succeeds', async () => {
    sim.injectFault({ kind: '429', delayMs: 17_000, pathIncludes: '/fiscalyears' });
    const years: string[] = [];
    for await (const fy of client().listFiscalYears()) years.push(fy.Id);
    expect(years).toHaveLength(3);
    expect(waits).toEqual([17_000]);
  });

  it('stays within the real per-minute window', async () => {
    const limited = await startSpirisSimulator({ today: TODAY, rateLimitPerMinute: 2 });
    try {
      const tokens = limited.issueTokens();
      const seen: number[] = [];
      const c = new SpirisClient({
        apiBaseUrl: limited.apiBaseUrl,
        tokens: new StaticTokenSource(new Secret(tokens.accessToken)),
        retryPolicy: POLICY,
        sleep: async (ms) => {
          seen.push(ms);
          limited.advanceTime(ms);
        },
      });
      for (let i = 0; i < 3; i++) await c.getCompanySettings();
      expect(seen).toHaveLength(1);
      expect(seen[0]).toBeGreaterThan(50_000);
      expect(seen[0]).toBeLessThanOrEqual(60_000);
    } finally {
      await limited.close();
    }
  });
});

describe('posting vouchers', () => {
  it('posts a balanced voucher with a PDF, links it and reads it back in öre', async () => {
    const c = client();
    const pdf = Buffer.from('%PDF-1.7\n% klarna settlement\n%%EOF\n');
    const att = await c.uploadAttachment({
      fileName: 'klarna settlement 98765.pdf',
      contentType: 'application/pdf',
      data: pdf,
    });
    const v = await c.createVoucher(balanced());
    expect(v.number).toMatch(/^[A-Z]\d+$/);
    await c.linkAttachments({ documentId: v.id, attachmentIds: [att.Id] });

    const fy = await c.findFiscalYearForDate(v.date);
    const back = await c.getVoucher(fy!.Id, v.id);
    expect(back.rows.map((r) => [r.accountNumber, r.debitMinor, r.creditMinor])).toEqual([
      [1930, 971_250, 0],
      [6064, 23_000, 0],
      [2640, 5_750, 0],
      [1580, 0, 1_000_000],
    ]);
    expect(back.attachmentIds).toEqual([att.Id]);
    expect(sim.attachments.find((a) => a.id === att.Id)?.documentId).toBe(v.id);
    const stored = sim.vouchers.find((x) => x.Id === v.id)!;
    expect(stored.Rows.map((r) => r.DebitAmount)).toEqual([9712.5, 230, 57.5, 0]);
  });

  it('reports a lost POST response as unknown outcome, and the voucher can be found by date', async () => {
    const c = client();
    sim.injectFault({ kind: 'lostResponse', pathIncludes: '/vouchers', method: 'POST' });
    const before = sim.vouchers.length;
    const draft = balanced({ date: '2026-06-11', text: 'Klarna utbetalning ref LOST-1' });
    const err = await c.createVoucher(draft).catch((e) => e);
    expect(err).toBeInstanceOf(SpirisUnknownOutcomeError);
    expect(sim.vouchers.length).toBe(before + 1);
    const found = await c.findVouchersByDate('2026-06-11');
    expect(found.filter((v) => v.text === draft.text)).toHaveLength(1);
  });

  it('reports a 500 on POST as unknown outcome and never repeats it', async () => {
    const c = client();
    sim.injectFault({ kind: '500', pathIncludes: '/vouchers', method: 'POST' });
    const before = sim.requestCount;
    await expect(c.createVoucher(balanced())).rejects.toBeInstanceOf(SpirisUnknownOutcomeError);
    expect(sim.requestCount - before).toBe(1);
  });

  type Case = [string, () => VoucherDraft, number | undefined, RegExp];
  const cases: Case[] = [
    [
      'unbalanced',
      () =>
        balanced({
          rows: [
            { accountNumber: 1930, debitMinor: 100, creditMinor: 0 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 99 },
          ],
        }),
      2000,
      /does not balance/,
    ],
    [
      'both sides on one row',
      () =>
        balanced({
          rows: [
            { accountNumber: 1930, debitMinor: 100, creditMinor: 100 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 0 },
          ],
        }),
      2000,
      /one side only/,
    ],
    [
      'row text over 60 characters',
      () => balanced({ rows: balanced().rows.map((r, i) => (i === 0 ? { ...r, text: 'x'.repeat(61) } : r)) }),
      2000,
      /Shorten the text/,
    ],
    [
      'voucher text over 1000 characters',
      () => balanced({ text: 'y'.repeat(1001) }),
      2000,
      /Shorten the text/,
    ],
    ['no fiscal year', () => balanced({ date: '2031-02-01' }), 3001, /no fiscal year/],
    ['closed fiscal year', () => balanced({ date: '2025-06-10' }), 4038, /closed \(locked\)/],
    [
      'inactive account',
      () =>
        balanced({
          rows: [
            { accountNumber: 6065, debitMinor: 100, creditMinor: 0 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 100 },
          ],
        }),
      4002,
      /inactive/,
    ],
    [
      'missing account',
      () =>
        balanced({
          rows: [
            { accountNumber: 1999, debitMinor: 100, creditMinor: 0 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 100 },
          ],
        }),
      3002,
      /chart of accounts/,
    ],
    [
      'account blocked for manual booking',
      () =>
        balanced({
          rows: [
            { accountNumber: 2650, debitMinor: 100, creditMinor: 0 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 100 },
          ],
        }),
      4002,
      /blocked for manual booking/,
    ],
  ];

  it.each(cases)('rejects %s with an explanation', async (_name, make, code, advice) => {
    const before = sim.vouchers.length;
    const err = await client()
      .createVoucher(make())
      .catch((e) => e);
    expect(err).toBeInstanceOf(SpirisValidationError);
    expect((err as SpirisApiError).errorCode).toBe(code);
    expect(err.message).toMatch(advice);
    expect(err.message).toMatch(/ErrorId/);
    expect(sim.vouchers.length).toBe(before);
  });

  it('rejects more than two decimals (a serializer bug the client cannot make) with an explanation', async () => {
    // The öre types make 3 decimals impossible to send, so the body is altered on the wire.
    const tamper: FetchLike = (input, init) => {
      if (init?.method === 'POST' && typeof init.body === 'string') {
        const body = JSON.parse(init.body);
        body.Rows[0].DebitAmount = 1.005;
        body.Rows[1].CreditAmount = 1.005;
        return fetch(input, { ...init, body: JSON.stringify(body) });
      }
      return fetch(input, init);
    };
    const err = await client({ fetch: tamper })
      .createVoucher(
        balanced({
          rows: [
            { accountNumber: 1930, debitMinor: 100, creditMinor: 0 },
            { accountNumber: 1580, debitMinor: 0, creditMinor: 100 },
          ],
        }),
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(SpirisValidationError);
    expect(err.message).toMatch(/more than two decimals/);
  });

  it('rejects a date in a locked period with advice to unlock it', async () => {
    sim.lockPeriod(undefined, '2026-03-31');
    try {
      const err = await client()
        .createVoucher(balanced({ date: '2026-03-15' }))
        .catch((e) => e);
      expect(err).toBeInstanceOf(SpirisValidationError);
      expect(err.errorCode).toBe(4026);
      expect(err.message).toMatch(/Unlock the period in Spiris/);
    } finally {
      sim.lockPeriod(undefined, '2025-12-31');
    }
  });

  it('explains a missing attachment on link (5007)', async () => {
    const c = client();
    const v = await c.createVoucher(balanced({ date: '2026-06-12' }));
    const err = await c
      .linkAttachments({ documentId: v.id, attachmentIds: ['0b7c8a66-0000-4000-8000-000000000000'] })
      .catch((e) => e);
    expect(err).toBeInstanceOf(SpirisApiError);
    expect(err.errorCode).toBe(5007);
    expect(err.message).toMatch(/Upload the file again/);
  });
});
