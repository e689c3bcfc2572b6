import { stockholmDate } from '../booking/calendar.ts';
import type { GateFailure } from '../booking/gates.ts';
import type { VoucherDraft } from '../booking/voucher.ts';
import { formatVoucherTable } from '../booking/voucher-table.ts';
import { type ImportResult, importPayouts } from '../klarna/payout-import.service.ts';
import { integrationFingerprint } from '../setup/go-live.ts';
import { listBookingPayouts } from '../store/booking.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { ChartSnapshot } from './chart.ts';
import { withSyncLease } from './lease.ts';
import type { PayoutState } from './payout-state.ts';
import { planPayout, runRateSource } from './planner.ts';
import {
  clock,
  loadIntegration,
  openKlarna,
  openSpiris,
  rateSourceFor,
  type SyncDeps,
} from './sync-context.ts';
import { PLANNABLE_STATES, syncWindow } from './sync-window.ts';
import { bookingVoucherText } from './voucher-marker.ts';

/** What the next sync would do with one payout. */
export interface PreviewPayout {
  paymentReference: string;
  payoutDate: string;
  currencyCode: string;
  /** Minor units of the payout's currency. */
  settlementAmount: number;
  state: PayoutState;
  /** ready: would be posted; needs_attention: blocked by the failures; skip: nothing to book; waiting: lines not fetched. */
  verdict: 'ready' | 'needs_attention' | 'skip' | 'waiting';
  /** The voucher as it would be posted (text with its marker), when it could be built. */
  draft: VoucherDraft | null;
  /** The same as a debit/credit table. */
  table: string | null;
  failures: GateFailure[];
  warnings: string[];
}

export interface PreviewResult {
  integration: { id: string; name: string; mode: string };
  window: { since: string; until: string };
  import: Pick<
    ImportResult,
    'payoutsSeen' | 'payoutsNew' | 'payoutsChanged' | 'transactionsStored' | 'failed'
  >;
  payouts: PreviewPayout[];
  counts: { payouts: number; ready: number; blocking: number; skip: number };
  /** Set when the lock date could not be read; Spiris then judges it when posting. */
  lockDateProblem: string | null;
}

/**
 * The vouchers the next sync would post, with every gate result, and posts nothing. It
 * fetches from Klarna (so it sees what the sync would see) and reads the chart.
 */
export async function previewIntegration(
  deps: SyncDeps,
  opts: { integrationId: string; since?: string; signal?: AbortSignal },
): Promise<PreviewResult> {
  const { integration, settings } = await loadIntegration(deps, opts.integrationId);
  const result = await withSyncLease(deps, integration, 'preview', async () => {
    const klarna = await openKlarna(deps, integration);
    const spiris = await openSpiris(deps, integration);
    const window = await syncWindow(deps, integration.id, settings, opts.since);
    const imported = await importPayouts({
      store: deps.store,
      client: klarna,
      integrationId: integration.id,
      since: window.since,
      until: window.until,
      now: clock(deps),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const chart = await ChartSnapshot.load(spiris, opts.signal ? { signal: opts.signal } : {});
    const candidates = await listBookingPayouts(deps.store.db, {
      integrationId: integration.id,
      states: PLANNABLE_STATES,
      since: window.bookFrom,
    });
    await chart.ensureAccountsFor(
      candidates.map((p) => stockholmDate(p.payoutDate)).filter((d): d is string => !!d),
      opts.signal ? { signal: opts.signal } : {},
    );
    const planCtx = {
      store: deps.store,
      mapping: settings.mapping,
      chart,
      rates: runRateSource(rateSourceFor(deps, settings)),
    };
    const accountNames = chart.accountNames();
    const payouts: PreviewPayout[] = [];
    for (const p of candidates) {
      const verdict = await planPayout(planCtx, p);
      const base = {
        paymentReference: p.paymentReference,
        payoutDate: stockholmDate(p.payoutDate) ?? p.payoutDate.slice(0, 10),
        currencyCode: p.currencyCode,
        settlementAmount: p.settlementAmount,
        state: p.state,
      };
      if (verdict.status === 'waiting') {
        payouts.push({
          ...base,
          verdict: 'waiting',
          draft: null,
          table: null,
          failures: [],
          warnings: [verdict.reason],
        });
        continue;
      }
      const planned = verdict.plan.draft;
      const draft = planned
        ? {
            ...planned,
            voucherText: bookingVoucherText(planned.voucherText, p.paymentReference, p.generation),
          }
        : null;
      payouts.push({
        ...base,
        verdict: verdict.status,
        draft,
        table: draft ? formatVoucherTable(draft, { accountNames }) : null,
        failures: verdict.plan.ok ? [] : verdict.plan.failures,
        warnings: verdict.plan.warnings,
      });
    }
    return {
      integration: { id: integration.id, name: integration.name, mode: integration.mode },
      window: { since: window.since, until: window.until },
      import: {
        payoutsSeen: imported.payoutsSeen,
        payoutsNew: imported.payoutsNew,
        payoutsChanged: imported.payoutsChanged,
        transactionsStored: imported.transactionsStored,
        failed: imported.failed,
      },
      payouts,
      counts: {
        payouts: payouts.length,
        ready: payouts.filter((p) => p.verdict === 'ready').length,
        // A payout that cannot be booked as things stand blocks, whatever the reason.
        blocking: payouts.filter((p) => p.verdict === 'needs_attention' || p.verdict === 'waiting').length,
        skip: payouts.filter((p) => p.verdict === 'skip').length,
      },
      lockDateProblem: chart.lockDateProblem,
    } satisfies PreviewResult;
  });
  await recordEvent(deps.store.db, {
    integrationId: integration.id,
    actor: deps.actor ?? 'system',
    kind: 'preview.completed',
    message: `Preview: ${result.counts.payouts} payouts, ${result.counts.ready} ready to book, ${result.counts.blocking} blocked.`,
    data: {
      payouts: result.counts.payouts,
      ready: result.counts.ready,
      blocking: result.counts.blocking,
      // Lets the go-live gate tell whether this preview still describes the current setup.
      fingerprint: integrationFingerprint(integration),
    },
  });
  return result;
}
