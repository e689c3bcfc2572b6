import { describe, expect, it } from 'vitest';
import type { PayoutTotals } from '../klarna/klarna.types.ts';
import { splitGrossVat } from './cash-method.ts';
import { BOOKED_TOTALS, CASH_MODE_EXPLANATION, postingModeMatchesBookkeepingMethod } from './mapping.ts';
import { chartWith, planInput, prng, withSettlement } from './test-fixtures.ts';
import { planVoucher, type VoucherDraft, type VoucherPlan, type VoucherRow } from './voucher.ts';
import { formatVoucherTable } from './voucher-table.ts';
import {
  MAX_TRANSACTION_TEXT,
  MAX_VOUCHER_TEXT,
  paymentReferenceFromVoucherText,
  voucherTextHasPaymentReference,
} from './voucher-text.ts';

function ready(plan: VoucherPlan): VoucherDraft {
  if (!plan.ok) throw new Error(`expected a ready plan, got ${JSON.stringify(plan.failures, null, 2)}`);
  return plan.draft;
}

const side = (r: VoucherRow) => (r.debitMinor > 0 ? 'debit' : 'credit');
const amountOf = (r: VoucherRow) => r.debitMinor + r.creditMinor;
const sums = (rows: readonly VoucherRow[]) => ({
  debit: rows.reduce((s, r) => s + r.debitMinor, 0),
  credit: rows.reduce((s, r) => s + r.creditMinor, 0),
});

const EVERY_TOTAL: PayoutTotals = withSettlement({
  sale_amount: 1_000_000,
  return_amount: 50_000,
  reversal_amount: 20_000,
  fee_amount: 23_000,
  tax_amount: 5_750,
  fee_correction_amount: 1_000,
  fee_refund_amount: 500,
  tax_refund_amount: 125,
  commission_amount: 2_000,
  charge_amount: 3_000,
  credit_amount: 4_000,
  holdback_amount: 10_000,
  release_amount: 6_000,
  repay_amount: 7_000,
  deposit_amount: 8_000,
  opening_debt_balance_amount: 30_000,
  closing_debt_balance_amount: 31_000,
});

