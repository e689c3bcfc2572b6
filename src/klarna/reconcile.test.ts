import { describe, expect, it } from 'vitest';
import { generateMerchant } from '../simulators/klarna/index.ts';
import type { PayoutTotals } from './klarna.types.ts';
import { createTransactionSums, reconcile, settlementIdentity, type TransactionSums } from './reconcile.ts';

interface Line {
  type: string;
  detailed_type?: string | null;
  amount: number;
  vat_amount?: number;
  currency_code?: string;
}

function sumsOf(lines: Line[]): TransactionSums {
  const acc = createTransactionSums();
  for (const l of lines) acc.add({ currency_code: 'SEK', ...l });
  return acc.result();
}

const zeroTotals = {
  sale_amount: 0,
  return_amount: 0,
  reversal_amount: 0,
  fee_amount: 0,
  tax_amount: 0,
  fee_correction_amount: 0,
  fee_refund_amount: 0,
  tax_refund_amount: 0,
  commission_amount: 0,
  charge_amount: 0,
  credit_amount: 0,
  holdback_amount: 0,
  release_amount: 0,
  repay_amount: 0,
  deposit_amount: 0,
  opening_debt_balance_amount: 0,
  closing_debt_balance_amount: 0,
  settlement_amount: 0,
} satisfies PayoutTotals;

const T = (t: Partial<typeof zeroTotals>): PayoutTotals => ({ ...zeroTotals, ...t });

// A payout with every kind of line. Settlement:
// 10000 − 1500 − (800 − 300) − 290 − 72 + (−50 + 20) + 400 − 100 + 60 − 0 − 1000 + 500 + 45 + 11 + 0 = 7524
const fullLines: Line[] = [
  { type: 'SALE', amount: 6000 },
  { type: 'SALE', amount: 4000 },
  { type: 'RETURN', amount: 1500 },
  { type: 'REVERSAL', amount: 800 },
  { type: 'REVERSAL_MERCHANT_PROTECTION', amount: 300 },
  { type: 'FEE', amount: 190, vat_amount: 48 },
  { type: 'FEE', amount: 100, vat_amount: 24 },
  { type: 'CORRECTION', amount: -50 },
  { type: 'CORRECTION', amount: 20 },
  { type: 'COMMISSION', amount: 400 },
  { type: 'CHARGE', amount: 100 },
  { type: 'CREDIT', amount: 60 },
  { type: 'HOLDBACK', amount: 1000 },
  { type: 'RELEASE', amount: 500 },
  { type: 'FEE_REFUND', amount: 45, vat_amount: 11 },
];
const fullTotals = T({
  sale_amount: 10000,
  return_amount: 1500,
  reversal_amount: 500,
  fee_amount: 290,
  tax_amount: 72,
  fee_correction_amount: -30,
  commission_amount: 400,
  charge_amount: 100,
  credit_amount: 60,
  holdback_amount: 1000,
  release_amount: 500,
  fee_refund_amount: 45,
  tax_refund_amount: 11,
  settlement_amount: 7524,
});

interface Case {
  name: string;
  totals: PayoutTotals;
  lines: Line[];
  ok: boolean;
  failing?: string[];
  identityOk?: boolean;
  identityDifference?: number;
  note?: [term: string, text: RegExp];
  identityNote?: RegExp;
  unknownTypes?: string[];
}

