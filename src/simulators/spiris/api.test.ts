import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runSpirisSimulatorCli, type SpirisSimulator, startSpirisSimulator } from './index.ts';
import { api, payoutVoucher, TODAY } from './test-helpers.ts';

let sim: SpirisSimulator;
let token: string;

beforeAll(async () => {
  sim = await startSpirisSimulator({ today: TODAY, rateLimitPerMinute: 0 });
  token = sim.issueTokens().accessToken;
  for (const [date, ref] of [
    ['2026-03-03', 'K100'],
    ['2026-03-04', 'K200'],
    ['2026-03-04', 'K300'],
    ['2026-03-05', 'K400'],
  ] as const) {
    const res = await api(
      sim,
      token,
      'POST',
      '/vouchers',
      payoutVoucher(date, `Klarna utbetalning ref ${ref}`),
    );
    expect(res.status).toBe(201);
  }
});
afterAll(async () => {
  await sim.close();
});

const get = (path: string, t = token) => api(sim, t, 'GET', path);
const filter = (f: string) => get(`/vouchers?$filter=${encodeURIComponent(f)}`);
const texts = (res: { json: { Data: Array<{ VoucherText: string }> } }) =>
  res.json.Data.map((v) => v.VoucherText);

describe('seed data', () => {
  it('has the company, three calendar fiscal years with the previous one locked, and the BAS chart', async () => {
    const settings = await get('/companysettings');
    expect(settings.json).toMatchObject({
      Name: 'Testbolaget Nordic AB',
      CorporateIdentityNumber: '556677-8899',
      CountryCode: 'SE',
      CurrencyCode: 'SEK',
      AccountingLockedTo: '2025-12-31T00:00:00',
    });
    const fys = (await get('/fiscalyears')).json.Data;
    expect(
      fys.map((f: { StartDate: string; IsLockedForAccounting: boolean }) => [
        f.StartDate,
        f.IsLockedForAccounting,
      ]),
    ).toEqual([
      ['2025-01-01T00:00:00', true],
      ['2026-01-01T00:00:00', false],
      ['2027-01-01T00:00:00', false],
    ]);
    expect(fys[1].BookkeepingMethod).toBe(0);

    const accounts = (await get(`/accounts/${fys[1].Id}?$pagesize=1000`)).json.Data;
    const numbers = accounts.map((a: { Number: string }) => a.Number);
    for (const n of [
      '1580',
      '1689',
      '1930',
      '1932',
      '2611',
      '2640',
      '2890',
      '3001',
      '3740',
      '3990',
      '6064',
      '6570',
      '6990',
    ]) {
      expect(numbers).toContain(n);
    }
    expect(accounts.find((a: { Number: string }) => a.Number === '6065')).toMatchObject({
      IsActive: false,
      Name: 'Gammalt konto',
    });
    const one = await get(`/accounts/${fys[1].Id}/1930`);
    expect(one.json).toMatchObject({ Number: '1930', FiscalYearId: fys[1].Id, IsActive: true });
    expect((await get(`/accounts/${fys[1].Id}/1234`)).status).toBe(404);

    const banks = (await get('/bankaccounts')).json.Data;
    expect(banks[0]).toMatchObject({
      LedgerAccountNumber: 1930,
      BankAccountType: 1,
      IsDefaultChequeAccount: true,
    });
    const vat = (await get('/vatcodes')).json.Data;
    expect(
      vat.find(
        (v: { VatRate: number; RelatedAccounts: { AccountNumber1: number } }) =>
          v.RelatedAccounts.AccountNumber1 === 2611,
      ).VatRate,
    ).toBe(0.25);
  });

  it('keeps the cash method when asked', async () => {
    const local = await startSpirisSimulator({ today: TODAY, companies: [{ bookkeepingMethod: 1 }] });
    try {
      const fys = (await api(local, local.issueTokens().accessToken, 'GET', '/fiscalyears')).json.Data;
      expect(fys.every((f: { BookkeepingMethod: number }) => f.BookkeepingMethod === 1)).toBe(true);
    } finally {
      await local.close();
    }
  });
});