describe('default mapping (clearing mode)', () => {
  it('books every nonzero total on the account and side of the booking table, one row each', () => {
    const draft = ready(planVoucher(planInput({ totals: EVERY_TOTAL })));
    expect(draft.rows.map((r) => [r.source, r.account, side(r)])).toEqual([
      ['settlement_amount', '1930', 'debit'],
      ['sale_amount', '1580', 'credit'],
      ['return_amount', '1580', 'debit'],
      ['reversal_amount', '1580', 'debit'],
      ['fee_amount', '6064', 'debit'],
      ['tax_amount', '2640', 'debit'],
      ['fee_correction_amount', '6064', 'credit'],
      ['fee_refund_amount', '6064', 'credit'],
      ['tax_refund_amount', '2640', 'credit'],
      ['commission_amount', '3990', 'credit'],
      ['charge_amount', '6990', 'debit'],
      ['credit_amount', '3990', 'credit'],
      ['holdback_amount', '1689', 'debit'],
      ['release_amount', '1689', 'credit'],
      ['repay_amount', '2890', 'debit'],
      ['deposit_amount', '2890', 'credit'],
    ]);
    for (const row of draft.rows) expect(amountOf(row)).toBe(EVERY_TOTAL[row.source]);
    expect(sums(draft.rows).debit).toBe(sums(draft.rows).credit);
    expect(draft).toMatchObject({ voucherDate: '2026-03-12', fiscalYearId: 'fy-2026', currency: 'SEK' });
  });

  it('keeps totals that share an account and side on separate rows, each saying what it is', () => {
    const draft = ready(planVoucher(planInput({ totals: EVERY_TOTAL })));
    const credits3990 = draft.rows.filter((r) => r.account === '3990');
    expect(credits3990.map((r) => r.text)).toEqual(['Klarna provision', 'Klarna övriga krediteringar']);
    expect(new Set(draft.rows.map((r) => r.text)).size).toBe(draft.rows.length);
  });

  it('leaves zero totals out', () => {
    const totals = withSettlement({
      sale_amount: 50_000,
      return_amount: 0,
      fee_amount: 1_000,
      tax_amount: 0,
    });
    const draft = ready(planVoucher(planInput({ totals })));
    expect(draft.rows.map((r) => r.source)).toEqual(['settlement_amount', 'sale_amount', 'fee_amount']);
    expect(draft.rows.every((r) => amountOf(r) > 0)).toBe(true);
  });

  it.each([
    [1_500, 'credit'],
    [-1_500, 'debit'],
  ])('fee_correction_amount %i books as a %s on 6064', (amount, expected) => {
    const totals = withSettlement({ sale_amount: 100_000, fee_correction_amount: amount });
    const row = ready(planVoucher(planInput({ totals }))).rows.find(
      (r) => r.source === 'fee_correction_amount',
    )!;
    expect(row).toMatchObject({ account: '6064', [`${expected}Minor`]: 1_500 });
    expect(side(row)).toBe(expected);
  });

  it('balances for generated payouts that satisfy the settlement identity (seeded)', () => {
    const random = prng(20260312);
    const int = (max: number) => Math.floor(random() * (max + 1));
    for (let i = 0; i < 400; i++) {
      const totals: PayoutTotals = {};
      for (const total of BOOKED_TOTALS) {
        // Mostly zero, as real payouts are; sometimes large.
        totals[total] = random() < 0.5 ? 0 : int(random() < 0.2 ? 500_000_000 : 200_000);
      }
      if (random() < 0.3) totals.fee_correction_amount = -int(50_000);
      let t = withSettlement({ ...totals, deposit_amount: 0 });
      // A negative period pays out 0 and raises the debt (deposit) by the shortfall.
      if ((t.settlement_amount as number) < 0)
        t = withSettlement({ ...totals, deposit_amount: -(t.settlement_amount as number) });
      const plan = planVoucher(planInput({ totals: t, facts: { typesSeen: [] } }));
      if (plan.status === 'skip') continue;
      const draft = ready(plan);
      const { debit, credit } = sums(draft.rows);
      expect(debit, `case ${i}: ${JSON.stringify(t)}`).toBe(credit);
      expect(draft.rows.every((r) => Number.isSafeInteger(amountOf(r)) && amountOf(r) > 0)).toBe(true);
    }
  });

  it('does not book the debt balances, which are states rather than movements', () => {
    const draft = ready(planVoucher(planInput({ totals: EVERY_TOTAL })));
    expect(draft.rows.some((r) => r.source.includes('debt_balance'))).toBe(false);
  });
});