const cases: Case[] = [
  { name: 'empty payout', totals: T({}), lines: [], ok: true },
  {
    name: 'sales less fees with VAT',
    totals: T({ sale_amount: 1000, fee_amount: 30, tax_amount: 7, settlement_amount: 963 }),
    lines: [
      { type: 'SALE', amount: 1000 },
      { type: 'FEE', amount: 30, vat_amount: 7 },
    ],
    ok: true,
  },
  { name: 'every line type', totals: fullTotals, lines: fullLines, ok: true },
  {
    name: 'a sale line missing',
    totals: fullTotals,
    lines: fullLines.slice(1),
    ok: false,
    failing: ['sale_amount'],
    identityOk: true,
  },
  {
    name: 'reversal counted without merchant protection',
    totals: { ...fullTotals, reversal_amount: 800, settlement_amount: 7224 },
    lines: fullLines,
    ok: false,
    failing: ['reversal_amount'],
  },
  {
    name: 'fee VAT mismatch',
    totals: { ...fullTotals, tax_amount: 70, settlement_amount: 7526 },
    lines: fullLines,
    ok: false,
    failing: ['tax_amount'],
  },
  {
    name: 'negative RETURN amounts: not the adopted convention, says that magnitudes would match',
    totals: T({ sale_amount: 1000, return_amount: 200, settlement_amount: 800 }),
    lines: [
      { type: 'SALE', amount: 1000 },
      { type: 'RETURN', amount: -200 },
    ],
    ok: false,
    failing: ['return_amount'],
    note: [
      'return_amount',
      /1 RETURN line\(s\) carry negative amounts.*read as magnitudes \(\|amount\|\) they would sum to 200 and match/,
    ],
  },
  {
    name: 'negative period pays out 0 with a deposit (adopted convention)',
    totals: T({
      sale_amount: 100,
      return_amount: 600,
      deposit_amount: 500,
      closing_debt_balance_amount: 500,
      settlement_amount: 0,
    }),
    lines: [
      { type: 'SALE', amount: 100 },
      { type: 'RETURN', amount: 600 },
    ],
    ok: true,
  },
  {
    name: 'identity holds only without deposit: reported, not accepted',
    totals: T({
      sale_amount: 1000,
      deposit_amount: 200,
      closing_debt_balance_amount: 200,
      settlement_amount: 1000,
    }),
    lines: [{ type: 'SALE', amount: 1000 }],
    ok: false,
    failing: [],
    identityOk: false,
    identityDifference: 200,
    identityNote: /holds without deposit_amount \(difference 200 equals the deposit of 200\)/,
  },
  {
    name: 'identity holds only without tax_refund: reported, not accepted',
    totals: T({ sale_amount: 1000, fee_refund_amount: 45, tax_refund_amount: 11, settlement_amount: 1045 }),
    lines: [
      { type: 'SALE', amount: 1000 },
      { type: 'FEE_REFUND', amount: 45, vat_amount: 11 },
    ],
    ok: false,
    failing: [],
    identityOk: false,
    identityDifference: 11,
    identityNote:
      /holds without tax_refund_amount \(difference 11 equals the tax refund of 11\); the adopted convention adds tax_refund/,
  },
  {
    name: "identity holds only under Klarna's published formula, without deposit and tax_refund",
    totals: T({
      sale_amount: 1000,
      fee_refund_amount: 45,
      tax_refund_amount: 11,
      deposit_amount: 200,
      closing_debt_balance_amount: 200,
      settlement_amount: 1045,
    }),
    lines: [
      { type: 'SALE', amount: 1000 },
      { type: 'FEE_REFUND', amount: 45, vat_amount: 11 },
    ],
    ok: false,
    failing: [],
    identityOk: false,
    identityDifference: 211,
    identityNote:
      /holds without both deposit_amount \(200\) and tax_refund_amount \(11\), as in Klarna's published calculation/,
  },
  {
    name: 'negative sum with payout 0 and no deposit',
    totals: T({ sale_amount: 100, return_amount: 600, settlement_amount: 0 }),
    lines: [
      { type: 'SALE', amount: 100 },
      { type: 'RETURN', amount: 600 },
    ],
    ok: false,
    identityDifference: -500,
    identityNote: /shortfall should appear as deposit_amount/,
  },
  {
    name: 'repay of earlier debt',
    totals: T({
      sale_amount: 1000,
      repay_amount: 300,
      opening_debt_balance_amount: 500,
      closing_debt_balance_amount: 200,
      settlement_amount: 700,
    }),
    lines: [{ type: 'SALE', amount: 1000 }],
    ok: true,
  },
  {
    name: 'debt balance that does not add up',
    totals: T({
      sale_amount: 1000,
      repay_amount: 300,
      opening_debt_balance_amount: 500,
      closing_debt_balance_amount: 500,
      settlement_amount: 700,
    }),
    lines: [{ type: 'SALE', amount: 1000 }],
    ok: false,
    failing: ['debt_balance'],
    identityOk: true,
  },
  {
    name: 'unknown type is kept and fails the check',
    totals: T({ sale_amount: 1000, settlement_amount: 1000 }),
    lines: [
      { type: 'SALE', amount: 1000 },
      { type: 'INTEREST', amount: 12 },
    ],
    ok: false,
    failing: ['unknown_types'],
    unknownTypes: ['INTEREST'],
    note: ['unknown_types', /1 line\(s\) .* \(INTEREST, Σ 12\)/],
  },
  {
    name: 'older payload without the newer totals',
    totals: { sale_amount: 500, fee_amount: 10, settlement_amount: 490 },
    lines: [
      { type: 'SALE', amount: 500 },
      { type: 'FEE', amount: 10 },
    ],
    ok: true,
    identityNote: /absent from totals, taken as 0: return_amount/,
  },
  {
    name: 'absent total with lines of that type',
    totals: { sale_amount: 500, settlement_amount: 500 },
    lines: [
      { type: 'SALE', amount: 500 },
      { type: 'CORRECTION', amount: -5 },
    ],
    ok: false,
    failing: ['fee_correction_amount'],
    note: ['fee_correction_amount', /totals has no fee_correction_amount; taken as 0/],
  },
  {
    name: 'TAX lines are noted, not counted',
    totals: T({ sale_amount: 500, fee_amount: 10, tax_amount: 2, settlement_amount: 488 }),
    lines: [
      { type: 'SALE', amount: 500 },
      { type: 'FEE', amount: 10 },
      { type: 'TAX', amount: 2 },
    ],
    ok: false,
    failing: ['tax_amount'],
    note: ['tax_amount', /1 TAX line\(s\) \(Σ 2\) are not counted.*counting them would match/],
  },
  {
    name: 'line in another currency',
    totals: T({ sale_amount: 500, settlement_amount: 500 }),
    lines: [
      { type: 'SALE', amount: 300 },
      { type: 'SALE', amount: 200, currency_code: 'EUR' },
    ],
    ok: false,
    failing: ['currency'],
  },
  {
    name: 'missing settlement_amount',
    totals: { sale_amount: 0 },
    lines: [],
    ok: false,
    identityNote: /totals has no settlement_amount/,
  },
];