describe('paging', () => {
  it('returns the Meta/Data envelope and honours $page/$pagesize', async () => {
    const res = await get('/vouchers?$page=2&$pagesize=3');
    expect(res.status).toBe(200);
    expect(res.json.Meta).toMatchObject({
      CurrentPage: 2,
      PageSize: 3,
      TotalNumberOfPages: 2,
      TotalNumberOfResults: 4,
    });
    expect(res.json.Meta.ServerTimeUtc).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
    expect(texts(res)).toEqual(['Klarna utbetalning ref K400']);
    expect((await get('/vouchers?$page=3&$pagesize=3')).json.Data).toEqual([]);
  });

  it('ignores $top and $skip', async () => {
    const res = await get('/vouchers?$top=1&$skip=2');
    expect(res.json.Meta).toMatchObject({ CurrentPage: 1, PageSize: 50 });
    expect(res.json.Data).toHaveLength(4);
  });

  it('caps the page size at 1000 and rejects a bad page number', async () => {
    expect((await get('/accounts?$pagesize=5000')).json.Meta.PageSize).toBe(1000);
    const bad = await get('/vouchers?$page=0');
    expect(bad.status).toBe(400);
    expect(bad.json.ErrorCode).toBe(6000);
  });
});

describe('$filter and $orderby', () => {
  it('filters vouchers by date with eq, ge and le', async () => {
    expect(texts(await filter('VoucherDate eq 2026-03-04'))).toEqual([
      'Klarna utbetalning ref K200',
      'Klarna utbetalning ref K300',
    ]);
    expect(texts(await filter('VoucherDate ge 2026-03-04 and VoucherDate le 2026-03-05'))).toHaveLength(3);
    expect(texts(await filter('VoucherDate gt 2026-03-04T00:00:00Z'))).toEqual([
      'Klarna utbetalning ref K400',
    ]);
    expect(
      texts(await filter('year(VoucherDate) eq 2026 and month(VoucherDate) eq 3 and day(VoucherDate) eq 3')),
    ).toEqual(['Klarna utbetalning ref K100']);
  });

  it('finds a payment reference with contains(), alone or with a date', async () => {
    expect(texts(await filter("VoucherDate eq 2026-03-04 and contains(VoucherText,'K300')"))).toEqual([
      'Klarna utbetalning ref K300',
    ]);
    expect(texts(await filter("contains(VoucherText, 'k300')"))).toHaveLength(1);
    expect(
      texts(await filter("startswith(VoucherText,'Klarna') and not contains(VoucherText,'K1')")),
    ).toHaveLength(3);
    expect(texts(await filter("VoucherText eq 'Klarna utbetalning ref K400'"))).toHaveLength(1);
    expect(texts(await filter("contains(VoucherText,'It''s')"))).toHaveLength(0);
  });

  it('orders with $orderby', async () => {
    expect(texts(await get('/vouchers?$orderby=VoucherDate%20desc,NumberAndNumberSeries%20asc'))[0]).toBe(
      'Klarna utbetalning ref K400',
    );
  });

  it('answers 6000 for a broken query and 6001 for a malformed date', async () => {
    for (const f of [
      'VoucherDate eq',
      'Nope eq 1',
      "VoucherDate eq '2026-03-04'",
      "substringof('K3',VoucherText)",
    ]) {
      const res = await filter(f);
      expect(res.status, f).toBe(400);
      expect(res.json.ErrorCode, f).toBe(6000);
    }
    const bad = await filter('VoucherDate eq 2026-13-45');
    expect(bad.json.ErrorCode).toBe(6001);
  });

  it('filters other lists too', async () => {
    const fy = (await get('/fiscalyears?$filter=IsLockedForAccounting%20eq%20false')).json.Data;
    expect(fy).toHaveLength(2);
    const accounts = (await get(`/accounts/${fy[0].Id}?$filter=${encodeURIComponent("Number eq '1930'")}`))
      .json.Data;
    expect(accounts).toHaveLength(1);
  });
});