describe('voucher date', () => {
  it.each([
    ['2026-03-31T23:30:00Z', '2026-04-01'],
    ['2026-03-31T21:59:59Z', '2026-03-31'],
    ['2026-03-31T22:00:00Z', '2026-04-01'],
    ['2026-01-15T22:59:59Z', '2026-01-15'],
    ['2026-01-15T23:00:00Z', '2026-01-16'],
    // Spring forward (2026-03-29 01:00 UTC): CET before, CEST after.
    ['2026-03-28T22:59:59Z', '2026-03-28'],
    ['2026-03-28T23:00:00Z', '2026-03-29'],
    ['2026-03-29T21:59:59Z', '2026-03-29'],
    ['2026-03-29T22:00:00Z', '2026-03-30'],
    // Fall back (2026-10-25 01:00 UTC): CEST before, CET after.
    ['2026-10-24T21:59:59Z', '2026-10-24'],
    ['2026-10-24T22:00:00Z', '2026-10-25'],
    ['2026-10-25T22:59:59Z', '2026-10-25'],
    ['2026-10-25T23:00:00Z', '2026-10-26'],
    ['2026-04-01T00:30:00+02:00', '2026-04-01'],
    ['2026-03-31T23:30:00', '2026-04-01'],
    ['2026-04-01', '2026-04-01'],
  ])('payout_date %s → %s', (payoutDate, voucherDate) => {
    expect(ready(planVoucher(planInput({ payoutDate }))).voucherDate).toBe(voucherDate);
  });

  it('puts a New Year’s Eve evening payout in the next fiscal year', () => {
    const fy2025 = { id: 'fy-2025', startDate: '2025-01-01', endDate: '2025-12-31', isClosed: false };
    const chart = chartWith({
      fiscalYears: [
        fy2025,
        { id: 'fy-2026', startDate: '2026-01-01', endDate: '2026-12-31', isClosed: false },
      ],
    });
    const draft = ready(planVoucher(planInput({ payoutDate: '2025-12-31T23:10:00Z', chart })));
    expect(draft).toMatchObject({ voucherDate: '2026-01-01', fiscalYearId: 'fy-2026' });
  });
});

describe('texts', () => {
  it('names Klarna, the payment reference and the date in the voucher text', () => {
    const draft = ready(planVoucher(planInput({ payoutDate: '2026-03-31T23:30:00Z' })));
    expect(draft.voucherText).toBe('Klarna utbetalning XISA93DJ 2026-04-01, Klarna-id K123456');
    expect(voucherTextHasPaymentReference(draft.voucherText, 'XISA93DJ')).toBe(true);
    expect(paymentReferenceFromVoucherText(draft.voucherText)).toBe('XISA93DJ');
  });

  it.each([
    ['Klarna utbetalning XISA93DJ 2026-04-01', 'XISA93DJ', true],
    ['Klarna utbetalning XISA93DJ, 2026-04-01', 'XISA93DJ', true],
    ['(XISA93DJ)', 'XISA93DJ', true],
    ['Klarna utbetalning XISA93DJ2 2026-04-01', 'XISA93DJ', false],
    ['Klarna utbetalning XISA93DJ-2 2026-04-01', 'XISA93DJ', false],
    ['Klarna utbetalning AXISA93DJ 2026-04-01', 'XISA93DJ', false],
    ['Klarna utbetalning xisa93dj', 'XISA93DJ', false],
    ['AXISA93DJ and later XISA93DJ', 'XISA93DJ', true],
    ['anything', '', false],
  ])('%j holds %j: %s', (text, ref, expected) => {
    expect(voucherTextHasPaymentReference(text, ref)).toBe(expected);
  });

  it.each([
    ['Klarna utbetalning XISA93DJ 2026-04-01, Klarna-id K1', 'XISA93DJ'],
    ['Klarna utbetalning XISA93DJ, ändrad för hand', 'XISA93DJ'],
    ['Manuell verifikation', null],
  ])('reads the reference back from %j', (text, ref) => {
    expect(paymentReferenceFromVoucherText(text)).toBe(ref);
  });

  it('keeps every TransactionText within 60 characters and the voucher text within 1000, reference intact', () => {
    const longRef = `REF${'X'.repeat(150)}`;
    const plans = [
      planVoucher(
        planInput({ paymentReference: longRef, merchantId: 'M'.repeat(2_000), totals: EVERY_TOTAL }),
      ),
      planVoucher(
        planInput({
          paymentReference: longRef,
          currencyCode: 'EUR',
          totals: EVERY_TOTAL,
          mapping: { foreignBankAccounts: { EUR: '1932' } },
          rate: { currency: 'EUR', sekPerUnit: '11.0671', date: '2026-03-12', source: 'S'.repeat(1_500) },
        }),
      ),
    ];
    for (const plan of plans) {
      const draft = ready(plan);
      for (const row of draft.rows) expect([...row.text].length).toBeLessThanOrEqual(MAX_TRANSACTION_TEXT);
      expect(draft.voucherText.length).toBeLessThanOrEqual(MAX_VOUCHER_TEXT);
      expect(voucherTextHasPaymentReference(draft.voucherText, longRef)).toBe(true);
    }
  });
});