describe('reconcile', () => {
  it.each(cases)('$name', (c) => {
    const r = reconcile({ totals: c.totals, sums: sumsOf(c.lines), currencyCode: 'SEK' });
    expect(r.ok).toBe(c.ok);
    if (c.ok) expect(r.problems).toEqual([]);
    else expect(r.problems.length).toBeGreaterThan(0);
    if (c.failing) {
      expect(r.checks.filter((x) => !x.ok).map((x) => x.term)).toEqual(c.failing);
    }
    if (c.identityOk !== undefined) expect(r.identity.ok).toBe(c.identityOk);
    if (c.identityDifference !== undefined) expect(r.identity.difference).toBe(c.identityDifference);
    if (c.note) expect(r.checks.find((x) => x.term === c.note![0])?.note).toMatch(c.note[1]);
    if (c.identityNote) expect(r.identity.note).toMatch(c.identityNote);
    expect(r.unknownTypes).toEqual(c.unknownTypes ?? []);
    for (const check of r.checks) expect(check.difference).toBe(check.actual - check.expected);
  });

  it('reports each term with expected, actual and difference', () => {
    const r = reconcile({
      totals: { ...fullTotals, sale_amount: 10100, settlement_amount: 7624 },
      sums: sumsOf(fullLines),
    });
    expect(r.checks.find((c) => c.term === 'sale_amount')).toEqual({
      term: 'sale_amount',
      expected: 10100,
      actual: 10000,
      difference: -100,
      ok: false,
    });
    expect(r.identity).toMatchObject({ computed: 7624, settlement: 7624, difference: 0, ok: true });
    expect(r.problems).toEqual(['sale_amount: expected 10100, transactions give 10000 (difference -100)']);
  });

  it('names every identity term with its sign', () => {
    expect(settlementIdentity(fullTotals).termsUsed).toEqual([
      '+sale_amount',
      '-return_amount',
      '-reversal_amount',
      '-fee_amount',
      '-tax_amount',
      '+fee_correction_amount',
      '+commission_amount',
      '-charge_amount',
      '+credit_amount',
      '-repay_amount',
      '-holdback_amount',
      '+release_amount',
      '+fee_refund_amount',
      '+tax_refund_amount',
      '+deposit_amount',
    ]);
  });

  it('names no tax_refund reading when the difference is something else', () => {
    const r = settlementIdentity(T({ fee_refund_amount: 45, tax_refund_amount: 11, settlement_amount: 50 }));
    expect(r).toMatchObject({ ok: false, difference: 6 });
    expect(r.note ?? '').not.toMatch(/tax_refund/);
  });

  it('keeps and flags an unknown detailed_type as a warning, without failing the payout', () => {
    const r = reconcile({
      totals: T({ sale_amount: 1000, fee_amount: 40, tax_amount: 10, settlement_amount: 950 }),
      sums: sumsOf([
        { type: 'SALE', detailed_type: 'PURCHASE', amount: 1000 },
        { type: 'FEE', detailed_type: 'PURCHASE_FEE_FIXED', amount: 10, vat_amount: 3 },
        { type: 'FEE', detailed_type: 'INSTANT_PAYOUT_FEE', amount: 20, vat_amount: 5 },
        { type: 'FEE', detailed_type: 'INSTANT_PAYOUT_FEE', amount: 10, vat_amount: 2 },
        // Klarna's "" for a field that does not apply is no new value.
        { type: 'SALE', detailed_type: '', amount: 0 },
      ]),
      currencyCode: 'SEK',
    });
    expect(r.ok).toBe(true);
    expect(r.problems).toEqual([]);
    expect(r.unknownTypes).toEqual([]);
    expect(r.unknownDetailedTypes).toEqual(['INSTANT_PAYOUT_FEE']);
    expect(r.warnings).toEqual([
      '2 line(s) carry a detailed_type this version does not know (INSTANT_PAYOUT_FEE on 2 FEE line(s), Σ 30); they are kept and counted by their transaction type',
    ]);
  });

  it('mentions the acquirer commission-reversal reading when it is the one that balances', () => {
    const totals = {
      ...T({ commission_amount: 100, settlement_amount: 60 }),
      total_commission_reversal_amount: 40,
    };
    const r = reconcile({ totals, sums: sumsOf([{ type: 'COMMISSION', amount: 100 }]) });
    expect(r.ok).toBe(false);
    expect(r.identity.note).toMatch(/commission reversal \(40\)/);
  });
});

