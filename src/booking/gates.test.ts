import { describe, expect, it } from 'vitest';
import { checkBalanced, type GateCode, type GateFailure, validateMappingAgainstChart } from './gates.ts';
import { BookingMappingSchema, DEFAULT_BOOKING_MAPPING } from './mapping.ts';
import {
  BAS_ACCOUNTS,
  chartWith,
  FY_2026,
  type PlanOverrides,
  planInput,
  withSettlement,
} from './test-fixtures.ts';
import { planVoucher } from './voucher.ts';

const without = (...numbers: string[]) => BAS_ACCOUNTS.filter((a) => !numbers.includes(a.number));
const patched = (number: string, patch: object) =>
  BAS_ACCOUNTS.map((a) => (a.number === number ? { ...a, ...patch } : a));

/**
 * One case per gate: the payout that trips it, and what the merchant is told. Each
 * message must name the payout or the thing at fault; each action must say what to do.
 */
const CASES: Array<[GateCode, PlanOverrides, RegExp, RegExp]> = [
  [
    'INVALID_PAYOUT',
    { payoutDate: 'yesterday' },
    /Payout XISA93DJ from Klarna cannot be read: the payout date "yesterday" is not a date/,
    /Fetch the payout from Klarna again/,
  ],
  [
    'UNRECONCILED',
    { reconciliation: { ok: false, summary: 'fee_amount is 230,00 but the FEE lines add up to 220,00.' } },
    /Klarna's totals for payout XISA93DJ do not match its transactions: fee_amount is 230,00/,
    /Wait for the next sync.*Merchant Portal/,
  ],
  [
    'UNKNOWN_TRANSACTION_TYPE',
    { facts: { typesSeen: ['SALE', 'LOAN_PAYOUT_X', 'FEE', 'MYSTERY'] } },
    /Payout XISA93DJ contains Klarna transaction types this integration does not know how to book: LOAN_PAYOUT_X, MYSTERY/,
    /Update klarna-spiris.*or book this payout manually/,
  ],
  [
    'UNKNOWN_FEE_TYPE',
    {
      totals: withSettlement({ sale_amount: 100_000, fee_amount: 3_000, tax_amount: 750 }),
      facts: { feeByDetailedType: { PURCHASE_FEE_FIXED: 500, INSTANT_PAYOUT_FEE: 2_500 } },
      mapping: { feeSplit: { enabled: true, other: '6990' } },
    },
    /Payout XISA93DJ has Klarna fees of a kind this integration does not know: INSTANT_PAYOUT_FEE \(25,00 SEK\)\. .*split fees into fixed, percentage and other fees .* the account would be a guess/,
    /settlement report.*turn off the fee split in the booking settings.*or book this payout manually/,
  ],
  [
    'UNKNOWN_TOTAL',
    { totals: withSettlement({ sale_amount: 10_000, total_commission_reversal_amount: 250 }) },
    /amounts this integration does not know how to book: total_commission_reversal_amount 2,50/,
    /Update klarna-spiris/,
  ],
  [
    'UNBALANCED',
    { totals: { sale_amount: 10_000, fee_amount: 100, settlement_amount: 9_950 } },
    /The voucher for payout XISA93DJ does not balance: debit 100,50 SEK, credit 100,00 SEK \(difference 0,50 SEK\)/,
    /Compare the payout with the settlement report.*Nothing has been booked/,
  ],
  [
    'NO_FISCAL_YEAR',
    { payoutDate: '2027-02-01T10:00:00Z' },
    /no fiscal year in Spiris that contains 2027-02-01, the date of payout XISA93DJ/,
    /Create the fiscal year that covers this date in Spiris/,
  ],
  [
    'FISCAL_YEAR_CLOSED',
    { chart: chartWith({ fiscalYears: [{ ...FY_2026, isClosed: true }] }) },
    /Payout XISA93DJ belongs to fiscal year 2026-01-01–2026-12-31, which is locked for bookkeeping/,
    /unlock it in Spiris.*book the payout manually/,
  ],
  [
    'PERIOD_LOCKED',
    { chart: chartWith({ lockedThrough: '2026-03-31' }) },
    /locked up to and including 2026-03-31, and payout XISA93DJ is dated 2026-03-12/,
    /Move the lock date in Spiris back/,
  ],
  [
    'CHART_NOT_LOADED',
    { chart: chartWith({ accounts: () => undefined }) },
    /chart of accounts for fiscal year 2026-01-01–2026-12-31 could not be read/,
    /test the Spiris connection/,
  ],
  [
    'ACCOUNT_MISSING',
    { chart: chartWith({ accountList: without('6064') }) },
    /Account 6064 \(Klarna avgifter\) does not exist in the chart of accounts for fiscal year 2026-01-01–2026-12-31/,
    /Add account 6064 to the chart of accounts in Spiris, or choose another account for “Klarna avgifter”/,
  ],
  [
    'ACCOUNT_INACTIVE',
    { chart: chartWith({ accountList: patched('2640', { isActive: false }) }) },
    /Account 2640 Ingående moms \(Moms på Klarna-avgifter\) is inactive/,
    /Activate account 2640 in Spiris/,
  ],
  [
    'ACCOUNT_BLOCKED',
    { chart: chartWith({ accountList: patched('1930', { isBlockedForManualBooking: true }) }) },
    /Account 1930 Företagskonto \(bank account for SEK payouts\) is blocked for manual booking/,
    /Allow manual booking on account 1930/,
  ],
  [
    'CURRENCY_NOT_MAPPED',
    {
      currencyCode: 'NOK',
      rate: { currency: 'NOK', sekPerUnit: '0.971', date: '2026-03-12', source: 'Riksbanken SEKNOKPMI' },
    },
    /Payout XISA93DJ is in NOK, and no bank account is chosen for NOK payouts/,
    /Choose the account that receives Klarna’s NOK payouts/,
  ],
  [
    'NO_EXCHANGE_RATE',
    { currencyCode: 'EUR', mapping: { foreignBankAccounts: { EUR: '1932' } }, rate: null },
    /Payout XISA93DJ is in EUR and no usable SEK rate for EUR on or before 2026-03-12 was found \(no rate was found\)\. Amounts in EUR are never booked as if they were SEK/,
    /publishes rates at 16:15.*add the rate to your rate table/,
  ],
  [
    'FX_ROUNDING_TOO_LARGE',
    {
      currencyCode: 'EUR',
      totals: withSettlement({ sale_amount: 3, fee_amount: 1, tax_amount: 1 }),
      mapping: { foreignBankAccounts: { EUR: '1932' }, fxRoundingLimitMinor: 0 },
      rate: { currency: 'EUR', sekPerUnit: '10.5', date: '2026-03-12', source: 'Riksbanken SEKEURPMI' },
    },
    /Converting payout XISA93DJ to SEK leaves a rounding difference of 0,01 SEK, more than the 0,00 SEK/,
    /Check the exchange rate used for this payout/,
  ],
  [
    'COUNTRY_NOT_MAPPED',
    {
      totals: withSettlement({ sale_amount: 5_000 }),
      mapping: { postingMode: 'cash' },
      facts: { grossByCountry: { sale: { '': 5_000 }, return: {} } },
    },
    /Payout XISA93DJ has sales or returns from an unstated country \(50,00 SEK\), and cash mode has no VAT rate/,
    /Add the country to the cash-mode country table.*Sales with no stated country need a manual booking/,
  ],
  [
    'COUNTRY_BREAKDOWN_MISMATCH',
    {
      totals: withSettlement({ sale_amount: 5_000 }),
      mapping: { postingMode: 'cash' },
      facts: { grossByCountry: { sale: { SE: 4_000 }, return: {} } },
    },
    /for payout XISA93DJ the per-country sales add up to 40,00 SEK while Klarna's total is 50,00 SEK/,
    /Fetch the payout’s transactions from Klarna again/,
  ],
];

