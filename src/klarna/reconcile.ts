import { isKnownTransactionType, isUnknownDetailedType, type TotalField } from './klarna.types.ts';

// Checks a payout's totals against its transactions and against Klarna's settlement
// identity. Klarna's documentation leaves two things open (reference §3.7–3.8): whether
// JSON amounts are ever negative, and whether deposit_amount and tax_refund_amount
// (both absent from Klarna's published calculation) are part of the identity.
// The convention adopted here: transaction amounts are unsigned magnitudes whose
// direction comes from the type, except CORRECTION, which is signed; and
//   settlement = sale − return − reversal − fee − tax + fee_correction + commission
//              − charge + credit − repay − holdback + release + fee_refund + tax_refund
//              + deposit
// (a period whose raw sum is negative pays out 0 and books the shortfall as debt).
// Where data departs from that, the result says so and names the reading under which
// it would balance, instead of quietly picking whichever reading fits.

/** Per-type aggregates; built line by line or by a GROUP BY over stored lines. */
export interface TypeSums {
  count: number;
  /** Σ amount as sent (signed if Klarna ever sends negatives). */
  sum: number;
  /** Σ |amount|. */
  absSum: number;
  /** Lines with amount < 0. */
  negativeCount: number;
  /** Σ vat_amount (missing counts as 0). */
  vatSum: number;
}

export interface DetailedTypeSums {
  count: number;
  /** Σ amount as sent. */
  sum: number;
}

export interface TransactionSums {
  count: number;
  byType: Record<string, TypeSums>;
  /** Every currency_code seen on the lines. */
  currencies: string[];
  /**
   * type → detailed_type → aggregates, for lines that carry a detailed_type. Optional
   * only so sums written by hand in tests need not spell it out; both builders fill it.
   */
  detailedTypes?: Record<string, Record<string, DetailedTypeSums>>;
}

export interface TransactionSumsAccumulator {
  add(tx: {
    type: string;
    detailed_type?: string | null;
    amount: number;
    vat_amount?: number | null;
    currency_code?: string | null;
  }): void;
  result(): TransactionSums;
}

/** Code-unit order: the same whatever the locale, so stored sums compare equal. */
const compare = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/** The detailed-type aggregates as a plain record, keys sorted so equal sums serialise alike. */
export function sortedDetailedTypes(
  detailed: ReadonlyMap<string, ReadonlyMap<string, DetailedTypeSums>>,
): Record<string, Record<string, DetailedTypeSums>> {
  const byKey = ([a]: [string, unknown], [b]: [string, unknown]) => compare(a, b);
  return Object.fromEntries(
    [...detailed]
      .sort(byKey)
      .map(([type, perType]) => [
        type,
        Object.fromEntries([...perType].sort(byKey).map(([d, v]) => [d, { ...v }])),
      ]),
  );
}

/** Builds sums page by page, so a 50,000-line payout never sits in memory at once. */
export function createTransactionSums(): TransactionSumsAccumulator {
  const byType: Record<string, TypeSums> = {};
  // Maps, not objects: detailed_type is free text, and one such as __proto__ must stay a key.
  const detailed = new Map<string, Map<string, DetailedTypeSums>>();
  const currencies = new Set<string>();
  let count = 0;
  return {
    add(tx) {
      if (!Number.isSafeInteger(tx.amount)) {
        throw new RangeError(`transaction amount must be integer minor units, got ${tx.amount}`);
      }
      const vat = tx.vat_amount ?? 0;
      if (!Number.isSafeInteger(vat))
        throw new RangeError(`vat_amount must be integer minor units, got ${vat}`);
      let s = byType[tx.type];
      if (!s) {
        s = { count: 0, sum: 0, absSum: 0, negativeCount: 0, vatSum: 0 };
        byType[tx.type] = s;
      }
      s.count += 1;
      s.sum += tx.amount;
      s.absSum += Math.abs(tx.amount);
      if (tx.amount < 0) s.negativeCount += 1;
      s.vatSum += vat;
      if (tx.currency_code) currencies.add(tx.currency_code);
      const d = tx.detailed_type;
      if (d != null && d !== '') {
        let perType = detailed.get(tx.type);
        if (!perType) {
          perType = new Map();
          detailed.set(tx.type, perType);
        }
        const ds = perType.get(d);
        if (ds) {
          ds.count += 1;
          ds.sum += tx.amount;
        } else perType.set(d, { count: 1, sum: tx.amount });
      }
      count += 1;
    },
    result() {
      return {
        count,
        byType: Object.fromEntries(Object.entries(byType).map(([k, v]) => [k, { ...v }])),
        currencies: [...currencies].sort(),
        detailedTypes: sortedDetailedTypes(detailed),
      };
    },
  };
}