describe('createTransactionSums', () => {
  it('gives the same result page by page as in one go', () => {
    const oneGo = sumsOf(fullLines);
    const acc = createTransactionSums();
    for (let i = 0; i < fullLines.length; i += 4) {
      for (const l of fullLines.slice(i, i + 4)) acc.add({ currency_code: 'SEK', ...l });
    }
    expect(acc.result()).toEqual(oneGo);
    expect(oneGo.count).toBe(fullLines.length);
    expect(oneGo.byType.CORRECTION).toEqual({ count: 2, sum: -30, absSum: 70, negativeCount: 1, vatSum: 0 });
    expect(oneGo.byType.FEE?.vatSum).toBe(72);
    expect(oneGo.currencies).toEqual(['SEK']);
  });

  it('sums lines by detailed type within their type, leaving out lines without one', () => {
    const sums = sumsOf([
      { type: 'FEE', detailed_type: 'PURCHASE_FEE_FIXED', amount: 10 },
      { type: 'FEE', detailed_type: 'PURCHASE_FEE_FIXED', amount: 15 },
      { type: 'CHARGE', detailed_type: 'PURCHASE_FEE_FIXED', amount: 4 },
      { type: 'FEE', detailed_type: null, amount: 7 },
      { type: 'FEE', detailed_type: '__proto__', amount: 1 },
    ]);
    expect(sums.detailedTypes).toEqual({
      CHARGE: { PURCHASE_FEE_FIXED: { count: 1, sum: 4 } },
      FEE: { PURCHASE_FEE_FIXED: { count: 2, sum: 25 }, ['__proto__']: { count: 1, sum: 1 } },
    });
    expect(Object.hasOwn(sums.detailedTypes!.FEE!, '__proto__')).toBe(true);
  });

  it('refuses amounts that are not integer minor units', () => {
    const acc = createTransactionSums();
    expect(() => acc.add({ type: 'SALE', amount: 10.5 })).toThrow(/integer minor units/);
    expect(() => acc.add({ type: 'FEE', amount: 1, vat_amount: 0.25 })).toThrow(/vat_amount/);
  });

  it('returns a snapshot that later adds do not change', () => {
    const acc = createTransactionSums();
    acc.add({ type: 'SALE', amount: 1 });
    const first = acc.result();
    acc.add({ type: 'SALE', amount: 1 });
    expect(first.byType.SALE?.sum).toBe(1);
  });
});