describe('scopes and product variant', () => {
  it('requires ea:api and an endpoint scope, answering 403/4006', async () => {
    const noApi = sim.issueTokens({ scopes: ['offline_access', 'ea:accounting', 'ea:sales'] }).accessToken;
    const a = await get('/vouchers', noApi);
    expect(a.status).toBe(403);
    expect(a.json.ErrorCode).toBe(4006);

    const readonly = sim.issueTokens({
      scopes: ['ea:api', 'offline_access', 'ea:accounting_readonly'],
    }).accessToken;
    expect((await get('/vouchers', readonly)).status).toBe(200);
    const write = await api(sim, readonly, 'POST', '/vouchers', payoutVoucher('2026-03-06'));
    expect(write.status).toBe(403);
    expect(write.json.ErrorCode).toBe(4006);
    expect((await get('/companysettings', readonly)).status).toBe(403);
    expect((await get('/bankaccounts', readonly)).status).toBe(403);
    expect((await get('/fiscalyears', readonly)).status).toBe(200);
  });

  it('refuses accounting endpoints with 4009 for a company without bookkeeping', async () => {
    const local = await startSpirisSimulator({
      today: TODAY,
      companies: [{ name: 'Fakturabolaget AB', productVariant: 2 }],
    });
    try {
      const t = local.issueTokens().accessToken;
      const res = await api(local, t, 'POST', '/vouchers', payoutVoucher('2026-03-06'));
      expect(res.status).toBe(403);
      expect(res.json.ErrorCode).toBe(4009);
      expect((await api(local, t, 'GET', '/companysettings')).json.ProductVariant).toBe(2);
    } finally {
      await local.close();
    }
  });

  it('serves the company the token was issued for', async () => {
    const otherId = '11111111-2222-4333-8444-555555555555';
    const local = await startSpirisSimulator({
      today: TODAY,
      companies: [{}, { id: otherId, name: 'Andra Bolaget AB', corporateIdentityNumber: '559999-0001' }],
    });
    try {
      const first = await api(local, local.issueTokens().accessToken, 'GET', '/companysettings');
      expect(first.json.Name).toBe('Testbolaget Nordic AB');
      const t = local.issueTokens({ companyId: otherId }).accessToken;
      const second = await api(local, t, 'GET', '/companysettings');
      expect(second.json).toMatchObject({ Name: 'Andra Bolaget AB', CorporateIdentityNumber: '559999-0001' });
      await api(local, t, 'POST', '/vouchers', payoutVoucher('2026-03-06'));
      expect(local.vouchers.map((v) => v.companyId)).toEqual([otherId]);
    } finally {
      await local.close();
    }
  });
});

describe('request handling', () => {
  it('answers 415 for non-JSON bodies, 400 for broken JSON, 404 and 405 for unknown routes', async () => {
    const res = await fetch(`${sim.apiBaseUrl}/vouchers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' },
      body: 'hello',
    });
    expect(res.status).toBe(415);
    const broken = await fetch(`${sim.apiBaseUrl}/vouchers`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: '{"VoucherDate":',
    });
    expect(broken.status).toBe(400);
    expect((await get('/nothing')).status).toBe(404);
    expect((await api(sim, token, 'DELETE', '/vouchers')).status).toBe(405);
  });

  it('logs requests', async () => {
    const before = sim.requestCount;
    await get('/fiscalyears');
    expect(sim.requestCount).toBe(before + 1);
    expect(sim.requestLog.at(-1)).toEqual({ method: 'GET', path: '/v2/fiscalyears', status: 200 });
  });
});

describe('CLI entry', () => {
  it('prints the URLs and client credentials', async () => {
    const lines: string[] = [];
    const cli = await runSpirisSimulatorCli({ log: (l) => lines.push(l) });
    try {
      const text = lines.join('\n');
      expect(text).toContain(cli.apiBaseUrl);
      expect(text).toContain(`${cli.identityBaseUrl}/connect/token`);
      expect(text).toContain('sim-client');
      expect(text).toContain('sim-secret');
    } finally {
      await cli.close();
    }
  });
});
