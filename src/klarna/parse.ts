import type { z } from 'zod';
import { KlarnaResponseError } from './klarna.errors.ts';
import {
  isKnownTransactionType,
  isUnknownDetailedType,
  type KlarnaPayoutSummary,
  type KlarnaTransaction,
  type PayoutRecord,
  PayoutSchema,
  PayoutSummarySchema,
  type TransactionRecord,
  TransactionSchema,
} from './klarna.types.ts';

// Turning Klarna JSON into typed records. Every failure names the field and where in
// the answer it sits, so a schema drift can be reported to Klarna or fixed here quickly.

export function parsePayout(raw: unknown, where = 'payout'): PayoutRecord {
  const parsed = PayoutSchema.safeParse(raw);
  if (!parsed.success) throw malformed(where, parsed.error);
  return { payout: parsed.data, raw: raw as Record<string, unknown> };
}

/**
 * The fields of TransactionSchema by the check they get on the fast path below; a test
 * holds these lists to the schema, so a field added there cannot be skipped here.
 */
export const TRANSACTION_FIELD_CHECKS = {
  minor: ['amount'],
  nonEmptyString: ['type'],
  currencyCode: ['currency_code'],
  nullishString: [
    'detailed_type',
    'capture_id',
    'order_id',
    'short_order_id',
    'refund_id',
    'merchant_reference1',
    'merchant_reference2',
    'merchant_capture_reference',
    'merchant_refund_reference',
    'sale_date',
    'capture_date',
    'payment_reference',
    'purchase_country',
    'shipping_country',
  ],
  nullishMinor: ['vat_rate', 'vat_amount', 'tax_in_currency_of_registration_country'],
} as const;

const NULLISH_STRINGS: readonly string[] = TRANSACTION_FIELD_CHECKS.nullishString;
const NULLISH_MINORS: readonly string[] = TRANSACTION_FIELD_CHECKS.nullishMinor;

/**
 * Whether zod would accept the line, checked by hand: zod takes about as long per line
 * as JSON.parse itself, parseTransaction with this about a quarter of that. It answers
 * only yes or no; any no goes through zod, so which lines are refused, and what the
 * error says, stays zod's.
 */
function isValidTransaction(raw: unknown): raw is KlarnaTransaction {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) return false;
  const t = raw as Record<string, unknown>;
  // Number.isSafeInteger is false for non-numbers, fractions, NaN and infinities alike.
  if (!Number.isSafeInteger(t.amount)) return false;
  const type = t.type;
  if (typeof type !== 'string' || type.length === 0) return false;
  const currency = t.currency_code;
  if (typeof currency !== 'string' || currency.length !== 3) return false;
  for (const f of NULLISH_STRINGS) {
    const v = t[f];
    if (v !== null && v !== undefined && typeof v !== 'string') return false;
  }
  for (const f of NULLISH_MINORS) {
    const v = t[f];
    if (v !== null && v !== undefined && !Number.isSafeInteger(v)) return false;
  }
  return true;
}

export function parseTransaction(raw: unknown, where = 'transaction'): TransactionRecord {
  let t: KlarnaTransaction;
  if (isValidTransaction(raw)) {
    // zod's output for an accepted loose object is a copy with the same fields and values.
    t = raw;
  } else {
    const parsed = TransactionSchema.safeParse(raw);
    if (!parsed.success) throw malformed(where, parsed.error);
    t = parsed.data;
  }
  return {
    transaction: t,
    raw: raw as Record<string, unknown>,
    knownType: isKnownTransactionType(t.type),
    knownDetailedType: !isUnknownDetailedType(t.detailed_type),
  };
}

export function parsePayoutSummary(
  raw: unknown,
  where = 'summary',
): { summary: KlarnaPayoutSummary; raw: Record<string, unknown> } {
  const parsed = PayoutSummarySchema.safeParse(raw);
  if (!parsed.success) throw malformed(where, parsed.error);
  return { summary: parsed.data, raw: raw as Record<string, unknown> };
}

export function malformed(where: string, error: z.ZodError, request?: string): KlarnaResponseError {
  const issues = error.issues.slice(0, 5).map((i) => `${where}${formatPath(i.path)}: ${i.message}`);
  const more = error.issues.length > 5 ? ` (and ${error.issues.length - 5} more)` : '';
  return new KlarnaResponseError(
    `Klarna sent data this version cannot use${request ? ` on ${request}` : ''}: ${issues.join('; ')}${more}.`,
    request ? { request } : {},
  );
}

function formatPath(path: readonly PropertyKey[]): string {
  return path.map((p) => (typeof p === 'number' ? `[${p}]` : `.${String(p)}`)).join('');
}
