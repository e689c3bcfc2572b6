import { afterEach, describe, expect, it } from 'vitest';
import {
  type IntegrationFixture,
  openIntegrationFixture,
  runSyncInChild,
} from '../../test/support/integration-fixture.ts';
import { findBookingPayout, getIntent, listBookingPayouts } from '../store/booking.repository.ts';
import { syncIntegration } from './sync.service.ts';

// Exactly once under faults: whatever happens between our database and Spiris (lost
// answers, server errors, a 429 storm, the process killed mid-post), the books end with
// one voucher per payout, none missing, and a retry of the attachment never re-posts
// the voucher.

let f: IntegrationFixture | undefined;
afterEach(async () => {
  await f?.close();
  f = undefined;
});

async function fixture(days = 6, seed = 41): Promise<IntegrationFixture> {
  f = await openIntegrationFixture({ merchant: { seed, days, startDate: '2026-03-01' } });
  return f;
}

const voucherPosts = (fx: IntegrationFixture) =>
  fx.spiris.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith('/v2/vouchers'));

/** What an accountant would check: one voucher per payout, each linked with its PDF, and nothing else. */
async function expectBooksExactlyOnce(fx: IntegrationFixture): Promise<void> {
  const byRef = fx.vouchersByReference();
  const stored = await listBookingPayouts(fx.store.db, { integrationId: fx.integrationId });
  expect(stored).toHaveLength(fx.merchant.payouts.length);
  for (const p of stored) {
    const vouchers = byRef.get(p.paymentReference) ?? [];
    expect(p.state, `${p.paymentReference}: ${p.stateReason}`).toBe('booked');
    expect(
      vouchers.map((v) => v.NumberAndNumberSeries),
      p.paymentReference,
    ).toEqual([p.voucherNumber]);
    expect(vouchers[0]!.Id).toBe(p.voucherId);
    expect(vouchers[0]!.attachmentIds, `${p.paymentReference} PDF`).toHaveLength(1);
    expect(p.attachmentState).toBe('attached');
  }
  expect(fx.spiris.vouchers).toHaveLength(stored.length);
}