export interface ReconciliationCheck {
  /** The total checked, e.g. "sale_amount", or "debt_balance". */
  term: string;
  expected: number;
  actual: number;
  /** actual − expected. */
  difference: number;
  ok: boolean;
  note?: string;
}

export interface ReconciliationIdentity {
  /** The right-hand side under the adopted convention. */
  computed: number;
  settlement: number;
  /** computed − settlement. */
  difference: number;
  ok: boolean;
  /** Signed terms, e.g. ["+sale_amount", "-return_amount", …]. */
  termsUsed: string[];
  note?: string;
}

export interface Reconciliation {
  ok: boolean;
  checks: ReconciliationCheck[];
  identity: ReconciliationIdentity;
  unknownTypes: string[];
  /**
   * detailed_type values this version does not know. They do not make the payout fail:
   * the total a line counts toward follows its type, so the totals still check.
   */
  unknownDetailedTypes: string[];
  /** What should be seen but does not stop the payout, e.g. an unknown detailed_type. */
  warnings: string[];
  /** Human summary of everything that did not hold, empty when ok. */
  problems: string[];
}

/** Payout totals as sent; extra fields (e.g. a commission reversal) may ride along. */
export type ReconcileTotals = { readonly [K in TotalField]?: number | undefined };

export interface ReconcileInput {
  totals: ReconcileTotals;
  sums: TransactionSums;
  /** The payout's currency; lines in another currency fail the check. */
  currencyCode?: string;
}

/** A line type and the sign it contributes to a check. */
type Part = readonly [type: string, sign: 1 | -1];

interface LineCheck {
  term: string;
  parts: readonly Part[];
  /** Sums vat_amount instead of amount. */
  vat?: boolean;
  /** Amounts are signed by nature (CORRECTION). */
  signed?: boolean;
}

const LINE_CHECKS: readonly LineCheck[] = [
  { term: 'sale_amount', parts: [['SALE', 1]] },
  { term: 'return_amount', parts: [['RETURN', 1]] },
  {
    term: 'reversal_amount',
    parts: [
      ['REVERSAL', 1],
      ['REVERSAL_MERCHANT_PROTECTION', -1],
    ],
  },
  { term: 'fee_amount', parts: [['FEE', 1]] },
  { term: 'tax_amount', parts: [['FEE', 1]], vat: true },
  { term: 'fee_correction_amount', parts: [['CORRECTION', 1]], signed: true },
  { term: 'fee_refund_amount', parts: [['FEE_REFUND', 1]] },
  { term: 'tax_refund_amount', parts: [['FEE_REFUND', 1]], vat: true },
  { term: 'commission_amount', parts: [['COMMISSION', 1]] },
  { term: 'charge_amount', parts: [['CHARGE', 1]] },
  { term: 'credit_amount', parts: [['CREDIT', 1]] },
  { term: 'holdback_amount', parts: [['HOLDBACK', 1]] },
  { term: 'release_amount', parts: [['RELEASE', 1]] },
];

/** The adopted identity, in Klarna's "calculation of settlement amount" order. */
export const SETTLEMENT_IDENTITY: ReadonlyArray<readonly [field: string, sign: 1 | -1]> = [
  ['sale_amount', 1],
  ['return_amount', -1],
  ['reversal_amount', -1],
  ['fee_amount', -1],
  ['tax_amount', -1],
  ['fee_correction_amount', 1],
  ['commission_amount', 1],
  ['charge_amount', -1],
  ['credit_amount', 1],
  ['repay_amount', -1],
  ['holdback_amount', -1],
  ['release_amount', 1],
  ['fee_refund_amount', 1],
  ['tax_refund_amount', 1],
  ['deposit_amount', 1],
];

const ZERO: TypeSums = { count: 0, sum: 0, absSum: 0, negativeCount: 0, vatSum: 0 };

