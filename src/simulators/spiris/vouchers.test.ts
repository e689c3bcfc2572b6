import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpirisSimulator, startSpirisSimulator } from './index.ts';
import { api, PDF_BASE64, payoutVoucher, TODAY } from './test-helpers.ts';
import { decimalPlaces } from './vouchers.ts';

let sim: SpirisSimulator;
let token: string;
let fiscalYears: Array<{ Id: string; StartDate: string; IsLockedForAccounting: boolean }>;

beforeAll(async () => {
  sim = await startSpirisSimulator({ today: TODAY });
  token = sim.issueTokens().accessToken;
  fiscalYears = (await api(sim, token, 'GET', '/fiscalyears')).json.Data;
});
afterAll(async () => {
  await sim.close();
});

const post = (body: unknown, query = '') => api(sim, token, 'POST', `/vouchers${query}`, body);

function withRow(i: number, patch: Record<string, unknown>) {
  const v = payoutVoucher('2026-03-04');
  Object.assign(v.Rows[i]!, patch);
  return v;
}

describe('POST /v2/vouchers', () => {
  it('creates a voucher, numbers it per series and reads it back', async () => {
    const res = await post(payoutVoucher('2026-03-04'));
    expect(res.status).toBe(201);
    const v = res.json;
    expect(v.Id).toMatch(/^[0-9a-f-]{36}$/);
    expect(v.VoucherDate).toBe('2026-03-04T00:00:00');
    expect(v.NumberSeries).toBe('A');
    expect(v.NumberAndNumberSeries).toMatch(/^A\d+$/);
    expect(v.VoucherType).toBe(2);
    expect(v.Rows).toHaveLength(4);
    expect(v.Rows[0]).toMatchObject({ AccountNumber: 1930, DebitAmount: 9712.5, CreditAmount: 0 });
    expect(v.Rows[0].AccountDescription).toBe('Företagskonto/checkkonto/affärskonto');

    const fy = fiscalYears.find((f) => f.StartDate.startsWith('2026'))!;
    const back = await api(sim, token, 'GET', `/vouchers/${fy.Id}/${v.Id}`);
    expect(back.status).toBe(200);
    expect(back.json).toEqual(v);

    const next = await post(payoutVoucher('2026-03-05'));
    expect(Number(next.json.NumberAndNumberSeries.slice(1))).toBe(
      Number(v.NumberAndNumberSeries.slice(1)) + 1,
    );
    expect(sim.vouchers.find((x) => x.Id === v.Id)).toMatchObject({
      fiscalYearId: fy.Id,
      companyId: sim.companyId,
    });

    const wrongYear = fiscalYears.find((f) => f.StartDate.startsWith('2027'))!;
    expect((await api(sim, token, 'GET', `/vouchers/${wrongYear.Id}/${v.Id}`)).status).toBe(404);
  });

  it('numbers each fiscal year separately and honours a custom series', async () => {
    const nextYear = await post(payoutVoucher('2027-01-10'));
    expect(nextYear.json.NumberAndNumberSeries).toBe('A1');
    const custom = await post(
      { ...payoutVoucher('2027-01-11'), NumberSeries: 'K' },
      '?useDefaultVoucherSeries=false',
    );
    expect(custom.json.NumberAndNumberSeries).toBe('K1');
    const ignored = await post({ ...payoutVoucher('2027-01-12'), NumberSeries: 'K' });
    expect(ignored.json.NumberAndNumberSeries).toBe('A2');
    const missing = await post(payoutVoucher('2027-01-12'), '?useDefaultVoucherSeries=false');
    expect(missing.json.ErrorCode).toBe(2000);
  });

  it('rejects an unbalanced voucher', async () => {
    const res = await post(withRow(3, { CreditAmount: 9999.99 }));
    expect(res.status).toBe(400);
    expect(res.json.ErrorCode).toBe(2000);
    expect(res.json.DeveloperErrorMessage).toMatch(/not balanced/);
    expect(res.json.ErrorId).toMatch(/^[0-9a-f-]{36}$/);
    expect(res.json.Errors[0].Field).toBe('Rows');
  });

  it('rejects more than two decimals, including float noise', async () => {
    const res = await post(withRow(0, { DebitAmount: 9712.505 }));
    expect(res.status).toBe(400);
    expect(res.json.ErrorCode).toBe(2000);
    expect(res.json.Errors[0].Field).toBe('Rows[0].DebitAmount');
    expect(decimalPlaces(0.1 + 0.2)).toBe(17);
    expect(decimalPlaces(12.5)).toBe(1);
    expect(decimalPlaces(1e-7)).toBe(7);
  });

  it('rejects a row with both sides or neither side', async () => {
    const both = await post(withRow(1, { CreditAmount: 1 }));
    expect(both.json.ErrorCode).toBe(2000);
    expect(both.json.Errors[0].Message).toMatch(/both/);
    const neither = await post({
      ...payoutVoucher('2026-03-04'),
      Rows: [...payoutVoucher('2026-03-04').Rows, { AccountNumber: 1930, DebitAmount: 0, CreditAmount: 0 }],
    });
    expect(neither.json.ErrorCode).toBe(2000);
    expect(neither.json.Errors[0].Field).toBe('Rows[4]');
  });

  it('enforces text lengths: TransactionText 60, VoucherText 1000', async () => {
    expect((await post(withRow(0, { TransactionText: 'x'.repeat(60) }))).status).toBe(201);
    const longRow = await post(withRow(0, { TransactionText: 'x'.repeat(61) }));
    expect(longRow.json.ErrorCode).toBe(2000);
    expect(longRow.json.Errors[0].Field).toBe('Rows[0].TransactionText');
    const longText = await post(payoutVoucher('2026-03-04', 'y'.repeat(1001)));
    expect(longText.json.Errors[0].Field).toBe('VoucherText');
    expect((await post(payoutVoucher('2026-03-04', 'y'.repeat(1000)))).status).toBe(201);
  });

  it('requires VoucherDate, VoucherText and rows; a malformed date is 6001', async () => {
    const { VoucherText: _t, ...noText } = payoutVoucher('2026-03-04');
    expect((await post(noText)).json.Errors[0].Field).toBe('VoucherText');
    expect((await post({ ...payoutVoucher('2026-03-04'), Rows: [] })).json.ErrorCode).toBe(2000);
    const badDate = await post(payoutVoucher('2026-02-30'));
    expect(badDate.status).toBe(400);
    expect(badDate.json.ErrorCode).toBe(6001);
  });

  it('rejects a date with no fiscal year (3001), a locked year (4038) and a locked period (4026)', async () => {
    const none = await post(payoutVoucher('2030-01-01'));
    expect(none.json.ErrorCode).toBe(3001);
    const lockedYear = await post(payoutVoucher('2025-11-30'));
    expect(lockedYear.json.ErrorCode).toBe(4038);

    const local = await startSpirisSimulator({ today: TODAY });
    try {
      const t = local.issueTokens().accessToken;
      local.lockPeriod(undefined, '2026-02-28');
      const locked = await api(local, t, 'POST', '/vouchers', payoutVoucher('2026-02-28'));
      expect(locked.json.ErrorCode).toBe(4026);
      expect((await api(local, t, 'POST', '/vouchers', payoutVoucher('2026-03-01'))).status).toBe(201);
      const settings = await api(local, t, 'GET', '/companysettings');
      expect(settings.json.AccountingLockedTo).toBe('2026-02-28T00:00:00');
    } finally {
      await local.close();
    }
  });

  it('rejects unknown (3002), inactive and blocked accounts', async () => {
    const unknown = await post(withRow(1, { AccountNumber: 6063 }));
    expect(unknown.json.ErrorCode).toBe(3002);
    const inactive = await post(withRow(1, { AccountNumber: 6065 }));
    expect(inactive.json.ErrorCode).toBe(4002);
    expect(inactive.json.DeveloperErrorMessage).toMatch(/6065 is inactive/);
    const blocked = await post(withRow(1, { AccountNumber: 2650 }));
    expect(blocked.json.ErrorCode).toBe(4002);
  });

  it('adds VAT rows only when useAutomaticVatCalculation=true', async () => {
    const sale = {
      VoucherDate: '2026-04-01',
      VoucherText: 'Försäljning',
      Rows: [
        { AccountNumber: 1580, DebitAmount: 125, CreditAmount: 0 },
        { AccountNumber: 3001, DebitAmount: 0, CreditAmount: 125 },
      ],
    };
    const plain = await post(sale);
    expect(plain.json.Rows).toHaveLength(2);
    expect(plain.json.Rows[1].VatCodeAndPercent).toBe('MP1 25%');
    const auto = await post(sale, '?useAutomaticVatCalculation=true');
    expect(
      auto.json.Rows.map((r: { AccountNumber: number; CreditAmount: number }) => [
        r.AccountNumber,
        r.CreditAmount,
      ]),
    ).toEqual([
      [1580, 0],
      [3001, 100],
      [2611, 25],
    ]);
  });
});

