import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { findBookingPayout } from '../store/booking.repository.ts';
import { listEvents } from '../store/events.repository.ts';
import type { IntegrationSettingsInput } from './integration-settings.ts';
import { syncIntegration } from './sync.service.ts';

// Klarna adds detailed_type values now and then. A payout with one is booked by its
// transaction type as always, but the new value is stored and shown, never silently
// sorted; it holds a payout back only when the merchant's fee split would have to guess.

const NEW_KIND = 'INSTANT_PAYOUT_FEE';

let f: IntegrationFixture;
let target: string;

/** Klarna as it might answer after adding a fee kind: one payout's percentage fees renamed. */
const renamingFetch: typeof fetch = async (input, init) => {
  const res = await fetch(input, init);
  const url = new URL(String(input));
  if (!url.pathname.endsWith('/transactions') || url.searchParams.get('payment_reference') !== target) {
    return res;
  }
  const body = (await res.json()) as { transactions: Record<string, unknown>[] };
  for (const tx of body.transactions) {
    if (tx.type === 'FEE' && tx.detailed_type === 'PURCHASE_FEE_PERCENTAGE') tx.detailed_type = NEW_KIND;
  }
  return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
};

const sync = () =>
  syncIntegration(f.deps({ klarnaOptions: { ...f.deps().klarnaOptions, fetch: renamingFetch } }), {
    integrationId: f.integrationId,
  });

const splitSettings: IntegrationSettingsInput = {
  catchUpSince: '2026-03-01',
  mapping: { feeSplit: { enabled: true, other: '6990' } },
};

beforeAll(async () => {
  f = await openIntegrationFixture({
    merchant: { seed: 31, days: 4, startDate: '2026-03-01' },
    now: '2026-03-20T10:00:00Z',
    settings: splitSettings,
  });
  const p = f.merchant.payouts.find((x) =>
    f.merchant
      .transactionsFor(x.payment_reference)
      .some((t) => t.type === 'FEE' && t.detailed_type === 'PURCHASE_FEE_PERCENTAGE'),
  );
  target = p!.payment_reference;
});
afterAll(async () => {
  await f?.close();
});

describe(`an unknown detailed_type on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('is stored with the payout and, with fees split onto different accounts, holds it back with a reason', async () => {
    const result = await sync();
    expect(result.needsAttention.map((n) => n.paymentReference)).toEqual([target]);
    expect(result.booked).toHaveLength(f.merchant.payouts.length - 1);

    const p = (await findBookingPayout(f.store.db, f.integrationId, target))!;
    // Flagged, not a reconciliation failure: the line still counts toward fee_amount.
    expect(p).toMatchObject({ reconciled: true, unknownTypes: [], unknownDetailedTypes: [NEW_KIND] });
    expect(p.reconciliation!.warnings.join(' ')).toMatch(
      new RegExp(`${NEW_KIND} on \\d+ FEE line\\(s\\), Σ \\d+\\); they are kept`),
    );
    expect(p.stateReason).toMatch(
      new RegExp(
        `Payout ${target} has Klarna fees of a kind this integration does not know: ${NEW_KIND} \\([\\d\\s ]+,\\d\\d SEK\\)\\. .*the account would be a guess\\. What to do: .*turn off the fee split`,
      ),
    );
    expect(p.plan!.warnings.join(' ')).toMatch(
      new RegExp(`detailed type this integration does not know: ${NEW_KIND} \\(\\d+ FEE lines?, `),
    );
    expect(f.vouchersByReference().get(target)).toBeUndefined();
  });

  it('fee split turned off: the next sync books it, and the note stays on its events', async () => {
    await f.setSettings({ catchUpSince: '2026-03-01' });
    const result = await sync();
    expect(result.booked.map((b) => b.paymentReference)).toEqual([target]);
    expect(result.needsAttention).toEqual([]);

    const p = (await findBookingPayout(f.store.db, f.integrationId, target))!;
    expect(p.unknownDetailedTypes).toEqual([NEW_KIND]);
    const ready = (
      await listEvents(f.store.db, { integrationId: f.integrationId, kindPrefix: 'payout.ready' })
    )
      .filter((e) => e.message.includes(target))
      .at(0)!;
    expect(ready.message).toMatch(
      new RegExp(
        `is ready to book\\. Note: Klarna sent transaction lines with a detailed type .*${NEW_KIND}`,
      ),
    );
    expect((ready.data as { warnings: string[] }).warnings).toEqual([expect.stringContaining(NEW_KIND)]);

    // Booked on the one fee row, like any other fee.
    const [voucher] = f.vouchersByReference().get(target)!;
    const fees = voucher!.Rows.filter((r) => r.AccountNumber === 6064);
    expect(fees).toHaveLength(1);
  });
});
