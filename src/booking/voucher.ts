import { isUnknownDetailedType, type PayoutTotals, TOTAL_FIELDS } from '../klarna/klarna.types.ts';
import { daysBetween, isIsoDate, stockholmDate } from './calendar.ts';
import { formatRateSv, splitGrossVat } from './cash-method.ts';
import { formatMinorSv, isPositiveDecimal, normaliseDecimal } from './decimal.ts';
import { convertMinorToSek, HOME_CURRENCY } from './fx.ts';
import {
  type Chart,
  checkAccounts,
  checkBalanced,
  checkFiscalYear,
  checkReconciliation,
  checkTransactionTypes,
  type GateFailure,
  gateFailures,
  type ReconciliationResult,
} from './gates.ts';
import {
  BOOKED_TOTALS,
  type BookingMapping,
  bankAccountFor,
  FEE_GROUP_TEXT,
  FEE_GROUPS,
  type FeeGroup,
  feeGroupAccount,
  feeGroupByName,
  feeGroupOf,
  postingModeMatchesBookkeepingMethod,
  SETTLEMENT_SIDE,
  type Side,
  TOTAL_RULES,
  UNBOOKED_TOTALS,
} from './mapping.ts';
import { buildVoucherText, clampText, MAX_TRANSACTION_TEXT, VOUCHER_TEXT_PREFIX } from './voucher-text.ts';

/**
 * Payout → voucher draft, as one pure function: everything it needs (the payout, facts
 * drawn from its transactions, the reconciliation verdict, the mapping, the chart and an
 * exchange rate) comes in as data, so a plan can be previewed, tested and re-run alike.
 */

export interface VoucherRow {
  account: string;
  /** Öre; exactly one of debitMinor / creditMinor is positive, the other 0. */
  debitMinor: number;
  creditMinor: number;
  /** TransactionText, at most 60 characters. */
  text: string;
  /**
   * What the row books: a Klarna total (`fee_amount`, `settlement_amount`), a part of one
   * (`fee_amount:fixed`, `sale_amount:SE:revenue`, `sale_amount:SE:vat`) or `fx_rounding`.
   */
  source: string;
  /** The same amount in the payout's currency, when the voucher was converted to SEK. */
  originalMinor?: number;
}

export interface AppliedRate {
  sekPerUnit: string;
  /** The date the rate was published for (on or before the voucher date). */
  date: string;
  source: string;
}

export interface VoucherDraft {
  /** Stockholm calendar day of the payout. */
  voucherDate: string;
  voucherText: string;
  paymentReference: string;
  fiscalYearId?: string;
  /** Rows are always in the company's currency. */
  currency: 'SEK';
  rows: VoucherRow[];
  /** Set when the payout was in another currency and converted at `rate`. */
  originalCurrency?: string;
  rate?: AppliedRate;
}

export interface PayoutInput {
  paymentReference: string;
  /** Klarna's payout_date (UTC date-time). */
  payoutDate: string;
  currencyCode: string;
  merchantId: string;
  totals: PayoutTotals;
}

export interface PayoutFacts {
  /** Every transaction `type` seen on the payout. */
  typesSeen: string[];
  /** Σ FEE transaction amounts by detailed_type; needed only when the mapping splits fees. */
  feeByDetailedType?: Record<string, number>;
  /** Σ SALE and RETURN amounts by purchase_country (`''` when absent); needed only in cash mode. */
  grossByCountry?: { sale: Record<string, number>; return: Record<string, number> };
  /** Lines whose detailed_type this version does not know, per type; they become a warning. */
  unknownDetailedTypes?: UnknownDetailedType[];
}

export interface UnknownDetailedType {
  type: string;
  detailedType: string;
  lines: number;
  /** Σ amount as sent, in the payout's currency. */
  amountMinor: number;
}

export interface ExchangeRate extends AppliedRate {
  currency: string;
}

export interface PlanVoucherInput {
  payout: PayoutInput;
  facts: PayoutFacts;
  reconciliation: ReconciliationResult;
  mapping: BookingMapping;
  chart: Chart;
  /** SEK per unit of the payout currency; ignored for SEK payouts. */
  rate?: ExchangeRate | null;
}

export type VoucherPlan =
  | { ok: true; status: 'ready'; draft: VoucherDraft; warnings: string[] }
  /** Nothing to book (NOTHING_TO_BOOK); not a problem for the merchant. */
  | { ok: false; status: 'skip'; failures: GateFailure[]; draft?: undefined; warnings: string[] }
  /** One or more gates failed; `draft` is the voucher as far as it could be built, for preview. */
  | {
      ok: false;
      status: 'needs_attention';
      failures: GateFailure[];
      draft?: VoucherDraft;
      warnings: string[];
    };