describe('fee split by detailed_type', () => {
  const totals = withSettlement({ sale_amount: 100_000, fee_amount: 3_000, tax_amount: 750 });
  const feeByDetailedType = { PURCHASE_FEE_FIXED: 500, PURCHASE_FEE_PERCENTAGE: 2_200, LATE_RETURN_FEE: 300 };

  it('books fixed, percentage and other fees on rows of their own, on their own accounts if set', () => {
    const draft = ready(
      planVoucher(
        planInput({
          totals,
          facts: { feeByDetailedType },
          mapping: { feeSplit: { enabled: true, other: '6990' } },
        }),
      ),
    );
    expect(
      draft.rows
        .filter((r) => r.source.startsWith('fee_amount'))
        .map((r) => [r.source, r.account, r.debitMinor]),
    ).toEqual([
      ['fee_amount:fixed', '6064', 500],
      ['fee_amount:percentage', '6064', 2_200],
      ['fee_amount:other', '6990', 300],
    ]);
  });

  it('falls back to one fee row, with a warning, when the detail does not add up', () => {
    const plan = planVoucher(
      planInput({
        totals,
        facts: { feeByDetailedType: { PURCHASE_FEE_FIXED: 1 } },
        mapping: { feeSplit: { enabled: true } },
      }),
    );
    expect(
      ready(plan)
        .rows.filter((r) => r.source.startsWith('fee_amount'))
        .map((r) => r.source),
    ).toEqual(['fee_amount']);
    expect(plan.warnings.join(' ')).toMatch(/one row.*add up to 0,01.*30,00/);
  });

  describe('a fee kind Klarna added after this version', () => {
    const withNew = { PURCHASE_FEE_FIXED: 500, PURCHASE_FEE_PERCENTAGE: 2_200, INSTANT_PAYOUT_FEE: 300 };
    const unknownDetailedTypes = [
      { type: 'FEE', detailedType: 'INSTANT_PAYOUT_FEE', lines: 2, amountMinor: 300 },
    ];
    const warning =
      /Klarna sent transaction lines with a detailed type this integration does not know: INSTANT_PAYOUT_FEE \(2 FEE lines, 3,00 SEK\)\. They are kept and booked by their transaction type/;

    it('without the split: booked on the fee row, with a warning', () => {
      const plan = planVoucher(
        planInput({ totals, facts: { feeByDetailedType: withNew, unknownDetailedTypes } }),
      );
      expect(ready(plan).rows.find((r) => r.source === 'fee_amount')?.debitMinor).toBe(3_000);
      expect(plan.warnings).toEqual([expect.stringMatching(warning)]);
    });

    it('with the split onto different accounts: needs attention, the draft kept for preview', () => {
      const plan = planVoucher(
        planInput({
          totals,
          facts: { feeByDetailedType: withNew, unknownDetailedTypes },
          mapping: { feeSplit: { enabled: true, other: '6990' } },
        }),
      );
      expect(plan.status).toBe('needs_attention');
      if (plan.ok) return;
      expect(plan.failures.map((f) => f.code)).toEqual(['UNKNOWN_FEE_TYPE']);
      expect(plan.failures[0]!.details).toEqual({
        fees: [{ detailedType: 'INSTANT_PAYOUT_FEE', amountMinor: 300 }],
      });
      expect(plan.warnings).toEqual([expect.stringMatching(warning)]);
      expect(plan.draft?.rows.find((r) => r.source === 'fee_amount:other')?.debitMinor).toBe(300);
    });

    it('with the split onto one account only: the guess changes nothing, so it books', () => {
      const plan = planVoucher(
        planInput({
          totals,
          facts: { feeByDetailedType: withNew, unknownDetailedTypes },
          mapping: { feeSplit: { enabled: true } },
        }),
      );
      expect(plan.status).toBe('ready');
      expect(plan.warnings).toEqual([expect.stringMatching(warning)]);
    });

    it('whose name says its kind: booked in that group, with a warning', () => {
      const plan = planVoucher(
        planInput({
          totals,
          facts: {
            feeByDetailedType: { PURCHASE_FEE_FIXED: 500, INSTANT_PAYOUT_FEE_PERCENTAGE: 2_500 },
            unknownDetailedTypes: [
              { type: 'FEE', detailedType: 'INSTANT_PAYOUT_FEE_PERCENTAGE', lines: 1, amountMinor: 2_500 },
            ],
          },
          mapping: { feeSplit: { enabled: true, percentage: '6990' } },
        }),
      );
      expect(
        ready(plan)
          .rows.filter((r) => r.source.startsWith('fee_amount'))
          .map((r) => [r.source, r.account, r.debitMinor]),
      ).toEqual([
        ['fee_amount:fixed', '6064', 500],
        ['fee_amount:percentage', '6990', 2_500],
      ]);
      expect(plan.warnings.join(' ')).toMatch(/INSTANT_PAYOUT_FEE_PERCENTAGE \(1 FEE line, 25,00 SEK\)/);
    });
  });
});

