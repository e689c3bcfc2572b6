import { z } from 'zod';
import type { KnownTransactionType, TotalField } from '../klarna/klarna.types.ts';
import { MAX_FX_ROUNDING_MINOR } from './fx.ts';

/**
 * How a Klarna payout's totals become voucher rows: the default Swedish BAS mapping for
 * a SEK company, and the zod schema for an integration's own settings.
 */

export type Side = 'debit' | 'credit';

/** Totals booked as rows of their own. The debt balances are states, not movements. */
export const BOOKED_TOTALS = [
  'sale_amount',
  'return_amount',
  'reversal_amount',
  'fee_amount',
  'tax_amount',
  'fee_correction_amount',
  'fee_refund_amount',
  'tax_refund_amount',
  'commission_amount',
  'charge_amount',
  'credit_amount',
  'holdback_amount',
  'release_amount',
  'repay_amount',
  'deposit_amount',
] as const satisfies readonly TotalField[];
export type BookedTotal = (typeof BOOKED_TOTALS)[number];

/** Totals that describe a balance rather than money moved in this payout; never booked. */
export const UNBOOKED_TOTALS = [
  'opening_debt_balance_amount',
  'closing_debt_balance_amount',
] as const satisfies readonly TotalField[];

export interface TotalRule {
  /** Side for a positive amount; a negative amount books on the other side. */
  side: Side;
  defaultAccount: string;
  /** TransactionText of the row (≤ 60 characters). */
  text: string;
}

/**
 * The booking table. With these sides the voucher balances exactly when Klarna's
 * settlement identity holds: settlement = sale − return − reversal − fee − tax
 * + fee_correction + commission − charge + credit − repay − holdback + release
 * + fee_refund + tax_refund + deposit, with the settlement on the bank's debit side.
 */
export const TOTAL_RULES: Readonly<Record<BookedTotal, TotalRule>> = Object.freeze({
  sale_amount: { side: 'credit', defaultAccount: '1580', text: 'Klarna försäljning' },
  return_amount: { side: 'debit', defaultAccount: '1580', text: 'Klarna returer' },
  reversal_amount: {
    side: 'debit',
    defaultAccount: '1580',
    text: 'Klarna återföringar (tvister), netto efter säljarskydd',
  },
  fee_amount: { side: 'debit', defaultAccount: '6064', text: 'Klarna avgifter' },
  tax_amount: { side: 'debit', defaultAccount: '2640', text: 'Moms på Klarna-avgifter' },
  fee_correction_amount: { side: 'credit', defaultAccount: '6064', text: 'Klarna avgiftskorrigering' },
  fee_refund_amount: { side: 'credit', defaultAccount: '6064', text: 'Klarna återbetalda avgifter' },
  tax_refund_amount: { side: 'credit', defaultAccount: '2640', text: 'Återbetald moms på Klarna-avgifter' },
  commission_amount: { side: 'credit', defaultAccount: '3990', text: 'Klarna provision' },
  charge_amount: { side: 'debit', defaultAccount: '6990', text: 'Klarna övriga debiteringar' },
  credit_amount: { side: 'credit', defaultAccount: '3990', text: 'Klarna övriga krediteringar' },
  holdback_amount: { side: 'debit', defaultAccount: '1689', text: 'Klarna reserv, innehållet belopp' },
  release_amount: { side: 'credit', defaultAccount: '1689', text: 'Klarna reserv, frisläppt belopp' },
  repay_amount: { side: 'debit', defaultAccount: '2890', text: 'Amortering av skuld till Klarna' },
  deposit_amount: { side: 'credit', defaultAccount: '2890', text: 'Ökad skuld till Klarna' },
});

/** The settlement amount is the bank transfer: debit the bank account. */
export const SETTLEMENT_SIDE: Side = 'debit';

/**
 * Which total each Klarna transaction type is summed into. `satisfies` makes the
 * compiler refuse a new known type until someone decides where it is booked.
 */
export const TRANSACTION_TYPE_TOTAL = {
  SALE: 'sale_amount',
  RETURN: 'return_amount',
  REVERSAL: 'reversal_amount',
  REVERSAL_MERCHANT_PROTECTION: 'reversal_amount',
  FEE: 'fee_amount',
  FEE_REFUND: 'fee_refund_amount',
  TAX: 'tax_amount',
  CORRECTION: 'fee_correction_amount',
  COMMISSION: 'commission_amount',
  CHARGE: 'charge_amount',
  CREDIT: 'credit_amount',
  HOLDBACK: 'holdback_amount',
  RELEASE: 'release_amount',
} as const satisfies Record<KnownTransactionType, BookedTotal>;

/** Fee detail groups for the optional fee split. */
export const FEE_GROUPS = ['fixed', 'percentage', 'other'] as const;
export type FeeGroup = (typeof FEE_GROUPS)[number];

