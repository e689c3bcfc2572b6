import type { PayoutTotals } from '../klarna/klarna.types.ts';
import type { Chart, ChartAccount, FiscalYear } from './gates.ts';
import { type BookingMappingInput, BookingMappingSchema } from './mapping.ts';
import type { PlanVoucherInput } from './voucher.ts';

/** Builders shared by the booking tests: a payout, chart and mapping that pass every gate. */

export const FY_2026: FiscalYear = {
  id: 'fy-2026',
  startDate: '2026-01-01T00:00:00',
  endDate: '2026-12-31T00:00:00',
  isClosed: false,
  bookkeepingMethod: 0,
};

export const BAS_ACCOUNTS: ChartAccount[] = [
  ['1580', 'Fordringar för kontokort och kuponger'],
  ['1689', 'Övriga kortfristiga fordringar'],
  ['1930', 'Företagskonto'],
  ['1932', 'Valutakonto EUR'],
  ['2611', 'Utgående moms på försäljning inom Sverige, 25 %'],
  ['2640', 'Ingående moms'],
  ['2670', 'Utgående moms på försäljning av varor och tjänster via OSS'],
  ['2890', 'Övriga kortfristiga skulder'],
  ['3001', 'Försäljning inom Sverige, 25 % moms'],
  ['3106', 'Försäljning varor till annat EU-land, momspliktig'],
  ['3740', 'Öres- och kronutjämning'],
  ['3990', 'Övriga ersättningar och intäkter'],
  ['6064', 'Factoringavgifter'],
  ['6990', 'Övriga externa kostnader'],
].map(([number, name]) => ({ number: number!, name: name!, isActive: true }));

export function chartWith(overrides: Partial<Chart> & { accountList?: ChartAccount[] } = {}): Chart {
  const accountList = overrides.accountList ?? BAS_ACCOUNTS;
  return {
    fiscalYears: overrides.fiscalYears ?? [FY_2026],
    accounts: overrides.accounts ?? ((id) => (id === FY_2026.id ? accountList : undefined)),
    lockedThrough: overrides.lockedThrough ?? null,
  };
}

/** Totals made consistent: settlement_amount is computed by Klarna's identity. */
export function withSettlement(totals: PayoutTotals): PayoutTotals {
  const v = (k: string) => (typeof totals[k] === 'number' ? (totals[k] as number) : 0);
  const settlement =
    v('sale_amount') -
    v('return_amount') -
    v('reversal_amount') -
    v('fee_amount') -
    v('tax_amount') +
    v('fee_correction_amount') +
    v('commission_amount') -
    v('charge_amount') +
    v('credit_amount') -
    v('repay_amount') -
    v('holdback_amount') +
    v('release_amount') +
    v('fee_refund_amount') +
    v('tax_refund_amount') +
    v('deposit_amount');
  return { ...totals, settlement_amount: settlement };
}

export interface PlanOverrides {
  paymentReference?: string;
  payoutDate?: string;
  currencyCode?: string;
  merchantId?: string;
  totals?: PayoutTotals;
  facts?: Partial<PlanVoucherInput['facts']>;
  reconciliation?: PlanVoucherInput['reconciliation'];
  mapping?: BookingMappingInput;
  chart?: Chart;
  rate?: PlanVoucherInput['rate'];
}

export function planInput(o: PlanOverrides = {}): PlanVoucherInput {
  return {
    payout: {
      paymentReference: o.paymentReference ?? 'XISA93DJ',
      payoutDate: o.payoutDate ?? '2026-03-12T07:52:26Z',
      currencyCode: o.currencyCode ?? 'SEK',
      merchantId: o.merchantId ?? 'K123456',
      totals: o.totals ?? withSettlement({ sale_amount: 1_000_000, fee_amount: 23_000, tax_amount: 5_750 }),
    },
    facts: { typesSeen: ['SALE', 'FEE'], ...o.facts },
    reconciliation: o.reconciliation ?? { ok: true, summary: 'totals match the transactions' },
    mapping: BookingMappingSchema.parse(o.mapping ?? {}),
    chart: o.chart ?? chartWith(),
    ...(o.rate !== undefined ? { rate: o.rate } : {}),
  };
}

/** mulberry32: a tiny seeded PRNG, so a failing generated case can be replayed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