describe('cash method (kontantmetoden)', () => {
  it.each([
    [10_001, '25', 2_000],
    [12_500, '25', 2_500],
    [14, '12', 2], // 1.5 öre rounds half away from zero
    [-14, '12', -2],
    [12_345, '6', 699],
    [100, '25.5', 20],
    [0, '25', 0],
    [99_999, '0', 0],
  ])('splits gross %i at %s %% into VAT %i and the rest', (gross, rate, vat) => {
    const split = splitGrossVat(gross, rate);
    expect(split.vatMinor).toBe(vat);
    expect(split.netMinor + split.vatMinor).toBe(gross);
  });

  it('books SE sales and returns at 25 % on 3001/2611, summing exactly to the gross', () => {
    const totals = withSettlement({
      sale_amount: 100_001,
      return_amount: 10_003,
      fee_amount: 2_000,
      tax_amount: 500,
    });
    const draft = ready(
      planVoucher(
        planInput({
          totals,
          mapping: { postingMode: 'cash' },
          facts: {
            typesSeen: ['SALE', 'RETURN', 'FEE'],
            grossByCountry: { sale: { SE: 100_001 }, return: { SE: 10_003 } },
          },
          chart: chartWith({
            fiscalYears: [
              {
                id: 'fy-2026',
                startDate: '2026-01-01',
                endDate: '2026-12-31',
                isClosed: false,
                bookkeepingMethod: 1,
              },
            ],
          }),
        }),
      ),
    );
    const rows = draft.rows.map((r) => [r.source, r.account, side(r), amountOf(r)]);
    expect(rows).toEqual([
      ['settlement_amount', '1930', 'debit', 87_498],
      ['sale_amount:SE:revenue', '3001', 'credit', 80_001],
      ['sale_amount:SE:vat', '2611', 'credit', 20_000],
      ['return_amount:SE:revenue', '3001', 'debit', 8_002],
      ['return_amount:SE:vat', '2611', 'debit', 2_001],
      ['fee_amount', '6064', 'debit', 2_000],
      ['tax_amount', '2640', 'debit', 500],
    ]);
    expect(draft.rows.find((r) => r.source === 'sale_amount:SE:vat')!.text).toBe('Utgående moms SE 25 %');
    expect(sums(draft.rows).debit).toBe(sums(draft.rows).credit);
  });

  it('books OSS distance sales on the accounts chosen for each country', () => {
    const totals = withSettlement({ sale_amount: 30_000 });
    const draft = ready(
      planVoucher(
        planInput({
          totals,
          mapping: {
            postingMode: 'cash',
            cashMethod: {
              countries: {
                SE: { vatRatePercent: '25', revenueAccount: '3001', vatAccount: '2611' },
                DE: { vatRatePercent: '19', revenueAccount: '3106', vatAccount: '2670' },
              },
            },
          },
          facts: { grossByCountry: { sale: { SE: 10_000, DE: 20_000 }, return: {} } },
        }),
      ),
    );
    expect(
      draft.rows.filter((r) => r.source.startsWith('sale')).map((r) => [r.account, r.creditMinor]),
    ).toEqual([
      ['3106', 16_807],
      ['2670', 3_193],
      ['3001', 8_000],
      ['2611', 2_000],
    ]);
  });

  it('keeps reversals, holdbacks and debt as in clearing mode', () => {
    const totals = withSettlement({
      sale_amount: 10_000,
      reversal_amount: 1_000,
      holdback_amount: 500,
      repay_amount: 200,
    });
    const draft = ready(
      planVoucher(
        planInput({
          totals,
          mapping: { postingMode: 'cash' },
          facts: { grossByCountry: { sale: { SE: 10_000 }, return: {} } },
        }),
      ),
    );
    expect(draft.rows.filter((r) => !r.source.startsWith('sale')).map((r) => [r.source, r.account])).toEqual([
      ['settlement_amount', '1930'],
      ['reversal_amount', '1580'],
      ['holdback_amount', '1689'],
      ['repay_amount', '2890'],
    ]);
  });

  it('stops a payout with sales from a country that has no VAT setting, and says why', () => {
    const plan = planVoucher(
      planInput({
        totals: withSettlement({ sale_amount: 30_000 }),
        mapping: { postingMode: 'cash' },
        facts: { grossByCountry: { sale: { SE: 10_000, DE: 20_000 }, return: {} } },
      }),
    );
    expect(plan.status).toBe('needs_attention');
    if (plan.ok) return;
    expect(plan.failures.map((f) => f.code)).toEqual(['COUNTRY_NOT_MAPPED']);
    expect(plan.failures[0]!.message).toContain('DE (200,00 SEK)');
    expect(plan.failures[0]!.action).toMatch(/OSS.*3106.*2670/);
    expect(plan.draft).toBeUndefined();
  });

  it('explains the one-rate-per-country assumption in plain words', () => {
    expect(CASH_MODE_EXPLANATION).toContain(
      "Shops with mixed rates (food 12 %, books 6 %) should use the default clearing mode, where their webshop's invoices carry the sales VAT",
    );
  });
});