/** A row before sides are settled: the amount is signed, in the payout's currency. */
interface Line {
  account: string;
  side: Side;
  amountMinor: number;
  text: string;
  source: string;
  /** For account gate messages. */
  purpose: string;
}

/** Days after which an exchange rate, though the latest available, is called out. */
const STALE_RATE_DAYS = 7;

export function planVoucher(input: PlanVoucherInput): VoucherPlan {
  const { payout, facts, mapping, chart } = input;
  const ref = payout.paymentReference;
  const currency = payout.currencyCode;
  const warnings: string[] = [];

  const read = readPayout(payout);
  if ('failure' in read) return { ok: false, status: 'needs_attention', failures: [read.failure], warnings };
  const { voucherDate, amounts, unknownTotals } = read;

  if (Object.keys(unknownTotals).length === 0 && Object.values(amounts).every((v) => v === 0)) {
    return { ok: false, status: 'skip', failures: [gateFailures.nothingToBook(ref)], warnings };
  }

  const failures: GateFailure[] = [
    ...checkReconciliation(ref, input.reconciliation),
    ...checkTransactionTypes(ref, facts.typesSeen),
  ];
  const unknownDetailed = facts.unknownDetailedTypes ?? [];
  if (unknownDetailed.length > 0) warnings.push(unknownDetailedTypesWarning(unknownDetailed, currency));
  if (Object.keys(unknownTotals).length > 0) failures.push(gateFailures.unknownTotals(ref, unknownTotals));

  const { fiscalYear, failures: yearFailures } = checkFiscalYear(ref, chart, voucherDate);
  failures.push(...yearFailures);
  if (fiscalYear) {
    const warning = postingModeMatchesBookkeepingMethod(mapping.postingMode, fiscalYear.bookkeepingMethod);
    if (warning) warnings.push(warning);
  }

  const bankAccount = bankAccountFor(mapping, currency);
  if (!bankAccount) failures.push(gateFailures.currencyNotMapped(ref, currency));

  const { lines, complete } = buildLines(
    ref,
    currency,
    amounts,
    facts,
    mapping,
    bankAccount ?? '',
    failures,
    warnings,
  );
  // Lines missing a part (cash mode without a country's setting) cannot balance; the
  // failure that says why is already there, and an UNBALANCED on top would only confuse.
  const balance = complete ? checkBalanced(ref, lines.map(toRow), currency) : [];
  failures.push(...balance);

  let booked: { rows: VoucherRow[]; rate?: AppliedRate } | undefined;
  if (complete && currency === HOME_CURRENCY) {
    booked = { rows: lines.map(toRow) };
  } else if (complete && balance.length === 0) {
    booked = convertToSek(ref, lines, currency, voucherDate, input.rate, mapping, failures, warnings);
    // Balanced by construction through the rounding row; checked anyway, as it is what gets posted.
    if (booked) failures.push(...checkBalanced(ref, booked.rows));
  }

  const draft: VoucherDraft | undefined = booked && {
    voucherDate,
    voucherText: buildVoucherText({
      paymentReference: ref,
      voucherDate,
      merchantId: payout.merchantId,
      ...(booked.rate
        ? {
            fx: {
              currency,
              settlementMinor: amounts.settlement_amount ?? 0,
              sekPerUnit: booked.rate.sekPerUnit,
              rateDate: booked.rate.date,
              source: booked.rate.source,
            },
          }
        : {}),
    }),
    paymentReference: ref,
    ...(fiscalYear ? { fiscalYearId: fiscalYear.id } : {}),
    currency: HOME_CURRENCY,
    rows: booked.rows,
    ...(booked.rate ? { originalCurrency: currency, rate: booked.rate } : {}),
  };

  if (fiscalYear && !fiscalYear.isClosed) {
    failures.push(
      ...checkAccounts(chart.accounts(fiscalYear.id), accountsUsed(lines, booked?.rows), fiscalYear),
    );
  }

  if (failures.length > 0 || !draft) {
    return { ok: false, status: 'needs_attention', failures, ...(draft ? { draft } : {}), warnings };
  }
  return { ok: true, status: 'ready', draft, warnings };
}

type Amounts = Partial<Record<'settlement_amount' | (typeof BOOKED_TOTALS)[number], number>>;

