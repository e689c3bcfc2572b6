import { describe, expect, it } from 'vitest';
import { KNOWN_TRANSACTION_TYPES } from '../klarna/klarna.types.ts';
import {
  BOOKED_TOTALS,
  BookingMappingSchema,
  bankAccountFor,
  DEFAULT_BOOKING_MAPPING,
  feeGroupOf,
  TOTAL_RULES,
  TRANSACTION_TYPE_TOTAL,
} from './mapping.ts';

describe('BookingMappingSchema', () => {
  it('defaults to the Swedish BAS mapping in clearing mode', () => {
    expect(DEFAULT_BOOKING_MAPPING).toEqual({
      postingMode: 'clearing',
      bankAccount: '1930',
      foreignBankAccounts: {},
      accounts: {
        sale_amount: '1580',
        return_amount: '1580',
        reversal_amount: '1580',
        fee_amount: '6064',
        tax_amount: '2640',
        fee_correction_amount: '6064',
        fee_refund_amount: '6064',
        tax_refund_amount: '2640',
        commission_amount: '3990',
        charge_amount: '6990',
        credit_amount: '3990',
        holdback_amount: '1689',
        release_amount: '1689',
        repay_amount: '2890',
        deposit_amount: '2890',
      },
      fxRoundingAccount: '3740',
      fxRoundingLimitMinor: 100,
      feeSplit: { enabled: false },
      cashMethod: { countries: { SE: { vatRatePercent: '25', revenueAccount: '3001', vatAccount: '2611' } } },
    });
  });

  it('takes partial settings and keeps the defaults for the rest', () => {
    const m = BookingMappingSchema.parse({
      accounts: { fee_amount: 6570 },
      foreignBankAccounts: { EUR: '1932' },
    });
    expect(m.accounts.fee_amount).toBe('6570');
    expect(m.accounts.tax_amount).toBe('2640');
    expect(bankAccountFor(m, 'EUR')).toBe('1932');
    expect(bankAccountFor(m, 'SEK')).toBe('1930');
    expect(bankAccountFor(m, 'NOK')).toBeUndefined();
  });

  it.each([
    [{ bankAccount: '0930' }, 'bankAccount'],
    [{ bankAccount: 'abc' }, 'bankAccount'],
    [{ accounts: { sale_amout: '1580' } }, 'accounts'],
    [{ foreignBankAccounts: { eur: '1932' } }, 'foreignBankAccounts'],
    [{ fxRoundingLimitMinor: 101 }, 'fxRoundingLimitMinor'],
    [
      {
        cashMethod: {
          countries: { SE: { vatRatePercent: '25 %', revenueAccount: '3001', vatAccount: '2611' } },
        },
      },
      'cashMethod',
    ],
    [{ postingMode: 'cash-basis' }, 'postingMode'],
    [{ unknownSetting: true }, ''],
  ])('rejects %j', (input, path) => {
    const result = BookingMappingSchema.safeParse(input);
    expect(result.success).toBe(false);
    expect(result.error?.issues[0]?.path.join('.') ?? '').toContain(path);
  });
});

describe('booking table', () => {
  it('has a rule for every booked total and a total for every known transaction type', () => {
    expect(Object.keys(TOTAL_RULES).sort()).toEqual([...BOOKED_TOTALS].sort());
    for (const type of KNOWN_TRANSACTION_TYPES) expect(BOOKED_TOTALS).toContain(TRANSACTION_TYPE_TOTAL[type]);
  });

  it('keeps every row text within Spiris’ 60 characters', () => {
    for (const rule of Object.values(TOTAL_RULES)) expect([...rule.text].length).toBeLessThanOrEqual(60);
  });

  it.each([
    ['PURCHASE_FEE_FIXED', 'fixed'],
    ['FIXED_FEE_CORRECTION_SE', 'fixed'],
    ['PURCHASE_FEE_PERCENTAGE', 'percentage'],
    ['PERCENTAGE_FEES', 'percentage'],
    ['SERVICING_FEE', 'other'],
    ['', 'other'],
  ])('fee detailed_type %j is in group %s', (detailedType, group) => {
    expect(feeGroupOf(detailedType)).toBe(group);
  });
});