describe('postingModeMatchesBookkeepingMethod', () => {
  it.each([
    ['clearing', 0, null],
    ['clearing', 'Invoicing', null],
    ['cash', 1, null],
    ['cash', 'Cash', null],
    ['clearing', undefined, null],
    ['cash', null, null],
    ['cash', 0, /invoice method.*counted twice/],
    ['clearing', 1, /cash method.*revenue and output VAT go missing/],
    ['clearing', 2, /no bookkeeping/],
    ['cash', 7, /not one this integration knows/],
  ] as const)('%s mode with method %j', (mode, method, expected) => {
    const warning = postingModeMatchesBookkeepingMethod(mode, method);
    if (expected === null) expect(warning).toBeNull();
    else expect(warning).toMatch(expected);
  });

  it('turns up as a plan warning, not a failure', () => {
    const plan = planVoucher(
      planInput({
        mapping: { postingMode: 'clearing' },
        chart: chartWith({
          fiscalYears: [
            {
              id: 'fy-2026',
              startDate: '2026-01-01',
              endDate: '2026-12-31',
              isClosed: false,
              bookkeepingMethod: 1,
            },
          ],
        }),
      }),
    );
    expect(plan.ok).toBe(true);
    expect(plan.warnings).toHaveLength(1);
  });
});

