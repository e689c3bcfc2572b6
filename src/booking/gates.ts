import { isKnownTransactionType } from '../klarna/klarna.types.ts';
import { datePart } from './calendar.ts';
import { formatMinorSv } from './decimal.ts';
import { type BookingMapping, configuredAccounts, TRANSACTION_TYPE_TOTAL } from './mapping.ts';
import type { VoucherRow } from './voucher.ts';

/**
 * The gates a payout passes before it is posted. Each is a pure check that returns
 * failures; a failure tells the merchant, in their terms, what is wrong and what to do,
 * and the payout waits in needs_attention until the cause is gone.
 */

export type GateCode =
  | 'INVALID_PAYOUT'
  | 'NOTHING_TO_BOOK'
  | 'UNRECONCILED'
  | 'UNKNOWN_TRANSACTION_TYPE'
  | 'UNKNOWN_FEE_TYPE'
  | 'UNKNOWN_TOTAL'
  | 'UNBALANCED'
  | 'NO_FISCAL_YEAR'
  | 'FISCAL_YEAR_CLOSED'
  | 'PERIOD_LOCKED'
  | 'CHART_NOT_LOADED'
  | 'ACCOUNT_MISSING'
  | 'ACCOUNT_INACTIVE'
  | 'ACCOUNT_BLOCKED'
  | 'CURRENCY_NOT_MAPPED'
  | 'NO_EXCHANGE_RATE'
  | 'FX_ROUNDING_TOO_LARGE'
  | 'COUNTRY_NOT_MAPPED'
  | 'COUNTRY_BREAKDOWN_MISMATCH';

export interface GateFailure {
  code: GateCode;
  /** What is wrong, for the merchant. */
  message: string;
  /** What to do about it. */
  action: string;
  details?: Record<string, unknown>;
}

export interface ReconciliationResult {
  ok: boolean;
  summary: string;
  differences?: unknown;
}

export interface FiscalYear {
  id: string;
  /** `YYYY-MM-DD`; a date-time is cut to its date. */
  startDate: string;
  endDate: string;
  /** Spiris `IsLockedForAccounting`. */
  isClosed: boolean;
  /** Spiris `BookkeepingMethod`: 0 Invoicing, 1 Cash, 2 NoBookkeeping (names accepted). */
  bookkeepingMethod?: number | string | null;
}

export interface ChartAccount {
  number: string;
  name: string;
  isActive: boolean;
  isBlockedForManualBooking?: boolean;
}

export interface Chart {
  fiscalYears: FiscalYear[];
  /** The accounts of one fiscal year, or undefined when they have not been read. */
  accounts: (fiscalYearId: string) => ChartAccount[] | undefined;
  /** Spiris `AccountingLockedTo`: bookkeeping is locked up to and including this date. */
  lockedThrough?: string | null;
}

const sek = (minor: number) => `${formatMinorSv(minor)} SEK`;
const amount = (minor: number, currency: string) => `${formatMinorSv(minor)} ${currency}`;
const list = (items: readonly string[]) => items.join(', ');