describe('gates', () => {
  it.each(CASES)('%s: says what is wrong and what to do', (code, overrides, message, action) => {
    const plan = planVoucher(planInput(overrides));
    expect(plan.status).toBe('needs_attention');
    if (plan.ok) return;
    expect(plan.failures.map((f) => f.code)).toEqual([code]);
    const failure = plan.failures[0] as GateFailure;
    expect(failure.message).toMatch(message);
    expect(failure.action).toMatch(action);
  });

  it('covers every failure code with a case', () => {
    const tested = new Set(CASES.map(([code]) => code));
    tested.add('NOTHING_TO_BOOK'); // a skip, tested below
    const declared: GateCode[] = [
      'INVALID_PAYOUT',
      'NOTHING_TO_BOOK',
      'UNRECONCILED',
      'UNKNOWN_TRANSACTION_TYPE',
      'UNKNOWN_FEE_TYPE',
      'UNKNOWN_TOTAL',
      'UNBALANCED',
      'NO_FISCAL_YEAR',
      'FISCAL_YEAR_CLOSED',
      'PERIOD_LOCKED',
      'CHART_NOT_LOADED',
      'ACCOUNT_MISSING',
      'ACCOUNT_INACTIVE',
      'ACCOUNT_BLOCKED',
      'CURRENCY_NOT_MAPPED',
      'NO_EXCHANGE_RATE',
      'FX_ROUNDING_TOO_LARGE',
      'COUNTRY_NOT_MAPPED',
      'COUNTRY_BREAKDOWN_MISMATCH',
    ];
    expect([...tested].sort()).toEqual([...declared].sort());
  });

  it('skips a payout with nothing to book, with a clear reason', () => {
    const plan = planVoucher(
      planInput({
        totals: { settlement_amount: 0, sale_amount: 0, opening_debt_balance_amount: 500 },
        facts: { typesSeen: [] },
      }),
    );
    expect(plan).toMatchObject({ ok: false, status: 'skip' });
    if (plan.ok) return;
    expect(plan.failures[0]).toMatchObject({
      code: 'NOTHING_TO_BOOK',
      message:
        'Payout XISA93DJ moves no money: its settlement amount and all other totals are 0, so there is nothing to book.',
      action: 'Nothing to do. The payout is skipped.',
    });
  });

  it('books a payout whose settlement is 0 when other totals cancel out', () => {
    const plan = planVoucher(
      planInput({ totals: withSettlement({ sale_amount: 1_000, fee_amount: 1_000 }) }),
    );
    expect(plan.ok).toBe(true);
  });

  it('reports every independent failure at once, so the merchant can fix them together', () => {
    const plan = planVoucher(
      planInput({
        reconciliation: {
          ok: false,
          summary: 'one SALE line is missing.',
          differences: { sale_amount: 100 },
        },
        facts: { typesSeen: ['SALE', 'NEW_TYPE'] },
        chart: chartWith({ accountList: without('6064', '2640'), lockedThrough: '2026-03-31' }),
      }),
    );
    expect(plan.ok).toBe(false);
    if (plan.ok) return;
    expect(plan.failures.map((f) => f.code)).toEqual([
      'UNRECONCILED',
      'UNKNOWN_TRANSACTION_TYPE',
      'PERIOD_LOCKED',
      'ACCOUNT_MISSING',
      'ACCOUNT_MISSING',
    ]);
    expect(plan.failures[0]!.details).toEqual({ differences: { sale_amount: 100 } });
    // The draft is still there for preview.
    expect(plan.draft?.rows.length).toBe(4);
  });

  it('checks a voucher row by row: one positive whole-öre amount on one side', () => {
    const row = { account: '1930', text: 'x' };
    expect(
      checkBalanced('R', [
        { ...row, debitMinor: 100, creditMinor: 0 },
        { ...row, debitMinor: 0, creditMinor: 100 },
      ]),
    ).toEqual([]);
    for (const bad of [
      { debitMinor: 100, creditMinor: 100 },
      { debitMinor: 0, creditMinor: 0 },
      { debitMinor: 0.5, creditMinor: 0 },
      { debitMinor: -100, creditMinor: 0 },
    ]) {
      const [failure] = checkBalanced('R', [{ ...row, ...bad }]);
      expect(failure?.code).toBe('UNBALANCED');
      expect(failure?.message).toContain('must carry one positive whole-öre amount on one side');
    }
    expect(checkBalanced('R', [])[0]?.message).toContain('the voucher has no rows');
  });
});

