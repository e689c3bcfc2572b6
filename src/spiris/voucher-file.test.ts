import { describe, expect, it } from 'vitest';
import { parseVoucherFile } from './voucher-file.ts';

describe('parseVoucherFile', () => {
  it('reads the API shape', () => {
    expect(
      parseVoucherFile({
        VoucherDate: '2026-03-12T00:00:00',
        VoucherText: 'Klarna',
        Rows: [
          { AccountNumber: 1930, DebitAmount: 9712.5, CreditAmount: 0, TransactionText: 'payout' },
          { AccountNumber: '1580', DebitAmount: 0, CreditAmount: 9712.5 },
        ],
      }),
    ).toEqual({
      date: '2026-03-12',
      text: 'Klarna',
      rows: [
        { accountNumber: 1930, debitMinor: 971_250, creditMinor: 0, text: 'payout' },
        { accountNumber: 1580, debitMinor: 0, creditMinor: 971_250 },
      ],
    });
  });

  it('reads the short shape, with decimal strings or öre', () => {
    expect(
      parseVoucherFile({
        date: '2026-03-12',
        text: 'x',
        rows: [
          { account: 1930, debit: '0.10' },
          { account: 1580, creditMinor: 10 },
        ],
      }).rows,
    ).toEqual([
      { accountNumber: 1930, debitMinor: 10, creditMinor: 0 },
      { accountNumber: 1580, debitMinor: 0, creditMinor: 10 },
    ]);
  });

  it('says what is wrong', () => {
    expect(() => parseVoucherFile([])).toThrow(/one JSON object/);
    expect(() => parseVoucherFile({ date: '12/3/2026', text: 'x', rows: [{}] })).toThrow(/yyyy-mm-dd/);
    expect(() => parseVoucherFile({ date: '2026-03-12', text: 'x', rows: [] })).toThrow(/at least one row/);
    expect(() => parseVoucherFile({ date: '2026-03-12', text: 'x', rows: [{ account: 'kassa' }] })).toThrow(
      /Row 1: the account/,
    );
    expect(() =>
      parseVoucherFile({ date: '2026-03-12', text: 'x', rows: [{ account: 1930, debit: 0.001 }] }),
    ).toThrow(/Row 1: debit: .*two decimals/);
  });
});
