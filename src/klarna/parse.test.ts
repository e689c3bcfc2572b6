import { describe, expect, it } from 'vitest';
import { TransactionSchema } from './klarna.types.ts';
import { malformed, parseTransaction, TRANSACTION_FIELD_CHECKS } from './parse.ts';

// parseTransaction checks lines by hand before it would ask zod; zod stays the
// reference. These tests hold the two to the same verdicts, data and messages.

const line = {
  amount: 40900,
  type: 'SALE',
  detailed_type: 'PURCHASE',
  capture_id: 'b3a4a8fc-06f6-47dd-8026-1ceaacb27cec',
  order_id: '77a87bff-ca13-434c-99ba-c5cf45e2dbb2',
  short_order_id: '464XS2W',
  merchant_reference1: '100052',
  sale_date: '2025-12-31T22:46:42Z',
  capture_date: '2026-01-01T02:57:51Z',
  payment_reference: 'EVH8N8SG',
  payout: 'https://api.playground.klarna.com/settlements/v1/payouts/EVH8N8SG',
  currency_code: 'SEK',
  purchase_country: 'FI',
  shipping_country: 'FI',
  vat_rate: 2500,
  vat_amount: 0,
  initial_payment_method_type: 'invoice',
};

const VALUES: unknown[] = [
  undefined,
  null,
  '',
  'SE',
  'SEK',
  'EURO',
  0,
  -125,
  12.5,
  2 ** 53,
  -(2 ** 53),
  Number.NaN,
  '100',
  true,
  {},
  [],
];

function zodVerdict(raw: unknown): { data?: unknown; message?: string } {
  const parsed = TransactionSchema.safeParse(raw);
  return parsed.success ? { data: parsed.data } : { message: malformed('line', parsed.error).message };
}

function fastVerdict(raw: unknown): { data?: unknown; message?: string } {
  try {
    return { data: parseTransaction(raw, 'line').transaction };
  } catch (err) {
    return { message: (err as Error).message };
  }
}

describe('parseTransaction', () => {
  it('checks every field of the schema, each the way the schema does', () => {
    const checked = Object.values(TRANSACTION_FIELD_CHECKS).flat().sort();
    expect(checked).toEqual(Object.keys(TransactionSchema.shape).sort());
  });

  it('agrees with zod on every field set to every kind of value', () => {
    let accepted = 0;
    let refused = 0;
    for (const field of [...Object.keys(TransactionSchema.shape), 'unknown_field']) {
      for (const value of VALUES) {
        const raw: Record<string, unknown> = { ...line, [field]: value };
        if (value === undefined) delete raw[field];
        const expected = zodVerdict(raw);
        expect(fastVerdict(raw), `${field} = ${String(value)}`).toEqual(expected);
        if (expected.data) accepted += 1;
        else refused += 1;
      }
    }
    // Both sides of the comparison were exercised.
    expect(accepted).toBeGreaterThan(100);
    expect(refused).toBeGreaterThan(100);
  });

  it('agrees with zod on lines that are not objects, and on several faults at once', () => {
    for (const raw of [
      null,
      undefined,
      [],
      [line],
      'SALE',
      42,
      { amount: '1', type: '', currency_code: 'SE' },
    ]) {
      expect(fastVerdict(raw)).toEqual(zodVerdict(raw));
    }
  });

  it('keeps fields beyond the schema, and flags unknown types', () => {
    const record = parseTransaction({ ...line, type: 'INTEREST', detailed_type: 'NEW', extra: { a: [1] } });
    expect(record.raw.extra).toEqual({ a: [1] });
    expect(record.transaction).toMatchObject({ type: 'INTEREST', extra: { a: [1] } });
    expect(record).toMatchObject({ knownType: false, knownDetailedType: false });
  });
});
