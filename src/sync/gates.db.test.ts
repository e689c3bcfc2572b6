import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { stockholmDate } from '../booking/calendar.ts';
import { findBookingPayout } from '../store/booking.repository.ts';
import type { IntegrationSettingsInput } from './integration-settings.ts';
import { syncIntegration } from './sync.service.ts';

// Every gate's message reaches the payout, in words the merchant can act on, and once
// the cause is gone the payout is booked by the next ordinary sync: nobody has to poke it.

let f: IntegrationFixture;
/** Klarna's data as a broken upstream would send it: rewrites lines of chosen payouts. */
const tamper = new Map<string, (tx: Record<string, unknown>, i: number) => void>();

const tamperingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(String(input));
  const ref = url.searchParams.get('payment_reference');
  const rewrite = ref ? tamper.get(ref) : undefined;
  if (!url.pathname.endsWith('/transactions') || !rewrite) return res;
  const body = (await res.json()) as { transactions: Record<string, unknown>[] };
  body.transactions.forEach(rewrite);
  return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
};

const RATE_TABLE_JANUARY = 'currency,date,rate\nEUR,2026-01-02,11.2000\n';
const baseSettings: IntegrationSettingsInput = {
  catchUpSince: '2026-03-01',
  mapping: { foreignBankAccounts: { EUR: '1932' } },
  rateSource: { kind: 'table', table: RATE_TABLE_JANUARY },
};

beforeAll(async () => {
  f = await openIntegrationFixture({
    merchant: { seed: 23, days: 10, startDate: '2026-03-01', currencies: ['SEK', 'EUR'] },
    now: '2026-03-20T10:00:00Z',
    settings: baseSettings,
  });
});
afterAll(async () => {
  await f?.close();
});

const sync = () =>
  syncIntegration(f.deps({ klarnaOptions: { ...f.deps().klarnaOptions, fetch: tamperingFetch } }), {
    integrationId: f.integrationId,
  });
const payout = (ref: string) => findBookingPayout(f.store.db, f.integrationId, ref);
const sek = () => f.merchant.payouts.filter((p) => p.currency_code === 'SEK');
const eur = () => f.merchant.payouts.filter((p) => p.currency_code === 'EUR');

