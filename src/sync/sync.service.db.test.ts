import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { stockholmDate } from '../booking/calendar.ts';
import { processRegistry } from '../service/metrics.ts';
import { listBookingPayouts, listIntents } from '../store/booking.repository.ts';
import { updateConnection } from '../store/connections.repository.ts';
import { listEvents } from '../store/events.repository.ts';
import { listSyncRuns } from '../store/sync-runs.repository.ts';
import { withSyncLease } from './lease.ts';
import { syncIntegration } from './sync.service.ts';
import { SyncRefusedError } from './sync-context.ts';

// A generated merchant's first quarter synced end to end through both simulators: what
// the merchant would check in Spiris afterwards is what is asserted.

let f: IntegrationFixture;

beforeAll(async () => {
  f = await openIntegrationFixture({ merchant: { seed: 11, days: 90, startDate: '2026-01-01' } });
});
afterAll(async () => {
  await f?.close();
});

/** A counter's value in the process metrics, summed over the series matching `labels`. */
async function counter(name: string, labels: Record<string, string>): Promise<number> {
  const metric = await processRegistry.getSingleMetric(name)?.get();
  return (metric?.values ?? [])
    .filter((v) => Object.entries(labels).every(([k, want]) => v.labels[k] === want))
    .reduce((sum, v) => sum + v.value, 0);
}

const toMinor = (amount: number | undefined) => Math.round((amount ?? 0) * 100);
const posts = (path: string) =>
  f.spiris.requestLog.filter((r) => r.method === 'POST' && r.path.startsWith(path));

