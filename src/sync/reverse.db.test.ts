import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type IntegrationFixture,
  openIntegrationFixture,
  runSyncInChild,
} from '../../test/support/integration-fixture.ts';
import { findBookingPayout, listIntents } from '../store/booking.repository.ts';
import { ReversalRefusedError, reversePayout } from './reverse.service.ts';
import { syncIntegration } from './sync.service.ts';
import { SyncRefusedError } from './sync-context.ts';
import { identifyVoucherText } from './voucher-marker.ts';

// Undoing a booking the only way Spiris allows: a reversing voucher, then the payout is
// booked again (generation 2) under the settings of the day. Each voucher stays
// identifiable, so a lost answer on any of them is settled by look-up, never by a repeat.

let f: IntegrationFixture;
beforeAll(async () => {
  f = await openIntegrationFixture({ merchant: { seed: 61, days: 5, startDate: '2026-03-01' } });
  await syncIntegration(f.deps(), { integrationId: f.integrationId });
});
afterAll(async () => {
  await f?.close();
});

const toMinor = (n: number | undefined) => Math.round((n ?? 0) * 100);
const ref = (i: number) => f.merchant.payouts[i]!.payment_reference;

describe(`reverse on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('posts the same rows on the other side, dated today, and opens the payout for generation 2', async () => {
    const before = (await findBookingPayout(f.store.db, f.integrationId, ref(0)))!;
    const r = await reversePayout(f.deps(), { integrationId: f.integrationId, paymentReference: ref(0) });
    expect(r.reversal).toMatchObject({ date: '2026-06-15' });
    expect(r.reversedVoucher.number).toBe(before.voucherNumber);

    const [original, reversal] = f.vouchersByReference().get(ref(0))!;
    expect(reversal!.VoucherDate.slice(0, 10)).toBe('2026-06-15');
    expect(reversal!.VoucherText).toBe(
      `Rättelse av verifikation ${before.voucherNumber} (Klarna ${ref(0)}), återför bokföringen av Klarnas utbetalning från 2026-03-01`,
    );
    expect(
      reversal!.Rows.map((x) => [x.AccountNumber, toMinor(x.DebitAmount), toMinor(x.CreditAmount)]),
    ).toEqual(original!.Rows.map((x) => [x.AccountNumber, toMinor(x.CreditAmount), toMinor(x.DebitAmount)]));
    expect(identifyVoucherText(reversal!.VoucherText, ref(0))).toEqual({ kind: 'reverse', generation: 1 });

    const after = (await findBookingPayout(f.store.db, f.integrationId, ref(0)))!;
    expect(after).toMatchObject({ state: 'ready', generation: 2, voucherNumber: null });
    expect(after.stateReason).toMatch(
      new RegExp(
        `Voucher ${before.voucherNumber} was reversed by voucher ${reversal!.NumberAndNumberSeries} on 2026-06-15`,
      ),
    );
  });

  it('the next sync books it again with its own marker and report; nothing else moves', async () => {
    const r = await syncIntegration(f.deps(), { integrationId: f.integrationId });
    expect(r.booked.map((b) => b.paymentReference)).toEqual([ref(0)]);
    const vouchers = f.vouchersByReference().get(ref(0))!;
    expect(vouchers.map((v) => identifyVoucherText(v.VoucherText, ref(0)))).toEqual([
      { kind: 'book', generation: 1 },
      { kind: 'reverse', generation: 1 },
      { kind: 'book', generation: 2 },
    ]);
    expect(vouchers[2]!.VoucherText.startsWith(`Klarna utbetalning ${ref(0)} omg. 2 2026-03-01, `)).toBe(
      true,
    );
    expect(vouchers[2]!.attachmentIds).toHaveLength(1);
    const p = (await findBookingPayout(f.store.db, f.integrationId, ref(0)))!;
    expect(p).toMatchObject({
      state: 'booked',
      generation: 2,
      voucherNumber: vouchers[2]!.NumberAndNumberSeries,
    });
    expect((await listIntents(f.store.db, p.id)).map((i) => [i.kind, i.generation, i.status])).toEqual([
      ['book', 1, 'done'],
      ['reverse', 1, 'done'],
      ['book', 2, 'done'],
    ]);
  });

  it('--rebook books it again at once; a lost answer on the reversal is found, not repeated', async () => {
    f.spiris.injectFault({ kind: 'lostResponse', method: 'POST', pathIncludes: '/v2/vouchers', times: 1 });
    const r = await reversePayout(f.deps(), {
      integrationId: f.integrationId,
      paymentReference: ref(1),
      rebook: true,
    });
    expect(r.reversal).not.toBeNull();
    expect(r.rebook?.booked.map((b) => b.paymentReference)).toEqual([ref(1)]);
    expect(
      f
        .vouchersByReference()
        .get(ref(1))!
        .map((v) => identifyVoucherText(v.VoucherText, ref(1))),
    ).toEqual([
      { kind: 'book', generation: 1 },
      { kind: 'reverse', generation: 1 },
      { kind: 'book', generation: 2 },
    ]);
  });

  it('refuses a day whose period is locked, and a payout that is not booked; nothing is posted', async () => {
    const count = f.spiris.vouchers.length;
    f.spiris.lockPeriod(undefined, '2026-06-30');
    const locked = reversePayout(f.deps(), { integrationId: f.integrationId, paymentReference: ref(2) });
    await expect(locked).rejects.toBeInstanceOf(ReversalRefusedError);
    await expect(locked).rejects.toThrow(
      /cannot be reversed on 2026-06-15; nothing was posted\.\nBookkeeping in Spiris is locked up to and including 2026-06-30.*Or give another date with --date/s,
    );
    expect((await findBookingPayout(f.store.db, f.integrationId, ref(2)))!.state).toBe('booked');
    // Another day, in the open period, is fine.
    const dated = await reversePayout(f.deps(), {
      integrationId: f.integrationId,
      paymentReference: ref(2),
      date: '2026-07-01',
    });
    expect(dated.reversal?.date).toBe('2026-07-01');
    f.spiris.lockPeriod(undefined, '2025-12-31');
    await expect(
      reversePayout(f.deps(), { integrationId: f.integrationId, paymentReference: ref(2) }),
    ).rejects.toThrow(SyncRefusedError);
    expect(f.spiris.vouchers).toHaveLength(count + 1);
  });

  it('a reversal killed after its POST is found by the next sync, then booked again once', async () => {
    const crashed = await runSyncInChild(f, {
      command: 'reverse',
      reference: ref(3),
      crashAt: 'voucher-posted',
    });
    expect(crashed.signal).toBe('SIGKILL');
    expect((await findBookingPayout(f.store.db, f.integrationId, ref(3)))!.state).toBe('reversing');
    const r = await syncIntegration(f.deps(), { integrationId: f.integrationId });
    expect(r.booked.map((b) => b.paymentReference).sort()).toEqual([ref(2), ref(3)].sort());
    for (const i of [2, 3]) {
      expect(
        f
          .vouchersByReference()
          .get(ref(i))!
          .map((v) => identifyVoucherText(v.VoucherText, ref(i))),
      ).toEqual([
        { kind: 'book', generation: 1 },
        { kind: 'reverse', generation: 1 },
        { kind: 'book', generation: 2 },
      ]);
    }
  });
});