function readPayout(
  payout: PayoutInput,
):
  | { failure: GateFailure }
  | { voucherDate: string; amounts: Amounts; unknownTotals: Record<string, number> } {
  const problems: string[] = [];
  const ref = payout.paymentReference;
  if (typeof ref !== 'string' || ref.trim() === '' || /\s/.test(ref) || ref.length > 200) {
    problems.push('the payment reference is missing or malformed');
  }
  if (!/^[A-Z]{3}$/.test(payout.currencyCode))
    problems.push(`the currency "${payout.currencyCode}" is not an ISO code`);
  const voucherDate = typeof payout.payoutDate === 'string' ? stockholmDate(payout.payoutDate) : null;
  if (!voucherDate) problems.push(`the payout date "${payout.payoutDate}" is not a date`);

  const amounts: Amounts = {};
  const unknownTotals: Record<string, number> = {};
  const known = new Set<string>(TOTAL_FIELDS);
  const unbooked = new Set<string>(UNBOOKED_TOTALS);
  for (const [field, value] of Object.entries(payout.totals ?? {})) {
    if (value === undefined || value === null || unbooked.has(field)) continue;
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      if (known.has(field)) problems.push(`${field} is not a whole number of minor units`);
      continue;
    }
    if (known.has(field)) amounts[field as keyof Amounts] = value;
    else if (value !== 0) unknownTotals[field] = value;
  }
  if (problems.length > 0 || !voucherDate)
    return { failure: gateFailures.invalidPayout(String(ref ?? ''), problems) };
  return { voucherDate, amounts, unknownTotals };
}

function buildLines(
  ref: string,
  currency: string,
  amounts: Amounts,
  facts: PayoutFacts,
  mapping: BookingMapping,
  bankAccount: string,
  failures: GateFailure[],
  warnings: string[],
): { lines: Line[]; complete: boolean } {
  const lines: Line[] = [
    {
      account: bankAccount,
      side: SETTLEMENT_SIDE,
      amountMinor: amounts.settlement_amount ?? 0,
      text: `${VOUCHER_TEXT_PREFIX} ${ref}`,
      source: 'settlement_amount',
      purpose: `bank account for ${currency} payouts`,
    },
  ];
  const failuresBefore = failures.length;
  const cash =
    mapping.postingMode === 'cash' ? cashLines(ref, currency, amounts, facts, mapping, failures) : null;
  const complete = failures.length === failuresBefore;

  for (const total of BOOKED_TOTALS) {
    const amountMinor = amounts[total] ?? 0;
    const rule = TOTAL_RULES[total];
    if (cash && (total === 'sale_amount' || total === 'return_amount')) {
      lines.push(...cash[total]);
      continue;
    }
    if (total === 'fee_amount' && mapping.feeSplit.enabled && amountMinor !== 0) {
      const split = feeSplitLines(amountMinor, facts.feeByDetailedType, mapping, warnings);
      if (split) {
        const guessed = guessedFees(facts.feeByDetailedType ?? {}, mapping);
        if (guessed.length > 0) failures.push(gateFailures.unknownFeeTypes(ref, guessed, currency));
        lines.push(...split);
        continue;
      }
    }
    lines.push({
      account: mapping.accounts[total],
      side: rule.side,
      amountMinor,
      text: rule.text,
      source: total,
      purpose: rule.text,
    });
  }
  return { lines: lines.filter((l) => l.amountMinor !== 0), complete };
}

/**
 * Fee rows per detail group, or null (one fee row, with a warning) when the detail is
 * missing or does not add up to the fee total: the split is detail, never a reason to stop.
 * Sums may come signed either way; a breakdown equal to minus the total is read as magnitudes.
 */
function feeSplitLines(
  feeMinor: number,
  byDetailedType: Record<string, number> | undefined,
  mapping: BookingMapping,
  warnings: string[],
): Line[] | null {
  if (!byDetailedType) {
    warnings.push(
      'Fees are booked as one row: the split by fee type was asked for, but no fee details were given.',
    );
    return null;
  }
  const groups: Record<FeeGroup, number> = { fixed: 0, percentage: 0, other: 0 };
  let sum = 0;
  for (const [detailedType, value] of Object.entries(byDetailedType)) {
    groups[feeGroupOf(detailedType)] += value;
    sum += value;
  }
  const sign = sum === feeMinor ? 1 : sum === -feeMinor ? -1 : 0;
  if (sign === 0) {
    warnings.push(
      `Fees are booked as one row: the fees by type add up to ${formatMinorSv(sum)}, not to Klarna's fee total ${formatMinorSv(feeMinor)}.`,
    );
    return null;
  }
  return FEE_GROUPS.map((group) => ({
    account: feeGroupAccount(mapping, group),
    side: TOTAL_RULES.fee_amount.side,
    amountMinor: sign * groups[group],
    text: FEE_GROUP_TEXT[group],
    source: `fee_amount:${group}`,
    purpose: FEE_GROUP_TEXT[group],
  }));
}

