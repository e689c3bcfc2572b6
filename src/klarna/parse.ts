import type { z } from 'zod';
import { KlarnaResponseError } from './klarna.errors.ts';
import {
  isKnownDetailedType,
  isKnownTransactionType,
  type KlarnaPayoutSummary,
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

export function parseTransaction(raw: unknown, where = 'transaction'): TransactionRecord {
  const parsed = TransactionSchema.safeParse(raw);
  if (!parsed.success) throw malformed(where, parsed.error);
  const t = parsed.data;
  return {
    transaction: t,
    raw: raw as Record<string, unknown>,
    knownType: isKnownTransactionType(t.type),
    knownDetailedType: t.detailed_type == null || isKnownDetailedType(t.detailed_type),
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