describe(`exactly once on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('a response lost after Spiris saved the voucher: found by the look-up, not posted again', async () => {
    const fx = await fixture();
    fx.spiris.injectFault({ kind: 'lostResponse', method: 'POST', pathIncludes: '/v2/vouchers', times: 1 });
    const result = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(result.error).toBeNull();
    await expectBooksExactlyOnce(fx);
    // The lost one was not POSTed again: one POST per payout in all.
    expect(voucherPosts(fx)).toHaveLength(fx.merchant.payouts.length);
    const first = await findBookingPayout(
      fx.store.db,
      fx.integrationId,
      fx.merchant.payouts[0]!.payment_reference,
    );
    expect(await getIntent(fx.store.db, first!.id, 'book', 1)).toMatchObject({ status: 'done', attempts: 1 });
    // It was looked up by its date before anything else.
    const lookups = fx.spiris.requestLog.filter(
      (r) => r.method === 'GET' && decodeURIComponent(r.path.replace(/\+/g, ' ')).includes('VoucherDate eq '),
    );
    expect(lookups).toHaveLength(1);
  });

  it('a lost response whose look-up fails too stays in posting, and the next run settles it', async () => {
    const fx = await fixture();
    fx.spiris.injectFault({ kind: 'lostResponse', method: 'POST', pathIncludes: '/v2/vouchers', times: 1 });
    fx.spiris.injectFault({ kind: '503', method: 'GET', pathIncludes: '/v2/vouchers', times: 20 });
    const first = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    const ref = fx.merchant.payouts[0]!.payment_reference;
    expect(first.failed.map((x) => x.paymentReference)).toEqual([ref]);
    expect((await findBookingPayout(fx.store.db, fx.integrationId, ref))?.state).toBe('posting');
    expect(fx.vouchersByReference().get(ref)).toHaveLength(1);

    fx.spiris.clearFaults();
    const second = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(second.booked.map((b) => b.paymentReference)).toEqual([ref]);
    await expectBooksExactlyOnce(fx);
    expect(voucherPosts(fx)).toHaveLength(fx.merchant.payouts.length);
  });

  it('500s on POST: proven absent by look-up, then posted again until Spiris takes it', async () => {
    const fx = await fixture();
    fx.spiris.injectFault({ kind: '500', method: 'POST', pathIncludes: '/v2/vouchers', times: 2 });
    const result = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(result.error).toBeNull();
    await expectBooksExactlyOnce(fx);
    const first = await findBookingPayout(
      fx.store.db,
      fx.integrationId,
      fx.merchant.payouts[0]!.payment_reference,
    );
    expect(await getIntent(fx.store.db, first!.id, 'book', 1)).toMatchObject({ status: 'done', attempts: 3 });
  });

  it('a payout Spiris never confirms waits in needs_attention with a reason, and books on the next run', async () => {
    const fx = await fixture(3);
    fx.spiris.injectFault({ kind: '503', method: 'POST', pathIncludes: '/v2/vouchers', times: 3 });
    const first = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    const ref = fx.merchant.payouts[0]!.payment_reference;
    expect(first.needsAttention.map((n) => n.paymentReference)).toEqual([ref]);
    expect(first.needsAttention[0]!.reason).toMatch(
      /Spiris did not confirm the voucher .* 3 times in a row.*no voucher was created.*What to do: .*next sync tries again/,
    );
    expect(fx.vouchersByReference().get(ref)).toBeUndefined();
    const second = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(second.booked.map((b) => b.paymentReference)).toEqual([ref]);
    await expectBooksExactlyOnce(fx);
  });

  it('a 429 storm is waited out; one past the retries stops the run without booking twice', async () => {
    const fx = await fixture(4);
    fx.spiris.injectFault({ kind: '429', method: 'POST', pathIncludes: '/v2/vouchers', times: 3 });
    const calm = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(calm.error).toBeNull();
    expect(calm.booked).toHaveLength(fx.merchant.payouts.length);
    expect(voucherPosts(fx).filter((r) => r.status === 429)).toHaveLength(3);

    const storm = await openIntegrationFixture({ merchant: { seed: 42, days: 4, startDate: '2026-03-01' } });
    try {
      storm.spiris.injectFault({ kind: '429', method: 'POST', pathIncludes: '/v2/vouchers', times: 30 });
      const stopped = await syncIntegration(storm.deps(), { integrationId: storm.integrationId });
      expect(stopped.error).toMatch(/quota exceeded|rejected POST \/vouchers \(HTTP 429/);
      expect(storm.spiris.vouchers).toHaveLength(0);
      const states = (await listBookingPayouts(storm.store.db, { integrationId: storm.integrationId })).map(
        (p) => p.state,
      );
      expect(states.every((s) => s === 'ready')).toBe(true);
      storm.spiris.clearFaults();
      await syncIntegration(storm.deps(), { integrationId: storm.integrationId });
      await expectBooksExactlyOnce(storm);
    } finally {
      await storm.close();
    }
    await expectBooksExactlyOnce(fx);
  });

  it('a failed attachment is retried alone: the next run links it, the voucher is not touched', async () => {
    const fx = await fixture(4);
    fx.spiris.injectFault({ kind: '500', method: 'POST', pathIncludes: '/v2/attachmentlinks', times: 1 });
    fx.spiris.injectFault({ kind: '503', method: 'POST', pathIncludes: '/v2/attachments', times: 1 });
    const first = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(first.booked).toHaveLength(fx.merchant.payouts.length);
    expect(first.attachments).toEqual({ attached: fx.merchant.payouts.length - 2, failed: 2 });
    const pending = await listBookingPayouts(fx.store.db, {
      integrationId: fx.integrationId,
      attachmentState: 'pending',
    });
    expect(pending).toHaveLength(2);
    // The one whose link failed keeps its uploaded file; the other must upload again.
    expect(pending.filter((p) => p.attachmentId !== null)).toHaveLength(1);

    const uploadsBefore = fx.spiris.requestLog.filter(
      (r) => r.method === 'POST' && r.path === '/v2/attachments',
    ).length;
    const vouchersBefore = voucherPosts(fx).length;
    const second = await syncIntegration(fx.deps(), { integrationId: fx.integrationId });
    expect(second.booked).toEqual([]);
    expect(second.attachments).toEqual({ attached: 2, failed: 0 });
    expect(voucherPosts(fx)).toHaveLength(vouchersBefore);
    expect(
      fx.spiris.requestLog.filter((r) => r.method === 'POST' && r.path === '/v2/attachments').length,
    ).toBe(uploadsBefore + 1);
    await expectBooksExactlyOnce(fx);
  });
});

describe(`exactly once across SIGKILL on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('killed between the intent and the POST: the restart finds nothing, posts it once', async () => {
    const fx = await fixture(5);
    const crashed = await runSyncInChild(fx, { crashAt: 'intent-recorded', nth: 3 });
    expect(crashed.signal).toBe('SIGKILL');
    const victim = fx.merchant.payouts[2]!.payment_reference;
    expect((await findBookingPayout(fx.store.db, fx.integrationId, victim))?.state).toBe('posting');
    expect(fx.vouchersByReference().get(victim)).toBeUndefined();

    const restarted = await runSyncInChild(fx);
    expect(restarted.code, restarted.stderr).toBe(0);
    await expectBooksExactlyOnce(fx);
  });

  it('killed between the POST and its record: the restart finds the voucher, posts nothing', async () => {
    const fx = await fixture(5);
    const crashed = await runSyncInChild(fx, { crashAt: 'voucher-posted', nth: 2 });
    expect(crashed.signal).toBe('SIGKILL');
    const victim = fx.merchant.payouts[1]!.payment_reference;
    expect((await findBookingPayout(fx.store.db, fx.integrationId, victim))?.state).toBe('posting');
    expect(fx.vouchersByReference().get(victim)).toHaveLength(1);

    const restarted = await runSyncInChild(fx);
    expect(restarted.code, restarted.stderr).toBe(0);
    await expectBooksExactlyOnce(fx);
    expect(voucherPosts(fx)).toHaveLength(fx.merchant.payouts.length);
  });

  it('killed after uploading the report: the restart only links it', async () => {
    const fx = await fixture(3);
    const crashed = await runSyncInChild(fx, { crashAt: 'attachment-uploaded', nth: 1 });
    expect(crashed.signal).toBe('SIGKILL');
    const restarted = await runSyncInChild(fx);
    expect(restarted.code, restarted.stderr).toBe(0);
    await expectBooksExactlyOnce(fx);
    expect(
      fx.spiris.requestLog.filter((r) => r.method === 'POST' && r.path === '/v2/attachments'),
    ).toHaveLength(fx.merchant.payouts.length);
    expect(fx.spiris.attachments).toHaveLength(fx.merchant.payouts.length);
  });
});