export const FEE_GROUP_TEXT: Readonly<Record<FeeGroup, string>> = Object.freeze({
  fixed: 'Klarna avgifter, fasta',
  percentage: 'Klarna avgifter, procentuella',
  other: 'Klarna avgifter, övriga',
});

/**
 * Klarna's fee detailed_types name their kind (PURCHASE_FEE_FIXED, PURCHASE_FEE_PERCENTAGE,
 * PERCENTAGE_FEES, …), so the group follows the name; new kinds that say so land in their
 * group without a code change. Everything else (servicing, late return, dispute …) is "other".
 */
export function feeGroupOf(detailedType: string): FeeGroup {
  return feeGroupByName(detailedType) ?? 'other';
}

/**
 * The group a fee's name states, or undefined when it names neither kind. For a known
 * detailed_type that means "other"; for an unknown one it means nobody can tell, since a
 * new percentage fee need not say PERCENTAGE.
 */
export function feeGroupByName(detailedType: string): Exclude<FeeGroup, 'other'> | undefined {
  const t = detailedType.toUpperCase();
  if (t.includes('FIXED')) return 'fixed';
  if (t.includes('PERCENTAGE')) return 'percentage';
  return undefined;
}

/**
 * Shown when the user picks cash mode, so they know what it can and cannot do.
 */
export const CASH_MODE_EXPLANATION =
  "Cash mode (kontantmetoden) books each payout's sales and returns as revenue and output VAT, " +
  "split by the buyer's purchase country. Klarna's settlement data carries no VAT on your sales " +
  "(its VAT fields are the VAT on Klarna's own fees), so this mode assumes one VAT rate per " +
  'country: the rate you enter for that country. Shops with mixed rates (food 12 %, books 6 %) ' +
  "should use the default clearing mode, where their webshop's invoices carry the sales VAT and " +
  'the payout only clears the Klarna receivable on 1580.';

const accountNumber = z
  .union([z.string(), z.number().int()])
  .transform((v) => String(v).trim())
  .pipe(z.string().regex(/^[1-9]\d{0,9}$/, 'an account number is 1 to 10 digits, not starting with 0'));

const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'a currency is a three-letter ISO 4217 code in capitals');
const countryCode = z.string().regex(/^[A-Z]{2}$/, 'a country is a two-letter ISO 3166 code in capitals');

const vatRatePercent = z
  .union([z.string(), z.number()])
  .transform((v) => String(v).trim())
  .pipe(z.string().regex(/^\d{1,2}(\.\d{1,4})?$/, 'a VAT rate is a percentage such as 25 or 25.5'));

export const CashCountrySchema = z.strictObject({
  /** Percent, as text so it stays exact (Finland: "25.5"). */
  vatRatePercent,
  revenueAccount: accountNumber,
  vatAccount: accountNumber,
});
export type CashCountry = z.infer<typeof CashCountrySchema>;

const accountsShape = Object.fromEntries(
  BOOKED_TOTALS.map((total) => [total, accountNumber.default(TOTAL_RULES[total].defaultAccount)]),
) as Record<BookedTotal, z.ZodDefault<typeof accountNumber>>;

export const BookingMappingSchema = z.strictObject({
  /**
   * `clearing` (default): the webshop's invoices book sales and VAT; payouts clear 1580.
   * `cash`: kontantmetoden; payouts book sales and returns as revenue and output VAT.
   */
  postingMode: z.enum(['clearing', 'cash']).default('clearing'),
  /** Receives SEK payouts. */
  bankAccount: accountNumber.default('1930'),
  /** Receives payouts in other currencies, e.g. { EUR: "1932" }. A currency missing here is not booked. */
  foreignBankAccounts: z.record(currencyCode, accountNumber).default({}),
  /** Account per Klarna total; sides are fixed by TOTAL_RULES. */
  accounts: z.strictObject(accountsShape).prefault({}),
  fxRoundingAccount: accountNumber.default('3740'),
  /** Largest rounding difference booked to fxRoundingAccount, in öre; at most 1 SEK. */
  fxRoundingLimitMinor: z.number().int().min(0).max(MAX_FX_ROUNDING_MINOR).default(MAX_FX_ROUNDING_MINOR),
  /** Split the fee row into fixed / percentage / other fees; unset group accounts use accounts.fee_amount. */
  feeSplit: z
    .strictObject({
      enabled: z.boolean().default(false),
      fixed: accountNumber.optional(),
      percentage: accountNumber.optional(),
      other: accountNumber.optional(),
    })
    .prefault({}),
  cashMethod: z
    .strictObject({
      /** Country → VAT rate and accounts. Giving a table replaces the default one (SE only). */
      countries: z.record(countryCode, CashCountrySchema).default({
        SE: { vatRatePercent: '25', revenueAccount: '3001', vatAccount: '2611' },
      }),
    })
    .prefault({}),
});
export type BookingMapping = z.infer<typeof BookingMappingSchema>;
export type BookingMappingInput = z.input<typeof BookingMappingSchema>;
export type PostingMode = BookingMapping['postingMode'];