/** Failure builders: every message and action lives here, so they read alike. */
export const gateFailures = {
  invalidPayout: (paymentReference: string, problems: string[]): GateFailure => ({
    code: 'INVALID_PAYOUT',
    message: `Payout ${paymentReference || '(without a payment reference)'} from Klarna cannot be read: ${problems.join('; ')}.`,
    action:
      'Fetch the payout from Klarna again. If it stays like this, report it to klarna-spiris support with the payment reference; book it manually meanwhile.',
    details: { problems },
  }),

  nothingToBook: (paymentReference: string): GateFailure => ({
    code: 'NOTHING_TO_BOOK',
    message: `Payout ${paymentReference} moves no money: its settlement amount and all other totals are 0, so there is nothing to book.`,
    action: 'Nothing to do. The payout is skipped.',
  }),

  unreconciled: (paymentReference: string, r: ReconciliationResult): GateFailure => ({
    code: 'UNRECONCILED',
    message: `Klarna's totals for payout ${paymentReference} do not match its transactions: ${r.summary}`,
    action:
      'Wait for the next sync in case Klarna was still adding transactions. If it persists, compare the settlement report in Klarna’s Merchant Portal with the transactions and ask Klarna merchant support, quoting the payment reference.',
    ...(r.differences !== undefined ? { details: { differences: r.differences } } : {}),
  }),

  unknownTransactionTypes: (paymentReference: string, types: string[]): GateFailure => ({
    code: 'UNKNOWN_TRANSACTION_TYPE',
    message: `Payout ${paymentReference} contains Klarna transaction types this integration does not know how to book: ${list(types)}. Guessing could put money on the wrong account.`,
    action:
      'Update klarna-spiris to a version that knows these types, or book this payout manually and mark it as skipped.',
    details: { types },
  }),

  unknownFeeTypes: (
    paymentReference: string,
    fees: Array<{ detailedType: string; amountMinor: number }>,
    currency: string,
  ): GateFailure => ({
    code: 'UNKNOWN_FEE_TYPE',
    message: `Payout ${paymentReference} has Klarna fees of a kind this integration does not know: ${list(
      fees.map((f) => `${f.detailedType} (${amount(f.amountMinor, currency)})`),
    )}. Your booking settings split fees into fixed, percentage and other fees on different accounts, and the name does not say which of them ${fees.length === 1 ? 'this fee is' : 'these fees are'}, so the account would be a guess.`,
    action:
      'Look the fee up in the settlement report in Klarna’s Merchant Portal. Then update klarna-spiris to a version that knows it, or turn off the fee split in the booking settings (fees are then booked on one row) and sync again; or book this payout manually and mark it as skipped.',
    details: { fees },
  }),

  unknownTotals: (paymentReference: string, totals: Record<string, number>): GateFailure => ({
    code: 'UNKNOWN_TOTAL',
    message: `Klarna's totals for payout ${paymentReference} contain amounts this integration does not know how to book: ${list(
      Object.entries(totals).map(([k, v]) => `${k} ${formatMinorSv(v)}`),
    )}.`,
    action:
      'Update klarna-spiris to a version that knows these totals, or book this payout manually and mark it as skipped.',
    details: { totals },
  }),

  unbalanced: (
    paymentReference: string,
    debitMinor: number,
    creditMinor: number,
    problems: string[] = [],
    currency = 'SEK',
  ): GateFailure => ({
    code: 'UNBALANCED',
    message: `The voucher for payout ${paymentReference} does not balance: debit ${amount(debitMinor, currency)}, credit ${amount(creditMinor, currency)}${
      debitMinor !== creditMinor
        ? ` (difference ${amount(Math.abs(debitMinor - creditMinor), currency)})`
        : ''
    }${problems.length > 0 ? `; ${problems.join('; ')}` : ''}. Klarna's totals do not add up to the amount paid out.`,
    action:
      'Compare the payout with the settlement report in Klarna’s Merchant Portal. If Klarna’s figures disagree with each other, ask Klarna merchant support; otherwise report it to klarna-spiris support. Nothing has been booked.',
    details: { debitMinor, creditMinor, currency, ...(problems.length > 0 ? { problems } : {}) },
  }),

  noFiscalYear: (paymentReference: string, voucherDate: string): GateFailure => ({
    code: 'NO_FISCAL_YEAR',
    message: `There is no fiscal year in Spiris that contains ${voucherDate}, the date of payout ${paymentReference}.`,
    action: 'Create the fiscal year that covers this date in Spiris. The payout is booked on the next sync.',
    details: { voucherDate },
  }),

  fiscalYearClosed: (paymentReference: string, year: FiscalYear): GateFailure => ({
    code: 'FISCAL_YEAR_CLOSED',
    message: `Payout ${paymentReference} belongs to fiscal year ${yearLabel(year)}, which is locked for bookkeeping in Spiris.`,
    action:
      'If the year may still be changed, unlock it in Spiris and sync again. If it is closed for good, book the payout manually in an open year (ask your accountant how) and mark it as skipped.',
    details: { fiscalYearId: year.id },
  }),

  periodLocked: (paymentReference: string, voucherDate: string, lockedThrough: string): GateFailure => ({
    code: 'PERIOD_LOCKED',
    message: `Bookkeeping in Spiris is locked up to and including ${lockedThrough}, and payout ${paymentReference} is dated ${voucherDate}.`,
    action:
      'Move the lock date in Spiris back before this date (or ask your accountant to) and sync again, or book the payout manually and mark it as skipped.',
    details: { voucherDate, lockedThrough },
  }),

  chartNotLoaded: (year: FiscalYear | undefined): GateFailure => ({
    code: 'CHART_NOT_LOADED',
    message: `The chart of accounts${year ? ` for fiscal year ${yearLabel(year)}` : ''} could not be read from Spiris, so the accounts cannot be checked.`,
    action:
      'Sync again. If it persists, test the Spiris connection: it needs permission to read the bookkeeping (accounting scope).',
    ...(year ? { details: { fiscalYearId: year.id } } : {}),
  }),

  accountMissing: (account: string, purpose: string, year: FiscalYear | undefined): GateFailure => ({
    code: 'ACCOUNT_MISSING',
    message: `Account ${account} (${purpose}) does not exist in the chart of accounts${year ? ` for fiscal year ${yearLabel(year)}` : ''}.`,
    action: `Add account ${account} to the chart of accounts in Spiris, or choose another account for “${purpose}” in the booking settings.`,
    details: { account, purpose, ...(year ? { fiscalYearId: year.id } : {}) },
  }),

  accountInactive: (account: ChartAccount, purpose: string, year: FiscalYear | undefined): GateFailure => ({
    code: 'ACCOUNT_INACTIVE',
    message: `Account ${account.number} ${account.name} (${purpose}) is inactive${year ? ` in fiscal year ${yearLabel(year)}` : ''}.`,
    action: `Activate account ${account.number} in Spiris, or choose another account for “${purpose}” in the booking settings.`,
    details: { account: account.number, purpose, ...(year ? { fiscalYearId: year.id } : {}) },
  }),

  accountBlocked: (account: ChartAccount, purpose: string, year: FiscalYear | undefined): GateFailure => ({
    code: 'ACCOUNT_BLOCKED',
    message: `Account ${account.number} ${account.name} (${purpose}) is blocked for manual booking${year ? ` in fiscal year ${yearLabel(year)}` : ''}, and vouchers from this integration are manual vouchers.`,
    action: `Allow manual booking on account ${account.number} in Spiris, or choose another account for “${purpose}” in the booking settings.`,
    details: { account: account.number, purpose, ...(year ? { fiscalYearId: year.id } : {}) },
  }),

  currencyNotMapped: (paymentReference: string, currency: string): GateFailure => ({
    code: 'CURRENCY_NOT_MAPPED',
    message: `Payout ${paymentReference} is in ${currency}, and no bank account is chosen for ${currency} payouts.`,
    action: `Choose the account that receives Klarna’s ${currency} payouts (for example 1932 for a ${currency} currency account) in the booking settings. The payout is then booked in SEK at the day’s rate.`,
    details: { currency },
  }),

  noExchangeRate: (
    paymentReference: string,
    currency: string,
    voucherDate: string,
    reason: string,
  ): GateFailure => ({
    code: 'NO_EXCHANGE_RATE',
    message: `Payout ${paymentReference} is in ${currency} and no usable SEK rate for ${currency} on or before ${voucherDate} was found (${reason}). Amounts in ${currency} are never booked as if they were SEK.`,
    action:
      'The Riksbank publishes rates at 16:15 on Swedish banking days: a payout from today is booked automatically once the day’s rate is out. Otherwise add the rate to your rate table, or switch the rate source in the settings.',
    details: { currency, voucherDate, reason },
  }),

  fxRoundingTooLarge: (paymentReference: string, roundingMinor: number, limitMinor: number): GateFailure => ({
    code: 'FX_ROUNDING_TOO_LARGE',
    message: `Converting payout ${paymentReference} to SEK leaves a rounding difference of ${sek(Math.abs(roundingMinor))}, more than the ${sek(limitMinor)} that may be booked as öresutjämning.`,
    action:
      'Check the exchange rate used for this payout. Rounding each row to the öre never comes near this much, so report it to klarna-spiris support; book the payout manually meanwhile.',
    details: { roundingMinor, limitMinor },
  }),

  countryNotMapped: (
    paymentReference: string,
    countries: Array<{ country: string; grossMinor: number }>,
    currency: string,
  ): GateFailure => ({
    code: 'COUNTRY_NOT_MAPPED',
    message: `Payout ${paymentReference} has sales or returns from ${list(
      countries.map(
        (c) => `${c.country === '' ? 'an unstated country' : c.country} (${amount(c.grossMinor, currency)})`,
      ),
    )}, and cash mode has no VAT rate and accounts for ${countries.length === 1 ? 'it' : 'them'}. Without them the split between revenue and output VAT would be a guess.`,
    action:
      'Add the country to the cash-mode country table with its VAT rate and its revenue and VAT accounts (for distance sales under OSS, for example 3106 and a 2670 sub-account for that country), then sync again. Sales with no stated country need a manual booking, or use clearing mode.',
    details: { countries },
  }),

  countryBreakdownMismatch: (
    paymentReference: string,
    total: 'sale_amount' | 'return_amount',
    totalMinor: number,
    byCountryMinor: number | null,
    currency: string,
  ): GateFailure => ({
    code: 'COUNTRY_BREAKDOWN_MISMATCH',
    message:
      byCountryMinor === null
        ? `Cash mode splits sales and returns by country, but the per-country figures for payout ${paymentReference} are missing.`
        : `Cash mode splits sales and returns by country, but for payout ${paymentReference} the per-country ${total === 'sale_amount' ? 'sales' : 'returns'} add up to ${amount(byCountryMinor, currency)} while Klarna's total is ${amount(totalMinor, currency)}.`,
    action:
      'Fetch the payout’s transactions from Klarna again and sync. If it persists, report it to klarna-spiris support with the payment reference.',
    details: { total, totalMinor, byCountryMinor },
  }),
};