/**
 * Unknown fee kinds whose group the split would have to guess: the name says neither
 * fixed nor percentage, and the groups do not all book to one account (when they do,
 * the guess cannot change the voucher).
 */
function guessedFees(
  byDetailedType: Record<string, number>,
  mapping: BookingMapping,
): Array<{ detailedType: string; amountMinor: number }> {
  if (new Set(FEE_GROUPS.map((g) => feeGroupAccount(mapping, g))).size === 1) return [];
  return Object.entries(byDetailedType)
    .filter(([d, value]) => value !== 0 && isUnknownDetailedType(d) && feeGroupByName(d) === undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([detailedType, value]) => ({ detailedType, amountMinor: Math.abs(value) }));
}

function unknownDetailedTypesWarning(unknown: readonly UnknownDetailedType[], currency: string): string {
  const items = unknown.map(
    (u) =>
      `${u.detailedType} (${u.lines} ${u.type} line${u.lines === 1 ? '' : 's'}, ${formatMinorSv(u.amountMinor)} ${currency})`,
  );
  return `Klarna sent transaction lines with a detailed type this integration does not know: ${items.join(', ')}. They are kept and booked by their transaction type; if an amount looks wrong, compare it with the settlement report in Klarna’s Merchant Portal.`;
}

/**
 * Kontantmetoden: sales and returns become revenue and output VAT per purchase country.
 * Everything else stays as in clearing mode, on purpose: a reversal is Klarna taking
 * money back in a dispute, not a credit note, so it reduces neither revenue nor VAT until
 * the merchant issues one; holdbacks, releases and debt are Klarna holding or owing the
 * merchant's money, which is a balance-sheet item under either method.
 */
function cashLines(
  ref: string,
  currency: string,
  amounts: Amounts,
  facts: PayoutFacts,
  mapping: BookingMapping,
  failures: GateFailure[],
): Record<'sale_amount' | 'return_amount', Line[]> {
  const out: Record<'sale_amount' | 'return_amount', Line[]> = { sale_amount: [], return_amount: [] };
  const countries = mapping.cashMethod.countries;
  const unmapped = new Map<string, number>();
  for (const [total, key, side] of [
    ['sale_amount', 'sale', 'credit'],
    ['return_amount', 'return', 'debit'],
  ] as const) {
    const totalMinor = amounts[total] ?? 0;
    const byCountry = facts.grossByCountry?.[key];
    const sum = byCountry ? Object.values(byCountry).reduce((a, b) => a + b, 0) : null;
    if (sum !== totalMinor) {
      if (totalMinor !== 0 || sum !== null) {
        failures.push(gateFailures.countryBreakdownMismatch(ref, total, totalMinor, sum, currency));
      }
      continue;
    }
    for (const [country, grossMinor] of Object.entries(byCountry ?? {}).sort(([a], [b]) =>
      a.localeCompare(b),
    )) {
      if (grossMinor === 0) continue;
      const setting = countries[country];
      if (!setting) {
        unmapped.set(country, (unmapped.get(country) ?? 0) + grossMinor);
        continue;
      }
      const { netMinor, vatMinor } = splitGrossVat(grossMinor, setting.vatRatePercent);
      const rate = formatRateSv(setting.vatRatePercent);
      const isSale = key === 'sale';
      out[total].push(
        {
          account: setting.revenueAccount,
          side,
          amountMinor: netMinor,
          text: isSale
            ? `Försäljning via Klarna ${country} ${rate}`
            : `Returer via Klarna ${country} ${rate}`,
          source: `${total}:${country}:revenue`,
          purpose: `försäljning ${country}`,
        },
        {
          account: setting.vatAccount,
          side,
          amountMinor: vatMinor,
          text: isSale ? `Utgående moms ${country} ${rate}` : `Utgående moms på returer ${country} ${rate}`,
          source: `${total}:${country}:vat`,
          purpose: `utgående moms ${country}`,
        },
      );
    }
  }
  if (unmapped.size > 0) {
    failures.push(
      gateFailures.countryNotMapped(
        ref,
        [...unmapped].map(([country, grossMinor]) => ({ country, grossMinor })),
        currency,
      ),
    );
  }
  return out;
}