describe(`gates on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  // SEK payouts on 03-01 and 03-02 fall in the locked period; 03-07 gets a line of a type
  // nobody knows; 03-09 a line whose amount does not add up; EUR ones have no rate yet;
  // and the fee account is an inactive one.
  const locked = () => sek().filter((p) => stockholmDate(p.payout_date)! <= '2026-03-02');
  const unknownType = () => sek().find((p) => stockholmDate(p.payout_date) === '2026-03-07')!;
  const unreconciled = () => sek().find((p) => stockholmDate(p.payout_date) === '2026-03-09')!;
  const plain = () =>
    sek().filter((p) => !locked().includes(p) && p !== unknownType() && p !== unreconciled());

  it('puts each gate failure on its payout, as message and what to do', async () => {
    f.spiris.lockPeriod(undefined, '2026-03-02');
    await f.setSettings({
      ...baseSettings,
      mapping: { ...baseSettings.mapping, accounts: { fee_amount: '6065' } },
    });
    tamper.set(unknownType().payment_reference, (tx, i) => {
      if (i === 0) tx.type = 'INSTALMENT_INTEREST';
    });
    tamper.set(unreconciled().payment_reference, (tx, i) => {
      if (i === 0) tx.amount = (tx.amount as number) + 100;
    });

    const result = await sync();
    expect(result.booked).toEqual([]);
    expect(result.needsAttention).toHaveLength(f.merchant.payouts.length);

    for (const p of f.merchant.payouts) {
      const reason = (await payout(p.payment_reference))!.stateReason!;
      expect(reason, p.payment_reference).toMatch(
        /Account 6065 Gammalt konto \(Klarna avgifter\) is inactive in fiscal year 2026-01-01–2026-12-31\. What to do: Activate account 6065 in Spiris, or choose another account/,
      );
    }
    for (const p of locked()) {
      expect((await payout(p.payment_reference))!.stateReason).toMatch(
        /Bookkeeping in Spiris is locked up to and including 2026-03-02, and payout \S+ is dated 2026-03-0[12]\. What to do: Move the lock date in Spiris back/,
      );
    }
    expect((await payout(unknownType().payment_reference))!.stateReason).toMatch(
      /contains Klarna transaction types this integration does not know how to book: INSTALMENT_INTEREST\. Guessing could put money on the wrong account\. What to do: Update klarna-spiris/,
    );
    expect((await payout(unreconciled().payment_reference))!.stateReason).toMatch(
      /Klarna's totals for payout \S+ do not match its transactions: sale_amount: expected \d+, transactions give \d+ \(difference -?100\).* What to do: Wait for the next sync/,
    );
    for (const p of eur()) {
      expect((await payout(p.payment_reference))!.stateReason).toMatch(
        /is in EUR and no usable SEK rate for EUR on or before 2026-03-\d\d was found .* Amounts in EUR are never booked as if they were SEK\. What to do:/,
      );
    }
    expect(f.spiris.vouchers).toHaveLength(0);
  });

  it('mapping fixed: the payouts with no other problem book by themselves', async () => {
    await f.setSettings(baseSettings);
    const result = await sync();
    expect(result.booked.map((b) => b.paymentReference).sort()).toEqual(
      plain()
        .map((p) => p.payment_reference)
        .sort(),
    );
    for (const p of locked()) expect((await payout(p.payment_reference))!.state).toBe('needs_attention');
  });

  it('period unlocked: the locked ones book', async () => {
    f.spiris.lockPeriod(undefined, '2025-12-31');
    const result = await sync();
    expect(result.booked.map((b) => b.paymentReference).sort()).toEqual(
      locked()
        .map((p) => p.payment_reference)
        .sort(),
    );
  });

  it('rate found: the EUR payouts book in SEK, with the rate on the voucher', async () => {
    const march = Array.from(
      { length: 10 },
      (_, i) => `EUR,2026-03-${String(i + 1).padStart(2, '0')},11.0${i}00`,
    );
    await f.setSettings({
      ...baseSettings,
      rateSource: { kind: 'table', table: `${RATE_TABLE_JANUARY}${march.join('\n')}\n` },
    });
    const result = await sync();
    expect(result.booked.map((b) => b.paymentReference).sort()).toEqual(
      eur()
        .map((p) => p.payment_reference)
        .sort(),
    );
    const p = eur()[2]!;
    const v = f.vouchersByReference().get(p.payment_reference)![0]!;
    expect(v.VoucherText).toMatch(
      /omräknat till SEK med kurs 11,02 SEK\/EUR per 2026-03-03 \(egen kurstabell\)/,
    );
    expect(v.Rows.some((r) => r.AccountNumber === 1932)).toBe(true);
  });

  it('Klarna sends correct lines again: the refetched payouts reconcile and book', async () => {
    tamper.clear();
    const result = await sync();
    expect(result.booked.map((b) => b.paymentReference).sort()).toEqual(
      [unknownType().payment_reference, unreconciled().payment_reference].sort(),
    );
    expect(result.needsAttention).toEqual([]);
    expect(f.spiris.vouchers).toHaveLength(f.merchant.payouts.length);
  });
});

describe(`fiscal-year gates on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('a closed year and a missing year say so, and nothing is posted', async () => {
    const closed = await openIntegrationFixture({
      merchant: { seed: 5, days: 2, startDate: '2026-03-01' },
      spiris: { today: '2027-06-15' },
      now: '2026-03-10T10:00:00Z',
    });
    const missing = await openIntegrationFixture({
      merchant: { seed: 6, days: 2, startDate: '2026-03-01' },
      spiris: { today: '2028-06-15' },
      now: '2026-03-10T10:00:00Z',
    });
    try {
      const a = await syncIntegration(closed.deps(), { integrationId: closed.integrationId });
      expect(a.needsAttention).toHaveLength(2);
      expect(a.needsAttention[0]!.reason).toMatch(
        /belongs to fiscal year 2026-01-01–2026-12-31, which is locked for bookkeeping in Spiris\. What to do: If the year may still be changed, unlock it/,
      );
      const b = await syncIntegration(missing.deps(), { integrationId: missing.integrationId });
      expect(b.needsAttention).toHaveLength(2);
      expect(b.needsAttention[0]!.reason).toMatch(
        /There is no fiscal year in Spiris that contains 2026-03-01, the date of payout \S+\. What to do: Create the fiscal year/,
      );
      expect(closed.spiris.vouchers).toHaveLength(0);
      expect(missing.spiris.vouchers).toHaveLength(0);
    } finally {
      await Promise.all([closed.close(), missing.close()]);
    }
  });

  it('a lock Spiris knows but the planner could not see is refused by Spiris, explained, and retried', async () => {
    // Without the sales scope the lock date cannot be read; Spiris' own 4026 then tells.
    const fx = await openIntegrationFixture({
      merchant: { seed: 8, days: 2, startDate: '2026-03-01' },
      now: '2026-03-10T10:00:00Z',
    });
    try {
      fx.spiris.lockPeriod(undefined, '2026-03-31');
      const blind = fx.deps({
        spirisOptions: {
          ...fx.deps().spirisOptions,
          fetch: async (input, init) =>
            String(input).includes('/companysettings')
              ? new Response(JSON.stringify({ ErrorCode: 4006, DeveloperErrorMessage: 'scope' }), {
                  status: 403,
                  headers: { 'content-type': 'application/json' },
                })
              : fetch(input, init),
        },
      });
      const r = await syncIntegration(blind, { integrationId: fx.integrationId });
      expect(r.needsAttention).toHaveLength(2);
      expect(r.needsAttention[0]!.reason).toMatch(
        /Spiris refused the voucher \(error 4026 VoucherDateIsInLockedPeriod\): The voucher date falls in a bookkeeping period that is locked in Spiris\..*Nothing was booked\. What to do: Unlock the period in Spiris/,
      );
      fx.spiris.lockPeriod(undefined, '2025-12-31');
      const again = await syncIntegration(blind, { integrationId: fx.integrationId });
      expect(again.booked).toHaveLength(2);
      expect(fx.spiris.vouchers).toHaveLength(2);
    } finally {
      await fx.close();
    }
  });
});