export const DEFAULT_BOOKING_MAPPING: BookingMapping = Object.freeze(BookingMappingSchema.parse({}));

export function feeGroupAccount(mapping: BookingMapping, group: FeeGroup): string {
  return mapping.feeSplit[group] ?? mapping.accounts.fee_amount;
}

/** The bank account for payouts in `currency`, or undefined when none is chosen. */
export function bankAccountFor(mapping: BookingMapping, currency: string): string | undefined {
  return currency === 'SEK' ? mapping.bankAccount : mapping.foreignBankAccounts[currency];
}

/**
 * Every account the settings may book to, with what it is for: the setup's connection
 * test checks them all against the chart before the first payout needs one.
 */
export function configuredAccounts(mapping: BookingMapping): Array<{ account: string; purpose: string }> {
  const out: Array<{ account: string; purpose: string }> = [
    { account: mapping.bankAccount, purpose: 'bank account for SEK payouts' },
  ];
  for (const [currency, account] of Object.entries(mapping.foreignBankAccounts)) {
    out.push({ account, purpose: `bank account for ${currency} payouts` });
  }
  for (const total of BOOKED_TOTALS) {
    if (mapping.postingMode === 'cash' && (total === 'sale_amount' || total === 'return_amount')) continue;
    out.push({ account: mapping.accounts[total], purpose: TOTAL_RULES[total].text });
  }
  if (mapping.feeSplit.enabled) {
    for (const group of FEE_GROUPS)
      out.push({ account: feeGroupAccount(mapping, group), purpose: FEE_GROUP_TEXT[group] });
  }
  if (Object.keys(mapping.foreignBankAccounts).length > 0) {
    out.push({ account: mapping.fxRoundingAccount, purpose: 'öresutjämning vid valutaomräkning' });
  }
  if (mapping.postingMode === 'cash') {
    for (const [country, c] of Object.entries(mapping.cashMethod.countries)) {
      out.push({ account: c.revenueAccount, purpose: `försäljning ${country}` });
      out.push({ account: c.vatAccount, purpose: `utgående moms ${country}` });
    }
  }
  return out;
}

/**
 * Spiris' FiscalYear.BookkeepingMethod: 0 Invoicing (fakturametoden), 1 Cash
 * (kontantmetoden), 2 NoBookkeeping. Names are accepted too, as the API's docs use them.
 */
export function bookkeepingMethodName(
  method: number | string | null | undefined,
): 'Invoicing' | 'Cash' | 'NoBookkeeping' | undefined {
  if (method === null || method === undefined) return undefined;
  const key = String(method).trim().toLowerCase();
  if (key === '0' || key === 'invoicing' || key === 'invoice') return 'Invoicing';
  if (key === '1' || key === 'cash') return 'Cash';
  if (key === '2' || key === 'nobookkeeping') return 'NoBookkeeping';
  return undefined;
}

/**
 * A warning when the posting mode does not suit the fiscal year's bookkeeping method,
 * or null when it does or the method is unknown (nothing to judge by).
 */
export function postingModeMatchesBookkeepingMethod(
  mode: PostingMode,
  fiscalYearBookkeepingMethod: number | string | null | undefined,
): string | null {
  const method = bookkeepingMethodName(fiscalYearBookkeepingMethod);
  if (method === undefined) {
    if (fiscalYearBookkeepingMethod === null || fiscalYearBookkeepingMethod === undefined) return null;
    return `The fiscal year's bookkeeping method (${String(fiscalYearBookkeepingMethod)}) is not one this integration knows, so it cannot tell whether ${mode} mode suits it. Check the fiscal year settings in Spiris.`;
  }
  if (method === 'NoBookkeeping') {
    return 'The fiscal year is set to "no bookkeeping" in Spiris, so vouchers cannot be booked in it. Choose a bookkeeping method for the fiscal year in Spiris.';
  }
  if (mode === 'cash' && method === 'Invoicing') {
    return 'The fiscal year uses the invoice method (fakturametoden), but this integration is set to cash mode, which books sales as revenue when Klarna pays. If your webshop also books its invoices, every sale is counted twice. Use clearing mode, or switch the fiscal year to kontantmetoden if that is what your company uses.';
  }
  if (mode === 'clearing' && method === 'Cash') {
    return 'The fiscal year uses the cash method (kontantmetoden), but this integration is set to clearing mode, which expects your webshop to book each sale on 1580 first. If nothing else books your sales, revenue and output VAT go missing. Use cash mode unless your webshop books its sales to 1580.';
  }
  return null;
}