describe('validateMappingAgainstChart', () => {
  it('passes the default mapping against a BAS chart', () => {
    expect(validateMappingAgainstChart(DEFAULT_BOOKING_MAPPING, BAS_ACCOUNTS, FY_2026)).toEqual([]);
  });

  it('checks every configured account, including ones no payout has used yet', () => {
    const mapping = BookingMappingSchema.parse({
      postingMode: 'cash',
      foreignBankAccounts: { EUR: '1933' },
      cashMethod: {
        countries: {
          SE: { vatRatePercent: 25, revenueAccount: 3001, vatAccount: 2611 },
          DE: { vatRatePercent: '19', revenueAccount: '3108', vatAccount: '2670' },
        },
      },
    });
    const failures = validateMappingAgainstChart(mapping, BAS_ACCOUNTS, FY_2026);
    expect(failures.map((f) => [f.code, f.details?.account, f.details?.purpose])).toEqual([
      ['ACCOUNT_MISSING', '1933', 'bank account for EUR payouts'],
      ['ACCOUNT_MISSING', '3108', 'försäljning DE'],
    ]);
  });

  it('says so when the chart could not be read', () => {
    expect(validateMappingAgainstChart(DEFAULT_BOOKING_MAPPING, undefined).map((f) => f.code)).toEqual([
      'CHART_NOT_LOADED',
    ]);
  });
});
