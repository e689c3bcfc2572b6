import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { listBookingPayouts } from '../store/booking.repository.ts';
import { listEvents } from '../store/events.repository.ts';
import { previewIntegration } from './preview.service.ts';
import { syncIntegration } from './sync.service.ts';

// The preview is what the go-live gate trusts: it must show exactly the vouchers a sync
// would post, and post nothing, whatever the mode.

let f: IntegrationFixture;
beforeAll(async () => {
  f = await openIntegrationFixture({ merchant: { seed: 71, days: 4, startDate: '2026-03-01' }, mode: 'off' });
});
afterAll(async () => {
  await f?.close();
});

describe(`preview on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('shows each voucher as a debit/credit table, posts nothing, records the go-live event', async () => {
    const p = await previewIntegration(f.deps(), { integrationId: f.integrationId });
    expect(p.counts).toEqual({ payouts: 4, ready: 4, blocking: 0, skip: 0 });
    expect(f.spiris.requestLog.filter((r) => r.method === 'POST')).toEqual([]);
    const first = p.payouts[0]!;
    const payout = f.merchant.payouts[0]!;
    expect(
      first.draft?.voucherText.startsWith(`Klarna utbetalning ${payout.payment_reference} 2026-03-01`),
    ).toBe(true);
    expect(first.table).toMatch(/^Verifikation 2026-03-01: Klarna utbetalning /);
    expect(first.table).toMatch(/Konto\s+Text\s+Debet\s+Kredit/);
    expect(first.table).toMatch(/1930\s+Klarna utbetalning \S+ \[Företagskonto\/checkkonto\/affärskonto\]/);
    expect(first.table).toMatch(/Summa\s+([\d ]+,\d\d)\s+\1$/m);
    // Nothing changed state: a preview decides nothing.
    const states = (await listBookingPayouts(f.store.db, { integrationId: f.integrationId })).map(
      (x) => x.state,
    );
    expect(new Set(states)).toEqual(new Set(['discovered']));
    const [event] = await listEvents(f.store.db, { integrationId: f.integrationId, kindPrefix: 'preview.' });
    expect(event).toMatchObject({ kind: 'preview.completed', data: { payouts: 4, ready: 4, blocking: 0 } });
  });

  it('counts what blocks, with the gate that blocks it', async () => {
    await f.setSettings({ mapping: { accounts: { fee_amount: '6065' } } });
    const p = await previewIntegration(f.deps(), { integrationId: f.integrationId });
    expect(p.counts).toMatchObject({ ready: 0, blocking: 4 });
    expect(p.payouts[0]!.failures.map((x) => x.code)).toEqual(['ACCOUNT_INACTIVE']);
    expect(p.payouts[0]!.table).not.toBeNull();
    const [event] = await listEvents(f.store.db, { integrationId: f.integrationId, kindPrefix: 'preview.' });
    expect(event?.data).toMatchObject({ payouts: 4, ready: 0, blocking: 4, fingerprint: expect.any(String) });
    await f.setSettings({});
  });

  it('sync --dry-run is the preview; the sync itself refuses while the integration is off', async () => {
    const dry = await syncIntegration(f.deps(), { integrationId: f.integrationId, dryRun: true });
    expect(dry.preview?.counts.ready).toBe(4);
    expect(dry.booked).toEqual([]);
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).rejects.toThrow(/is off/);
    expect(f.spiris.vouchers).toHaveLength(0);
  });
});