describe('reconcile on merchants generated by the Klarna simulator', () => {
  it('every payout of a 90-day, two-currency merchant reconciles, including the negative period', () => {
    const merchant = generateMerchant({ seed: 7, days: 90, currencies: ['SEK', 'EUR'] });
    let payouts = 0;
    let withDeposit = 0;
    const types = new Set<string>();
    for (const { payout, transactions } of merchant.eachPayoutTransactions()) {
      const acc = createTransactionSums();
      for (const t of transactions) {
        acc.add(t);
        types.add(t.type);
      }
      const r = reconcile({ totals: payout.totals, sums: acc.result(), currencyCode: payout.currency_code });
      expect(r.problems, payout.payment_reference).toEqual([]);
      expect(r.ok).toBe(true);
      payouts += 1;
      if (payout.totals.deposit_amount > 0) withDeposit += 1;
    }
    expect(payouts).toBe(180);
    expect(withDeposit).toBeGreaterThan(0);
    expect(types.size).toBeGreaterThanOrEqual(10);
  });

  it('a simulator payout with one line removed fails exactly the term of that line', () => {
    const merchant = generateMerchant({ seed: 3, days: 5 });
    const first = merchant.eachPayoutTransactions().next();
    if (first.done) throw new Error('the generated merchant has no payouts');
    const { payout, transactions } = first.value;
    const fee = transactions.findIndex((t) => t.type === 'FEE');
    const acc = createTransactionSums();
    transactions.forEach((t, i) => {
      if (i !== fee) acc.add(t);
    });
    const r = reconcile({ totals: payout.totals, sums: acc.result(), currencyCode: payout.currency_code });
    expect(r.ok).toBe(false);
    expect(r.checks.filter((c) => !c.ok).map((c) => c.term)).toEqual(
      transactions[fee]!.vat_amount ? ['fee_amount', 'tax_amount'] : ['fee_amount'],
    );
    expect(r.checks.find((c) => c.term === 'fee_amount')!.difference).toBe(-transactions[fee]!.amount);
    expect(r.identity.ok).toBe(true);
  });
});