function yearLabel(year: FiscalYear): string {
  return `${datePart(year.startDate)}–${datePart(year.endDate)}`;
}

export function checkReconciliation(paymentReference: string, r: ReconciliationResult): GateFailure[] {
  return r.ok ? [] : [gateFailures.unreconciled(paymentReference, r)];
}

/** Every transaction type must be known to Klarna's list and have a booking rule. */
export function checkTransactionTypes(paymentReference: string, typesSeen: readonly string[]): GateFailure[] {
  const unknown = [...new Set(typesSeen)]
    .filter((t) => !(isKnownTransactionType(t) && t in TRANSACTION_TYPE_TOTAL))
    .sort();
  return unknown.length === 0 ? [] : [gateFailures.unknownTransactionTypes(paymentReference, unknown)];
}

/** Debit equals credit to the öre, and every row is one whole-öre amount on one side. */
export function checkBalanced(
  paymentReference: string,
  rows: ReadonlyArray<Pick<VoucherRow, 'account' | 'debitMinor' | 'creditMinor' | 'text'>>,
  currency = 'SEK',
): GateFailure[] {
  let debit = 0;
  let credit = 0;
  const problems: string[] = [];
  for (const row of rows) {
    const { debitMinor: d, creditMinor: c } = row;
    if (!Number.isSafeInteger(d) || !Number.isSafeInteger(c) || d < 0 || c < 0 || (d === 0) === (c === 0)) {
      problems.push(`row ${row.account} “${row.text}” must carry one positive whole-öre amount on one side`);
      continue;
    }
    debit += d;
    credit += c;
  }
  if (rows.length === 0) problems.push('the voucher has no rows');
  return debit === credit && problems.length === 0
    ? []
    : [gateFailures.unbalanced(paymentReference, debit, credit, problems, currency)];
}

