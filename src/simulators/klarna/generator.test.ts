import { describe, expect, it } from 'vitest';
import {
  benchmarkMerchantSpec,
  generateMerchant,
  type SimMerchant,
  settlementFromTotals,
  totalsFromTransactions,
} from './generator.ts';

const ALL_TYPES = [
  'SALE',
  'FEE',
  'RETURN',
  'REVERSAL',
  'REVERSAL_MERCHANT_PROTECTION',
  'FEE_REFUND',
  'CORRECTION',
  'COMMISSION',
  'CHARGE',
  'CREDIT',
  'HOLDBACK',
  'RELEASE',
];

function checkReconciles(m: SimMerchant): void {
  const debtByCurrency = new Map<string, number>();
  for (const { payout, transactions } of m.eachPayoutTransactions()) {
    const t = payout.totals;
    expect(transactions).toHaveLength(m.transactionCountFor(payout.payment_reference));
    expect(settlementFromTotals(t)).toBe(t.settlement_amount);
    expect(t.settlement_amount).toBeGreaterThanOrEqual(0);
    // Every total is a sum over the payout's own transactions.
    expect(totalsFromTransactions(transactions)).toEqual({
      sale_amount: t.sale_amount,
      return_amount: t.return_amount,
      reversal_amount: t.reversal_amount,
      fee_amount: t.fee_amount,
      tax_amount: t.tax_amount,
      fee_correction_amount: t.fee_correction_amount,
      fee_refund_amount: t.fee_refund_amount,
      tax_refund_amount: t.tax_refund_amount,
      commission_amount: t.commission_amount,
      charge_amount: t.charge_amount,
      credit_amount: t.credit_amount,
      holdback_amount: t.holdback_amount,
      release_amount: t.release_amount,
    });
    for (const [k, v] of Object.entries(t)) {
      expect(Number.isInteger(v), k).toBe(true);
      if (k !== 'fee_correction_amount') expect(v, k).toBeGreaterThanOrEqual(0);
    }
    expect(t.opening_debt_balance_amount).toBe(debtByCurrency.get(payout.currency_code) ?? 0);
    expect(t.closing_debt_balance_amount).toBe(
      t.opening_debt_balance_amount - t.repay_amount + t.deposit_amount,
    );
    debtByCurrency.set(payout.currency_code, t.closing_debt_balance_amount);
    for (const tx of transactions) {
      expect(tx.payment_reference).toBe(payout.payment_reference);
      expect(tx.currency_code).toBe(payout.currency_code);
      if (tx.type !== 'CORRECTION') expect(tx.amount).toBeGreaterThan(0);
    }
  }
}