describe(`sync on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('refuses an integration that is off, and says how to look before switching it on', async () => {
    await f.setMode('off');
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).rejects.toThrow(
      /is off, so nothing is booked\. Run `klarna-spiris preview`/,
    );
    expect(f.spiris.vouchers).toHaveLength(0);
    await f.setMode('test');
  });

  it('test mode against a production Spiris company is preview-only', async () => {
    const integration = await f.integration();
    await updateConnection(f.store.db, integration.spirisConnectionId!, { environment: 'production' });
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).rejects.toThrow(
      /Test mode against a production Spiris company is preview-only: nothing is posted until the integration goes live/,
    );
    await updateConnection(f.store.db, integration.spirisConnectionId!, { environment: 'sandbox' });
    expect(f.spiris.vouchers).toHaveLength(0);
  });

  it('books exactly one balanced voucher per payout, bank row = settlement, report attached', async () => {
    const spirisCallsBefore = await counter('klarna_spiris_upstream_requests_total', { upstream: 'spiris' });
    const result = await syncIntegration(f.deps(), { integrationId: f.integrationId });
    expect(result.error).toBeNull();
    expect(result.needsAttention).toEqual([]);
    expect(result.failed).toEqual([]);

    const payouts = f.merchant.payouts;
    const byRef = f.vouchersByReference();
    const zero = payouts.filter((p) => Object.values(p.totals).every((v) => v === 0));
    expect(result.booked.length + result.skipped.length).toBe(payouts.length);
    expect(result.skipped.map((s) => s.paymentReference).sort()).toEqual(
      zero.map((p) => p.payment_reference).sort(),
    );
    for (const p of payouts) {
      if (zero.includes(p)) continue;
      const vouchers = byRef.get(p.payment_reference) ?? [];
      expect(vouchers, p.payment_reference).toHaveLength(1);
      const v = vouchers[0]!;
      const debit = v.Rows.reduce((s, r) => s + toMinor(r.DebitAmount), 0);
      const credit = v.Rows.reduce((s, r) => s + toMinor(r.CreditAmount), 0);
      expect(debit, `${p.payment_reference} balances`).toBe(credit);
      const bank = v.Rows.filter((r) => r.AccountNumber === 1930);
      expect(bank.reduce((s, r) => s + toMinor(r.DebitAmount) - toMinor(r.CreditAmount), 0)).toBe(
        p.totals.settlement_amount,
      );
      expect(v.VoucherDate.slice(0, 10)).toBe(stockholmDate(p.payout_date));
      expect(v.VoucherText.startsWith(`Klarna utbetalning ${p.payment_reference} `)).toBe(true);
      expect(v.attachmentIds, `${p.payment_reference} has its PDF`).toHaveLength(1);
      const pdf = f.spiris.attachments.find((a) => a.id === v.attachmentIds[0]);
      expect(pdf).toMatchObject({ contentType: 'application/pdf', documentId: v.Id });
    }
    // A zero payout (returns ate the sales) still books its debt: there is no bank row then.
    expect(payouts.some((p) => p.totals.settlement_amount === 0 && !zero.includes(p))).toBe(true);

    // Voucher, attachment, link: three Spiris writes per booked payout and no more.
    expect(posts('/v2/vouchers')).toHaveLength(result.booked.length);
    expect(posts('/v2/attachments')).toHaveLength(result.booked.length);
    expect(posts('/v2/attachmentlinks')).toHaveLength(result.booked.length);

    const stored = await listBookingPayouts(f.store.db, { integrationId: f.integrationId });
    for (const p of stored.filter((s) => s.state === 'booked')) {
      const v = f.spiris.vouchers.find((x) => x.Id === p.voucherId)!;
      expect(p.voucherNumber).toBe(v.NumberAndNumberSeries);
      expect(p.attachmentState).toBe('attached');
      const intents = await listIntents(f.store.db, p.id);
      expect(intents).toMatchObject([{ kind: 'book', generation: 1, status: 'done', attempts: 1 }]);
    }
    const [run] = await listSyncRuns(f.store.db, { integrationId: f.integrationId });
    expect(run).toMatchObject({ status: 'succeeded', kind: 'sync' });
    const events = await listEvents(f.store.db, {
      integrationId: f.integrationId,
      kindPrefix: 'payout.booked',
    });
    expect(events).toHaveLength(result.booked.length);

    // What an operator scrapes at /metrics agrees with what happened.
    expect(await counter('klarna_spiris_payouts_booked_total', { integration_id: f.integrationId })).toBe(
      result.booked.length,
    );
    expect(
      (await counter('klarna_spiris_upstream_requests_total', { upstream: 'spiris' })) - spirisCallsBefore,
    ).toBeGreaterThanOrEqual(3 * result.booked.length);
    expect(await counter('klarna_spiris_upstream_requests_total', { upstream: 'klarna' })).toBeGreaterThan(0);
  });

  it('a re-run posts nothing and books nothing, fetching only the trailing window', async () => {
    const writesBefore = f.spiris.requestLog.filter((r) => r.method === 'POST').length;
    const vouchersBefore = f.spiris.vouchers.length;
    const result = await syncIntegration(f.deps(), { integrationId: f.integrationId });
    expect(result.booked).toEqual([]);
    expect(result.needsAttention).toEqual([]);
    expect(f.spiris.vouchers).toHaveLength(vouchersBefore);
    expect(f.spiris.requestLog.filter((r) => r.method === 'POST').length).toBe(writesBefore);
    // Overlaps the last run by the window, instead of starting over from the catch-up day.
    expect(result.window).toEqual({ since: '2026-06-01', until: '2026-06-15' });
  });

  it('a payout Klarna changes after it was booked is flagged, not booked again', async () => {
    const last = f.merchant.payouts[f.merchant.payouts.length - 1]!;
    const changing: typeof fetch = async (input, init) => {
      const res = await fetch(input, init);
      if (!new URL(String(input)).pathname.endsWith('/payouts')) return res;
      const body = (await res.json()) as { payouts: Array<Record<string, unknown>> };
      for (const p of body.payouts)
        if (p.payment_reference === last.payment_reference) p.klarna_note = 'corrected';
      return new Response(JSON.stringify(body), { status: res.status, headers: res.headers });
    };
    const vouchers = f.spiris.vouchers.length;
    const r = await syncIntegration(
      f.deps({ klarnaOptions: { ...f.deps().klarnaOptions, fetch: changing } }),
      {
        integrationId: f.integrationId,
        since: '2026-03-25',
      },
    );
    expect(r.import?.payoutsChanged).toBe(1);
    expect(r.booked).toEqual([]);
    expect(f.spiris.vouchers).toHaveLength(vouchers);
    const [p] = await listBookingPayouts(f.store.db, {
      integrationId: f.integrationId,
      since: stockholmDate(last.payout_date)!,
    });
    expect(p).toMatchObject({ paymentReference: last.payment_reference, state: 'booked' });
    expect(p!.stateReason).toMatch(
      /Klarna changed payout \S+ after it was booked as voucher A\d+\. What to do: .*`klarna-spiris reverse \S+ --rebook`/,
    );
    const events = await listEvents(f.store.db, {
      integrationId: f.integrationId,
      kindPrefix: 'payout.changed',
    });
    expect(events).toHaveLength(1);
  });

  it('never runs two syncs of one integration at once', async () => {
    const integration = await f.integration();
    await withSyncLease(f.deps(), integration, 'sync', async () => {
      const second = syncIntegration(f.deps(), { integrationId: f.integrationId });
      await expect(second).rejects.toBeInstanceOf(SyncRefusedError);
      await expect(second).rejects.toThrow(/already running since .*only one sync per integration/);
    });
    // Given back afterwards: the next one runs.
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).resolves.toMatchObject({
      error: null,
    });
  });

  // Last on purpose: it leaves the integration paused.
  it('a revoked Klarna key pauses the integration with the fix, and nothing is posted while paused', async () => {
    const vouchersBefore = f.spiris.vouchers.length;
    f.klarna.revokeKey(f.merchant.credentials.apiKey);
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).rejects.toThrow();
    const paused = await f.integration();
    expect(paused.status).toBe('paused');
    expect(paused.statusReason).toMatch(
      /key revoked or disabled: create a new one in the Merchant Portal under Settings → API credentials/,
    );
    await expect(syncIntegration(f.deps(), { integrationId: f.integrationId })).rejects.toThrow(/paused/i);
    expect(f.spiris.vouchers).toHaveLength(vouchersBefore);
  });
});