describe('attachments', () => {
  it('uploads a PDF, links it to a voucher and shows it on the voucher', async () => {
    const up = await api(sim, token, 'POST', '/attachments', {
      ContentType: 'application/pdf',
      FileName: 'klarna-settlement-98765.pdf',
      Data: PDF_BASE64,
    });
    expect(up.status).toBe(201);
    expect(up.json).toMatchObject({ ContentType: 'application/pdf', AttachmentStatus: 1, DocumentId: null });
    const blob = await fetch(up.json.TemporaryUrl);
    expect(Buffer.from(await blob.arrayBuffer()).toString('base64')).toBe(PDF_BASE64);

    const voucher = (await post(payoutVoucher('2026-05-02'))).json;
    const link = await api(sim, token, 'POST', '/attachmentlinks', {
      DocumentId: voucher.Id,
      DocumentType: 3,
      AttachmentIds: [up.json.Id],
    });
    expect(link.status).toBe(200);
    expect(link.json).toEqual({ DocumentId: voucher.Id, DocumentType: 3, AttachmentIds: [up.json.Id] });

    const fy = fiscalYears.find((f) => f.StartDate.startsWith('2026'))!;
    const back = await api(sim, token, 'GET', `/vouchers/${fy.Id}/${voucher.Id}`);
    expect(back.json.Attachments).toEqual({
      DocumentId: voucher.Id,
      DocumentType: 3,
      AttachmentIds: [up.json.Id],
    });
    expect(sim.vouchers.find((v) => v.Id === voucher.Id)!.attachmentIds).toEqual([up.json.Id]);
    const att = await api(sim, token, 'GET', `/attachments/${up.json.Id}`);
    expect(att.json).toMatchObject({ AttachmentStatus: 0, DocumentId: voucher.Id, AttachedDocumentType: 3 });

    const other = (await post(payoutVoucher('2026-05-03'))).json;
    const conflict = await api(sim, token, 'POST', '/attachmentlinks', {
      DocumentId: other.Id,
      DocumentType: 3,
      AttachmentIds: [up.json.Id],
    });
    expect(conflict.json.ErrorCode).toBe(4000);
  });

  it('links attachments given in the voucher body', async () => {
    const up = await api(sim, token, 'POST', '/attachments', {
      ContentType: 'image/png',
      FileName: 'kvitto_1',
      Data: PDF_BASE64,
    });
    const res = await post({
      ...payoutVoucher('2026-05-04'),
      Attachments: { DocumentType: 3, AttachmentIds: [up.json.Id] },
    });
    expect(res.status).toBe(201);
    expect(res.json.Attachments.AttachmentIds).toEqual([up.json.Id]);
  });

  it('enforces content type, file name, data and the 20 MB limit', async () => {
    const base = { ContentType: 'application/pdf', FileName: 'avrakning', Data: PDF_BASE64 };
    const csv = await api(sim, token, 'POST', '/attachments', { ...base, ContentType: 'text/csv' });
    expect(csv.json.ErrorCode).toBe(2000);
    expect(csv.json.Errors[0].Field).toBe('ContentType');
    const name = await api(sim, token, 'POST', '/attachments', { ...base, FileName: 'avräkning nr 1.pdf' });
    expect(name.json.Errors[0].Field).toBe('FileName');
    const noData = await api(sim, token, 'POST', '/attachments', { ...base, Data: undefined });
    expect(noData.json.Errors[0].Field).toBe('Data');
    const big = Buffer.alloc(20 * 1024 * 1024 + 1).toString('base64');
    const tooBig = await api(sim, token, 'POST', '/attachments', { ...base, Data: big });
    expect(tooBig.status).toBe(400);
    expect(tooBig.json.Errors[0].Message).toMatch(/20 MB/);
  });

  it('reports a missing attachment with 5007', async () => {
    const voucher = (await post(payoutVoucher('2026-05-05'))).json;
    const res = await api(sim, token, 'POST', '/attachmentlinks', {
      DocumentId: voucher.Id,
      DocumentType: 3,
      AttachmentIds: ['00000000-0000-4000-8000-000000000000'],
    });
    expect(res.json.ErrorCode).toBe(5007);
  });
});