describe('generateMerchant', () => {
  const merchant = generateMerchant();

  it('is deterministic for a seed and differs between seeds', () => {
    const again = generateMerchant();
    expect(again.payouts).toEqual(merchant.payouts);
    expect(again.credentials).toEqual(merchant.credentials);
    const ref = merchant.payouts[17]!.payment_reference;
    expect(again.transactionsFor(ref)).toEqual(merchant.transactionsFor(ref));
    const other = generateMerchant({ seed: 2 });
    expect(other.merchantId).not.toBe(merchant.merchantId);
    expect(other.payouts[0]!.payment_reference).not.toBe(merchant.payouts[0]!.payment_reference);
  });

  it('produces daily NET payouts with Klarna-shaped identifiers', () => {
    expect(merchant.payouts).toHaveLength(90);
    expect(merchant.merchantId).toMatch(/^K\d{6}$/);
    expect(merchant.credentials.apiKey).toMatch(/^klarna_test_api_[A-Za-z0-9]{40,}$/);
    expect(merchant.credentials.username).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
    const refs = new Set(merchant.payouts.map((p) => p.payment_reference));
    expect(refs.size).toBe(90);
    for (const p of merchant.payouts) {
      expect(p.payment_reference).toMatch(/^[A-Z0-9]{8}$/);
      expect(p.payout_date).toMatch(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$/);
      expect(p.merchant_settlement_type).toBe('NET');
      expect(p.currency_code).toBe('SEK');
    }
    expect(merchant.payouts[0]!.payout_date.slice(0, 10)).toBe('2026-01-01');
    expect(merchant.payouts[89]!.payout_date.slice(0, 10)).toBe('2026-03-31');
  });

  it('reconciles every payout: identity holds and totals are the sums of the transactions', () => {
    checkReconciles(merchant);
  });

  it('shows every transaction type over 90 days, with the documented line shapes', () => {
    const seen = new Map<string, number>();
    const countries = new Set<string>();
    for (const { transactions } of merchant.eachPayoutTransactions()) {
      for (const t of transactions) {
        seen.set(t.type, (seen.get(t.type) ?? 0) + 1);
        countries.add(t.purchase_country);
        if (t.type === 'SALE' || (t.type === 'FEE' && t.detailed_type.startsWith('PURCHASE_FEE'))) {
          expect(t.capture_id).toMatch(/^[0-9a-f-]{36}$/);
        }
        if (t.type === 'RETURN') {
          expect(t.detailed_type).toBe('PURCHASE_RETURN');
          expect(t.capture_id).toBe('');
          expect(t.refund_id).toMatch(/^[0-9a-f-]{36}$/);
        }
        if (t.type === 'FEE' || t.type === 'FEE_REFUND') {
          expect(t.vat_rate).toBe(2500);
          expect(t.vat_amount).toBe(Math.round(t.amount / 4));
        }
        if (t.type === 'HOLDBACK' || t.type === 'RELEASE') expect(t.detailed_type).toBe('ROLLING_RESERVE');
        if (t.type === 'CREDIT') expect(t.detailed_type).toBe('CORRECTION_DISPUTE');
      }
    }
    for (const type of ALL_TYPES) expect(seen.get(type), type).toBeGreaterThan(0);
    expect([...countries]).toEqual(expect.arrayContaining(['SE']));
    expect(countries.size).toBeGreaterThan(1);
  });

  it('pairs each FRAUD_POLICY_CHARGE with a FRAUD_POLICY_CREDIT_NET in the same payout', () => {
    for (const { transactions } of merchant.eachPayoutTransactions()) {
      const charges = transactions.filter((t) => t.detailed_type === 'FRAUD_POLICY_CHARGE');
      for (const c of charges) {
        const credit = transactions.find(
          (t) => t.type === 'REVERSAL_MERCHANT_PROTECTION' && t.order_id === c.order_id,
        );
        expect(credit?.detailed_type).toBe('FRAUD_POLICY_CREDIT_NET');
        expect(credit!.amount).toBeLessThan(c.amount);
      }
    }
  });

  it('turns a negative period into a deposit that later payouts repay', () => {
    const payouts = merchant.payouts;
    const negative = payouts.findIndex((p) => p.totals.deposit_amount > 0);
    expect(negative).toBeGreaterThan(0);
    const n = payouts[negative]!.totals;
    expect(n.settlement_amount).toBe(0);
    expect(n.closing_debt_balance_amount).toBe(n.opening_debt_balance_amount + n.deposit_amount);
    let debt = n.closing_debt_balance_amount;
    let i = negative + 1;
    let repaid = 0;
    for (; debt > 0 && i < payouts.length; i++) {
      const t = payouts[i]!.totals;
      expect(t.opening_debt_balance_amount).toBe(debt);
      repaid += t.repay_amount;
      debt = t.closing_debt_balance_amount;
    }
    expect(debt).toBe(0);
    expect(repaid).toBe(n.closing_debt_balance_amount);
    // The default shortfall is larger than one day's payout, so repayment spans payouts.
    expect(i - negative).toBeGreaterThan(2);
  });

  it('generates one payout stream per currency', () => {
    const m = generateMerchant({
      seed: 5,
      days: 20,
      currencies: ['SEK', 'EUR', 'NOK', 'DKK'],
      ordersPerPayout: 5,
    });
    expect(m.payouts).toHaveLength(80);
    for (const c of ['SEK', 'EUR', 'NOK', 'DKK']) {
      expect(m.payouts.filter((p) => p.currency_code === c)).toHaveLength(20);
    }
    const dates = m.payouts.map((p) => p.payout_date);
    expect([...dates].sort()).toEqual(dates);
    checkReconciles(m);
    const eurFee = m
      .transactionsFor(m.payouts.find((p) => p.currency_code === 'EUR')!.payment_reference)
      .find((t) => t.type === 'FEE')!;
    expect(eurFee.currency_code_of_registration_country).toBe('SEK');
    expect(eurFee.tax_in_currency_of_registration_country).toBeGreaterThan(eurFee.vat_amount!);
  });

  it('produces a payout with exactly the requested number of transactions (> 10,000)', () => {
    const m = generateMerchant({ seed: 3, days: 4, largePayouts: [{ index: 2, transactions: 12_345 }] });
    const big = m.payouts[2]!;
    expect(m.transactionCountFor(big.payment_reference)).toBe(12_345);
    expect(m.transactionsFor(big.payment_reference)).toHaveLength(12_345);
    checkReconciles(m);
  });

  it('sizes the benchmark at about a million transactions with one 50,000-line payout', () => {
    const m = generateMerchant(benchmarkMerchantSpec());
    expect(m.payouts).toHaveLength(365);
    expect(m.transactionCount).toBeGreaterThan(950_000);
    expect(m.transactionCount).toBeLessThan(1_050_000);
    const counts = m.payouts.map((p) => m.transactionCountFor(p.payment_reference));
    expect(counts.filter((c) => c === 50_000)).toHaveLength(1);
  });
});