function toRow(line: Line): VoucherRow {
  const positive = line.amountMinor >= 0;
  const side: Side = positive ? line.side : line.side === 'debit' ? 'credit' : 'debit';
  const amount = Math.abs(line.amountMinor);
  return {
    account: line.account,
    debitMinor: side === 'debit' ? amount : 0,
    creditMinor: side === 'credit' ? amount : 0,
    text: clampText(line.text, MAX_TRANSACTION_TEXT),
    source: line.source,
  };
}

/** Why a rate cannot be used for this payout, or null when it can. */
function unusableRate(rate: ExchangeRate, currency: string, voucherDate: string): string | null {
  if (rate.currency !== currency) return `the rate given is for ${rate.currency}`;
  if (!isPositiveDecimal(rate.sekPerUnit)) return `the rate "${rate.sekPerUnit}" is not a positive number`;
  if (!isIsoDate(rate.date)) return `the rate's date "${rate.date}" is not a date`;
  if (rate.date > voucherDate) return `the rate is dated ${rate.date}, after the payout`;
  return null;
}

/**
 * The voucher in SEK, or undefined (with the failure recorded) when there is no usable
 * rate. Each row is converted on its own, so every row keeps its meaning; the few öre the
 * rounding leaves between debit and credit go to the rounding account.
 */
function convertToSek(
  ref: string,
  lines: readonly Line[],
  currency: string,
  voucherDate: string,
  given: ExchangeRate | null | undefined,
  mapping: BookingMapping,
  failures: GateFailure[],
  warnings: string[],
): { rows: VoucherRow[]; rate: AppliedRate } | undefined {
  const problem = given ? unusableRate(given, currency, voucherDate) : 'no rate was found';
  if (!given || problem) {
    failures.push(gateFailures.noExchangeRate(ref, currency, voucherDate, problem ?? ''));
    return undefined;
  }
  const rate: AppliedRate = {
    sekPerUnit: normaliseDecimal(given.sekPerUnit),
    date: given.date,
    source: given.source,
  };
  const age = daysBetween(rate.date, voucherDate);
  if (age > STALE_RATE_DAYS) {
    warnings.push(
      `The ${currency} rate used is from ${rate.date}, ${age} days before the payout; it was the latest one ${rate.source} had.`,
    );
  }

  const rows: VoucherRow[] = [];
  let debit = 0;
  let credit = 0;
  for (const line of lines) {
    const original = toRow(line);
    const originalMinor = original.debitMinor + original.creditMinor;
    const sek = convertMinorToSek(originalMinor, currency, rate.sekPerUnit);
    if (sek === 0) continue;
    const suffix = ` (${currency} ${formatMinorSv(originalMinor)})`;
    const text =
      [...line.text].length + suffix.length <= MAX_TRANSACTION_TEXT ? line.text + suffix : original.text;
    const isDebit = original.debitMinor > 0;
    rows.push({
      ...original,
      text,
      debitMinor: isDebit ? sek : 0,
      creditMinor: isDebit ? 0 : sek,
      originalMinor,
    });
    if (isDebit) debit += sek;
    else credit += sek;
  }
  const roundingMinor = debit - credit;
  if (roundingMinor !== 0) {
    rows.push({
      account: mapping.fxRoundingAccount,
      debitMinor: Math.max(-roundingMinor, 0),
      creditMinor: Math.max(roundingMinor, 0),
      text: 'Öresutjämning valutaomräkning',
      source: 'fx_rounding',
    });
  }
  if (Math.abs(roundingMinor) > mapping.fxRoundingLimitMinor) {
    failures.push(gateFailures.fxRoundingTooLarge(ref, roundingMinor, mapping.fxRoundingLimitMinor));
  }
  return { rows, rate };
}

function accountsUsed(lines: readonly Line[], rows: readonly VoucherRow[] | undefined) {
  const wanted = lines
    .filter((l) => l.account !== '')
    .map((l) => ({ account: l.account, purpose: l.purpose }));
  for (const row of rows ?? []) {
    if (row.source === 'fx_rounding')
      wanted.push({ account: row.account, purpose: 'öresutjämning valutaomräkning' });
  }
  return wanted;
}
