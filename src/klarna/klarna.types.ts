import { z } from 'zod';

// Klarna's Settlements API v1 as parsed by this product. Parsing is tolerant: fields
// beyond the spec stay in the raw JSON, and `type` / `detailed_type` are open strings
// (the enums have grown over the years), checked against the known lists below.

export const KNOWN_TRANSACTION_TYPES = [
  'SALE',
  'RETURN',
  'REVERSAL',
  'REVERSAL_MERCHANT_PROTECTION',
  'FEE',
  'FEE_REFUND',
  'TAX',
  'CORRECTION',
  'COMMISSION',
  'CHARGE',
  'CREDIT',
  'HOLDBACK',
  'RELEASE',
] as const;
export type KnownTransactionType = (typeof KNOWN_TRANSACTION_TYPES)[number];

export const KNOWN_DETAILED_TYPES = [
  'COMMISSION',
  'CREDITED_CORRECTION',
  'PURCHASE_FEE_PERCENTAGE',
  'PURCHASE_FEE_PERCENTAGE_REFUND',
  'LATE_RETURN_FEE',
  'PURCHASE_FEE_FIXED',
  'EXPIRY_FEE_GROSS',
  'EXPIRY_FEE',
  'SERVICING_FEE',
  'RETURN_FEE',
  'EXTRA_INVOICE_FEE',
  'PURCHASE_RETURN',
  'COMMISSION_RETURN',
  'REVERSAL',
  'FRAUD_POLICY_CHARGE',
  'COMMISSION_RETURN_GROSS',
  'FRAUD_POLICY_CREDIT_NET',
  'PURCHASE',
  'MANUAL_ENTRY',
  'LOAN_PAYOUT',
  'LOAN_AMORTISATION',
  'LOAN_FEE',
  'FEE_REFUND',
  'PURCHASE_COMMISSION_PERCENTAGE',
  'EXTEND_DUE_DATE_FEE',
  'TRANSFER_FROM_LEGACY_INTEGRATION',
  'FIXED_FEE_CORRECTION_UK',
  'PERCENTAGE_FEE_CORRECTION_UK',
  'VAT_ON_FEE_CORRECTION_UK',
  'FIXED_FEE_CORRECTION_SE',
  'PERCENTAGE_FEE_CORRECTION_SE',
  'PERCENTAGE_FEE_CORRECTION',
  'FIXED_FEE_CORRECTION',
  'ROLLING_RESERVE',
  'PERCENTAGE_FEES',
  'PAYMENT_REMINDER',
  'CORRECTION',
  'UNDER_REVIEW',
  'INSUFFICIENT_BANK_ACCOUNT_DETAILS',
  'DISPUTE_FEE',
  'DISPUTE_FEE_REFUND',
  'CORRECTION_DISPUTE',
  'PAYMENT_DEFAULT',
  // Documented in Klarna's settlement-report guide though absent from the OpenAPI enum.
  'CASH_ADVANCE_AMORTISATION',
  'CASH_ADVANCE_FEES',
  'CASH_ADVANCE_PAYOUT',
  'LIABILITY_TRANSFER',
] as const;

const known = new Set<string>(KNOWN_TRANSACTION_TYPES);
const knownDetailed = new Set<string>(KNOWN_DETAILED_TYPES);
export const isKnownTransactionType = (t: string): t is KnownTransactionType => known.has(t);
export const isKnownDetailedType = (t: string): boolean => knownDetailed.has(t);
/**
 * A detailed_type that is present but not on the known list. An empty string counts as
 * absent: Klarna sends "" for fields that do not apply (capture_id on a RETURN).
 */
export const isUnknownDetailedType = (t: string | null | undefined): t is string =>
  t != null && t !== '' && !knownDetailed.has(t);

/** Integer minor units; Klarna never sends fractions, and a fraction means a broken payload. */
const minor = z
  .number({ error: (iss) => `expected an amount in integer minor units, got ${describeInput(iss.input)}` })
  .int({ error: (iss) => `expected an amount in integer minor units, got ${describeInput(iss.input)}` })
  .refine(Number.isSafeInteger, { error: 'amount is beyond the safe integer range' });

function describeInput(input: unknown): string {
  if (input === undefined) return 'nothing';
  if (typeof input === 'string') return `the string ${JSON.stringify(input.slice(0, 40))}`;
  return JSON.stringify(input) ?? String(input);
}

export const TOTAL_FIELDS = [
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
  'opening_debt_balance_amount',
  'closing_debt_balance_amount',
  'settlement_amount',
] as const;
export type TotalField = (typeof TOTAL_FIELDS)[number];