export function reconcile(input: ReconcileInput): Reconciliation {
  const { sums } = input;
  const totals = input.totals as Record<string, unknown>;
  const type = (t: string): TypeSums => sums.byType[t] ?? ZERO;
  const total = (field: string): number | undefined => {
    const v = totals[field];
    return typeof v === 'number' ? v : undefined;
  };
  const checks: ReconciliationCheck[] = [];

  for (const c of LINE_CHECKS) {
    const expectedRaw = total(c.term);
    const expected = expectedRaw ?? 0;
    const actual = c.parts.reduce((acc, [t, sign]) => acc + sign * (c.vat ? type(t).vatSum : type(t).sum), 0);
    const ok = actual === expected;
    const notes: string[] = [];
    if (expectedRaw === undefined) notes.push(`totals has no ${c.term}; taken as 0`);
    if (!c.signed && !c.vat) {
      const negatives = c.parts.filter(([t]) => type(t).negativeCount > 0);
      if (negatives.length > 0) {
        const described = negatives.map(([t]) => `${type(t).negativeCount} ${t} line(s)`).join(', ');
        const asMagnitudes = c.parts.reduce((acc, [t, sign]) => acc + sign * type(t).absSum, 0);
        notes.push(
          `${described} carry negative amounts, which the adopted convention (unsigned magnitudes) does not expect` +
            (asMagnitudes === expected && !ok
              ? `; read as magnitudes (|amount|) they would sum to ${expected} and match`
              : ''),
        );
      }
    }
    if (c.term === 'tax_amount' && type('TAX').count > 0) {
      const withTaxLines = actual + type('TAX').sum;
      notes.push(
        `${type('TAX').count} TAX line(s) (Σ ${type('TAX').sum}) are not counted: Klarna reports fee VAT as vat_amount on FEE lines` +
          (!ok && withTaxLines === expected ? `; counting them would match` : ''),
      );
    }
    checks.push(withDifference({ term: c.term, expected, actual, ok }, notes));
  }

  // Debt moves have no transaction lines; their own balance equation is the check.
  const opening = total('opening_debt_balance_amount');
  const closing = total('closing_debt_balance_amount');
  const repay = total('repay_amount') ?? 0;
  const deposit = total('deposit_amount') ?? 0;
  if (opening !== undefined || closing !== undefined || repay !== 0 || deposit !== 0) {
    const notes: string[] = [];
    if (opening === undefined) notes.push('totals has no opening_debt_balance_amount; taken as 0');
    if (closing === undefined) notes.push('totals has no closing_debt_balance_amount; taken as 0');
    const actual = (opening ?? 0) - repay + deposit;
    const expected = closing ?? 0;
    notes.unshift('closing_debt_balance = opening_debt_balance − repay + deposit');
    checks.push(withDifference({ term: 'debt_balance', expected, actual, ok: actual === expected }, notes));
  }

  if (input.currencyCode) {
    const others = sums.currencies.filter((c) => c !== input.currencyCode);
    if (others.length > 0) {
      checks.push({
        term: 'currency',
        expected: 0,
        actual: others.length,
        difference: others.length,
        ok: false,
        note: `lines in ${others.join(', ')} inside a ${input.currencyCode} payout`,
      });
    }
  }

  const unknownTypes = Object.keys(sums.byType)
    .filter((t) => !isKnownTransactionType(t))
    .sort();
  if (unknownTypes.length > 0) {
    const lines = unknownTypes.reduce((n, t) => n + type(t).count, 0);
    const sum = unknownTypes.reduce((n, t) => n + type(t).sum, 0);
    checks.push({
      term: 'unknown_types',
      expected: 0,
      actual: sum,
      difference: sum,
      ok: false,
      note: `${lines} line(s) of transaction type(s) this version does not know (${unknownTypes.join(', ')}, Σ ${sum}); they belong to no checked total`,
    });
  }

  const unknownDetailed = Object.entries(sums.detailedTypes ?? {})
    .flatMap(([t, perType]) =>
      Object.entries(perType)
        .filter(([d]) => isUnknownDetailedType(d))
        .map(([d, s]) => ({ type: t, detailedType: d, ...s })),
    )
    .sort((a, b) => compare(a.detailedType, b.detailedType) || compare(a.type, b.type));
  const unknownDetailedTypes = [...new Set(unknownDetailed.map((u) => u.detailedType))];
  const warnings: string[] = [];
  if (unknownDetailed.length > 0) {
    const lines = unknownDetailed.reduce((n, u) => n + u.count, 0);
    warnings.push(
      `${lines} line(s) carry a detailed_type this version does not know (${unknownDetailed
        .map((u) => `${u.detailedType} on ${u.count} ${u.type} line(s), Σ ${u.sum}`)
        .join('; ')}); they are kept and counted by their transaction type`,
    );
  }

  const identity = settlementIdentity(input.totals);
  const ok = identity.ok && checks.every((c) => c.ok);
  const problems = [
    ...checks
      .filter((c) => !c.ok)
      .map(
        (c) =>
          `${c.term}: expected ${c.expected}, transactions give ${c.actual} (difference ${c.difference})${c.note ? `; ${c.note}` : ''}`,
      ),
    ...(identity.ok
      ? []
      : [
          `settlement identity: computed ${identity.computed}, settlement_amount ${identity.settlement} (difference ${identity.difference})${identity.note ? `; ${identity.note}` : ''}`,
        ]),
  ];
  return { ok, checks, identity, unknownTypes, unknownDetailedTypes, warnings, problems };
}