describe('payouts in another currency', () => {
  const eur = { foreignBankAccounts: { EUR: '1932' } };
  // 1 000,01 − 0,01 − 0,01: at 10.5 every amount lands on a half öre.
  const totals = withSettlement({ sale_amount: 100_003, fee_amount: 1, tax_amount: 1 });
  const rate = { currency: 'EUR', sekPerUnit: '10.5', date: '2026-03-12', source: 'Riksbanken SEKEURPMI' };

  it('converts each row to SEK, books the rounding on 3740 and records the rate', () => {
    const draft = ready(planVoucher(planInput({ currencyCode: 'EUR', totals, mapping: eur, rate })));
    expect(
      draft.rows.map((r) => [r.source, r.account, r.debitMinor, r.creditMinor, r.originalMinor]),
    ).toEqual([
      ['settlement_amount', '1932', 1_050_011, 0, 100_001],
      ['sale_amount', '1580', 0, 1_050_032, 100_003],
      ['fee_amount', '6064', 11, 0, 1],
      ['tax_amount', '2640', 11, 0, 1],
      ['fx_rounding', '3740', 0, 1, undefined],
    ]);
    expect(sums(draft.rows).debit).toBe(sums(draft.rows).credit);
    expect(draft).toMatchObject({
      currency: 'SEK',
      originalCurrency: 'EUR',
      rate: { sekPerUnit: '10.5', date: '2026-03-12' },
    });
    expect(draft.voucherText).toContain(
      'EUR 1 000,01 omräknat till SEK med kurs 10,5 SEK/EUR per 2026-03-12 (Riksbanken SEKEURPMI)',
    );
  });

  it('uses the latest rate before a weekend payout and says so', () => {
    const draft = ready(
      planVoucher(
        planInput({
          currencyCode: 'EUR',
          payoutDate: '2026-03-14T08:00:00Z',
          totals,
          mapping: eur,
          rate: { ...rate, date: '2026-03-13' },
        }),
      ),
    );
    expect(draft.voucherDate).toBe('2026-03-14');
    expect(draft.voucherText).toContain('per 2026-03-13');
  });

  it('balances generated payouts at generated rates, rounding within the limit (seeded)', () => {
    const random = prng(7);
    for (let i = 0; i < 200; i++) {
      const t = withSettlement({
        sale_amount: Math.floor(random() * 10_000_000),
        return_amount: Math.floor(random() * 100_000),
        fee_amount: Math.floor(random() * 100_000),
        tax_amount: Math.floor(random() * 25_000),
        charge_amount: Math.floor(random() * 999),
      });
      if ((t.settlement_amount as number) <= 0) continue;
      const sekPerUnit = (0.5 + random() * 15).toFixed(1 + Math.floor(random() * 5));
      const draft = ready(
        planVoucher(
          planInput({ currencyCode: 'EUR', totals: t, mapping: eur, rate: { ...rate, sekPerUnit } }),
        ),
      );
      expect(sums(draft.rows).debit).toBe(sums(draft.rows).credit);
      const rounding = draft.rows.find((r) => r.source === 'fx_rounding');
      expect(rounding ? amountOf(rounding) : 0).toBeLessThanOrEqual(3);
    }
  });

  it('refuses a rounding difference above the limit', () => {
    const plan = planVoucher(
      planInput({ currencyCode: 'EUR', totals, mapping: { ...eur, fxRoundingLimitMinor: 0 }, rate }),
    );
    expect(plan.ok).toBe(false);
    if (!plan.ok) expect(plan.failures.map((f) => f.code)).toEqual(['FX_ROUNDING_TOO_LARGE']);
  });

  it('refuses more than 1 SEK of rounding even at the default limit', () => {
    // 300 countries each selling 0,01 EUR at 0 % VAT: each converts to 10,5 → 11 öre.
    const countries: Record<string, { vatRatePercent: string; revenueAccount: string; vatAccount: string }> =
      {};
    const sale: Record<string, number> = {};
    const letters = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ';
    for (let i = 0; i < 300; i++) {
      const code = letters[Math.floor(i / 26)]! + letters[i % 26]!;
      countries[code] = { vatRatePercent: '0', revenueAccount: '3106', vatAccount: '2670' };
      sale[code] = 1;
    }
    const plan = planVoucher(
      planInput({
        currencyCode: 'EUR',
        totals: withSettlement({ sale_amount: 300 }),
        mapping: { ...eur, postingMode: 'cash', cashMethod: { countries } },
        facts: { grossByCountry: { sale, return: {} } },
        rate,
      }),
    );
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.failures.map((f) => f.code)).toEqual(['FX_ROUNDING_TOO_LARGE']);
    expect(plan.failures[0]!.message).toContain('1,50 SEK');
  });

  it.each([
    [null, 'no rate was found'],
    [{ ...rate, currency: 'USD' }, 'the rate given is for USD'],
    [{ ...rate, sekPerUnit: '0' }, 'not a positive number'],
    [{ ...rate, sekPerUnit: '1e1' }, 'not a positive number'],
    [{ ...rate, date: '2026-03-13' }, 'after the payout'],
  ])('never books foreign amounts as SEK: rate %j → NO_EXCHANGE_RATE', (given, reason) => {
    const plan = planVoucher(planInput({ currencyCode: 'EUR', totals, mapping: eur, rate: given }));
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.failures.map((f) => f.code)).toEqual(['NO_EXCHANGE_RATE']);
    expect(plan.failures[0]!.message).toContain(reason);
    expect(plan.draft).toBeUndefined();
  });

  it('warns when the rate is more than a week older than the payout', () => {
    const plan = planVoucher(
      planInput({ currencyCode: 'EUR', totals, mapping: eur, rate: { ...rate, date: '2026-03-02' } }),
    );
    expect(plan.ok).toBe(true);
    expect(plan.warnings.join(' ')).toMatch(/from 2026-03-02, 10 days before/);
  });
});