/** The fiscal year holding the date must exist and be open, and the date must be after the lock date. */
export function checkFiscalYear(
  paymentReference: string,
  chart: Pick<Chart, 'fiscalYears' | 'lockedThrough'>,
  voucherDate: string,
): { fiscalYear?: FiscalYear; failures: GateFailure[] } {
  const failures: GateFailure[] = [];
  const fiscalYear = chart.fiscalYears.find(
    (y) => datePart(y.startDate) <= voucherDate && voucherDate <= datePart(y.endDate),
  );
  if (!fiscalYear) failures.push(gateFailures.noFiscalYear(paymentReference, voucherDate));
  else if (fiscalYear.isClosed) failures.push(gateFailures.fiscalYearClosed(paymentReference, fiscalYear));
  const locked = chart.lockedThrough ? datePart(chart.lockedThrough) : null;
  if (locked && voucherDate <= locked)
    failures.push(gateFailures.periodLocked(paymentReference, voucherDate, locked));
  return fiscalYear ? { fiscalYear, failures } : { failures };
}

/** Each wanted account must exist in the chart, be active and accept manual vouchers. */
export function checkAccounts(
  chartAccounts: readonly ChartAccount[] | undefined,
  wanted: ReadonlyArray<{ account: string; purpose: string }>,
  fiscalYear?: FiscalYear,
): GateFailure[] {
  if (chartAccounts === undefined) return [gateFailures.chartNotLoaded(fiscalYear)];
  const byNumber = new Map(chartAccounts.map((a) => [String(a.number).trim(), a]));
  const failures: GateFailure[] = [];
  const seen = new Set<string>();
  for (const { account, purpose } of wanted) {
    if (seen.has(account)) continue;
    seen.add(account);
    const found = byNumber.get(account);
    if (!found) failures.push(gateFailures.accountMissing(account, purpose, fiscalYear));
    else if (!found.isActive) failures.push(gateFailures.accountInactive(found, purpose, fiscalYear));
    else if (found.isBlockedForManualBooking)
      failures.push(gateFailures.accountBlocked(found, purpose, fiscalYear));
  }
  return failures;
}

/**
 * Every account the settings can book to, checked against one fiscal year's chart. The
 * connection test runs this so a missing account shows up at setup, not on a payout.
 */
export function validateMappingAgainstChart(
  mapping: BookingMapping,
  chartAccounts: readonly ChartAccount[] | undefined,
  fiscalYear?: FiscalYear,
): GateFailure[] {
  return checkAccounts(chartAccounts, configuredAccounts(mapping), fiscalYear);
}