/** settlement_amount against the adopted identity, naming any other reading that would balance. */
export function settlementIdentity(input: ReconcileTotals): ReconciliationIdentity {
  const totals = input as Record<string, unknown>;
  const value = (field: string): number =>
    typeof totals[field] === 'number' ? (totals[field] as number) : 0;
  const missing = SETTLEMENT_IDENTITY.map(([f]) => f).filter((f) => typeof totals[f] !== 'number');
  const computed = SETTLEMENT_IDENTITY.reduce((acc, [f, sign]) => acc + sign * value(f), 0);
  const settlement = value('settlement_amount');
  const difference = computed - settlement;
  const termsUsed = SETTLEMENT_IDENTITY.map(([f, sign]) => `${sign > 0 ? '+' : '-'}${f}`);
  const ok = difference === 0 && typeof totals.settlement_amount === 'number';
  const notes: string[] = [];
  if (typeof totals.settlement_amount !== 'number') notes.push('totals has no settlement_amount');
  if (missing.length > 0) notes.push(`absent from totals, taken as 0: ${missing.join(', ')}`);
  if (!ok) {
    const deposit = value('deposit_amount');
    const taxRefund = value('tax_refund_amount');
    const commissionReversal =
      value('total_commission_reversal_amount') || value('commission_reversal_amount');
    if (deposit !== 0 && computed - deposit === settlement) {
      notes.push(
        `holds without deposit_amount (difference ${difference} equals the deposit of ${deposit}); the adopted convention adds deposit`,
      );
    }
    // Klarna's published calculation lists neither term, so each alone and both together
    // are readings the data may follow.
    if (taxRefund !== 0 && computed - taxRefund === settlement) {
      notes.push(
        `holds without tax_refund_amount (difference ${difference} equals the tax refund of ${taxRefund}); the adopted convention adds tax_refund`,
      );
    }
    if (deposit !== 0 && taxRefund !== 0 && computed - deposit - taxRefund === settlement) {
      notes.push(
        `holds without both deposit_amount (${deposit}) and tax_refund_amount (${taxRefund}), as in Klarna's published calculation; the adopted convention adds both`,
      );
    }
    if (commissionReversal !== 0 && computed - commissionReversal === settlement) {
      notes.push(
        `holds if the commission reversal (${commissionReversal}) from Klarna's acquirer report variant is subtracted; the adopted convention does not`,
      );
    }
    if (computed < 0 && settlement === 0) {
      notes.push(
        'the terms sum to a negative amount while the payout is 0: the shortfall should appear as deposit_amount',
      );
    }
  }
  return {
    computed,
    settlement,
    difference,
    ok,
    termsUsed,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}

function withDifference(
  c: { term: string; expected: number; actual: number; ok: boolean },
  notes: string[],
): ReconciliationCheck {
  return {
    term: c.term,
    expected: c.expected,
    actual: c.actual,
    difference: c.actual - c.expected,
    ok: c.ok,
    ...(notes.length > 0 ? { note: notes.join('; ') } : {}),
  };
}