export const PayoutTotalsSchema = z.looseObject(
  Object.fromEntries(TOTAL_FIELDS.map((f) => [f, minor.optional()])) as Record<
    TotalField,
    z.ZodOptional<typeof minor>
  >,
);
export type PayoutTotals = Partial<Record<TotalField, number>> & Record<string, unknown>;

export const PayoutSchema = z.looseObject({
  totals: PayoutTotalsSchema,
  payment_reference: z.string().min(1),
  payout_date: z.string().min(1),
  currency_code: z.string().length(3),
  currency_code_of_registration_country: z.string().optional(),
  merchant_settlement_type: z.string(),
  merchant_id: z.string().min(1),
  transactions: z.string().optional(),
});
export type KlarnaPayout = z.infer<typeof PayoutSchema>;

export const TransactionSchema = z.looseObject({
  amount: minor,
  type: z.string().min(1),
  detailed_type: z.string().nullish(),
  capture_id: z.string().nullish(),
  order_id: z.string().nullish(),
  short_order_id: z.string().nullish(),
  refund_id: z.string().nullish(),
  merchant_reference1: z.string().nullish(),
  merchant_reference2: z.string().nullish(),
  merchant_capture_reference: z.string().nullish(),
  merchant_refund_reference: z.string().nullish(),
  sale_date: z.string().nullish(),
  capture_date: z.string().nullish(),
  payment_reference: z.string().nullish(),
  currency_code: z.string().length(3),
  purchase_country: z.string().nullish(),
  shipping_country: z.string().nullish(),
  vat_rate: minor.nullish(),
  vat_amount: minor.nullish(),
  tax_in_currency_of_registration_country: minor.nullish(),
});
export type KlarnaTransaction = z.infer<typeof TransactionSchema>;

export const PaginationSchema = z.looseObject({
  count: z.number().int().nonnegative(),
  total: z.number().int().nonnegative().optional(),
  offset: z.number().int().nonnegative().optional(),
  next: z.string().optional(),
  prev: z.string().optional(),
});
export type Pagination = z.infer<typeof PaginationSchema>;

export const PayoutCollectionSchema = z.looseObject({
  payouts: z.array(z.unknown()),
  pagination: PaginationSchema,
});
export const TransactionCollectionSchema = z.looseObject({
  transactions: z.array(z.unknown()),
  pagination: PaginationSchema,
});

export const SUMMARY_TOTAL_FIELDS = [
  'summary_total_sale_amount',
  'summary_total_fee_amount',
  'summary_total_fee_correction_amount',
  'summary_total_tax_amount',
  'summary_total_return_amount',
  'summary_total_reversal_amount',
  'summary_total_commission_amount',
  'summary_total_holdback_amount',
  'summary_total_release_amount',
  'summary_total_repay_amount',
  'summary_total_settlement_amount',
] as const;

// The totals are documented as required, but older payloads lack newer totals, so a
// missing one is tolerated (undefined) while a present one must be integer minor units.
export const PayoutSummarySchema = z.looseObject({
  summary_settlement_currency: z.string(),
  summary_payout_date_start: z.string(),
  summary_payout_date_end: z.string(),
  ...(Object.fromEntries(SUMMARY_TOTAL_FIELDS.map((f) => [f, minor.optional()])) as Record<
    (typeof SUMMARY_TOTAL_FIELDS)[number],
    z.ZodOptional<typeof minor>
  >),
});
export type KlarnaPayoutSummary = z.infer<typeof PayoutSummarySchema>;

export const ErrorResponseSchema = z.looseObject({
  error_code: z.string(),
  error_messages: z.array(z.string()).optional(),
  correlation_id: z.string().optional(),
});

/** A payout as received: the typed view plus the untouched JSON, which keeps fields beyond the spec. */
export interface PayoutRecord {
  payout: KlarnaPayout;
  raw: Record<string, unknown>;
}

/**
 * A transaction as received. Types this version does not know are kept and flagged,
 * never dropped: dropping a line would make the payout look balanced when it is not.
 */
export interface TransactionRecord {
  transaction: KlarnaTransaction;
  raw: Record<string, unknown>;
  knownType: boolean;
  knownDetailedType: boolean;
}

export interface TransactionPage {
  records: TransactionRecord[];
  /** Offset of the first record of this page within the whole collection. */
  offset: number;
  /** What the server reported as the collection size, when it did. */
  total: number | undefined;
  /** 0-based page number. */
  index: number;
}

export interface PayoutPage {
  records: PayoutRecord[];
  offset: number;
  total: number | undefined;
  index: number;
}