describe('formatVoucherTable', () => {
  it('prints a debit/credit table with Swedish amounts and totals', () => {
    const totals = withSettlement({ sale_amount: 123_450, fee_amount: 2_345, tax_amount: 586 });
    const text = formatVoucherTable(ready(planVoucher(planInput({ totals }))));
    expect(text.split('\n')).toEqual([
      'Verifikation 2026-03-12: Klarna utbetalning XISA93DJ 2026-03-12, Klarna-id K123456',
      'Konto  Text                            Debet    Kredit',
      '1930   Klarna utbetalning XISA93DJ  1 205,19',
      '1580   Klarna försäljning                     1 234,50',
      '6064   Klarna avgifter                 23,45',
      '2640   Moms på Klarna-avgifter          5,86',
      '       Summa                        1 234,50  1 234,50',
    ]);
  });

  it('adds the original currency and the rate for a converted voucher', () => {
    const draft = ready(
      planVoucher(
        planInput({
          currencyCode: 'EUR',
          totals: withSettlement({ sale_amount: 100_000 }),
          mapping: { foreignBankAccounts: { EUR: '1932' } },
          rate: {
            currency: 'EUR',
            sekPerUnit: '11.0671',
            date: '2026-03-12',
            source: 'Riksbanken SEKEURPMI',
          },
        }),
      ),
    );
    const text = formatVoucherTable(draft, { accountNames: { '1932': 'Valutakonto EUR' } });
    expect(text).toContain('Kurs 11,0671 SEK/EUR per 2026-03-12 (Riksbanken SEKEURPMI)');
    expect(text).toMatch(
      /1932 +Klarna utbetalning XISA93DJ \(EUR 1 000,00\) \[Valutakonto EUR\] +11 067,10 +1 000,00/,
    );
  });
});
