import { stockholmDate } from '../booking/calendar.ts';
import type { KlarnaClient } from '../klarna/klarna.client.ts';
import { type ImportProgress, type ImportResult, importPayouts } from '../klarna/payout-import.service.ts';
import { reconcile } from '../klarna/reconcile.ts';
import { pauseForKlarnaAuthFailure, recordKlarnaKeyUse } from '../setup/key-lifecycle.ts';
import {
  type BookingPayout,
  changePayoutState,
  findBookingPayout,
  getBookingPayout,
  listBookingPayouts,
  markTransactionsStale,
  setPayoutReason,
} from '../store/booking.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import type { Integration } from '../store/integrations.repository.ts';
import { recordReconciliation, transactionSums } from '../store/payouts.repository.ts';
import { finishSyncRun, startSyncRun } from '../store/sync-runs.repository.ts';
import { ChartSnapshot } from './chart.ts';
import type { IntegrationSettings } from './integration-settings.ts';
import { type HeldLease, withSyncLease } from './lease.ts';
import type { PayoutState } from './payout-state.ts';
import { applyVerdict, planPayout, runRateSource } from './planner.ts';
import {
  attachPayoutReport,
  bookPayout,
  type PostContext,
  type PostOutcome,
  resolveInFlight,
} from './post-voucher.ts';
import { type PreviewResult, previewIntegration } from './preview.service.ts';
import { resolveReversalInFlight } from './reversal.ts';
import {
  assertPostingAllowed,
  clock,
  loadIntegration,
  NOOP_LOGGER,
  openKlarna,
  openSpiris,
  rateSourceFor,
  type SyncDeps,
  SyncRefusedError,
} from './sync-context.ts';
import { PLANNABLE_STATES, type SyncWindow, syncWindow } from './sync-window.ts';

/** Gate failures that may be Klarna's data still settling: the lines are fetched again while in the window. */
const REFETCH_CODES = new Set([
  'UNRECONCILED',
  'UNKNOWN_TRANSACTION_TYPE',
  'UNKNOWN_FEE_TYPE',
  'COUNTRY_BREAKDOWN_MISMATCH',
  'INVALID_PAYOUT',
]);

export interface SyncOptions {
  integrationId: string;
  /** First payout day to fetch (and to book from), YYYY-MM-DD. */
  since?: string;
  /** Plan and show, post nothing (the preview). */
  dryRun?: boolean;
  /** Only these payouts, without fetching from Klarna: `retry`, `reverse --rebook`. */
  payoutIds?: string[];
  onProgress?: (event: SyncProgress) => void;
  signal?: AbortSignal;
  /**
   * Plan only: payouts that come out ready stay ready for the caller to post one by one
   * (the job queue's post jobs, see `postPayout`). In-flight look-ups and attachments
   * still run.
   */
  deferPosting?: boolean;
  /** How the integration's lease is held; default `withSyncLease`, which refuses at once when busy. */
  withLease?: typeof withSyncLease;
}

export type SyncProgress =
  | { phase: 'import'; event: ImportProgress }
  | { phase: 'plan'; done: number; total: number }
  | { phase: 'post'; done: number; total: number; paymentReference: string }
  | { phase: 'attach'; done: number; total: number; paymentReference: string };

/** One payout in a sync report. Amounts in minor units of the payout's currency. */
export interface SyncPayoutLine {
  paymentReference: string;
  payoutDate: string;
  currencyCode: string;
  settlementAmount: number;
  state: PayoutState;
  voucherNumber: string | null;
  reason: string | null;
}

export interface SyncResult {
  runId: string | null;
  integration: { id: string; name: string; mode: string };
  window: { since: string; until: string } | null;
  import: Pick<
    ImportResult,
    'payoutsSeen' | 'payoutsNew' | 'payoutsChanged' | 'transactionsStored' | 'failed'
  > | null;
  /** Booked in this run (posted, or found in Spiris after an unanswered POST). */
  booked: SyncPayoutLine[];
  /** Every payout of the integration that waits for the merchant, with the reason. */
  needsAttention: SyncPayoutLine[];
  /** Skipped in this run: nothing to book. */
  skipped: SyncPayoutLine[];
  /** Not settled in this run for a passing reason (not fetched, no answer, attachment); retried next run. */
  failed: Array<SyncPayoutLine & { error: string }>;
  attachments: { attached: number; failed: number };
  /** Set when the run stopped early; everything before it stands. */
  error: string | null;
  preview?: PreviewResult;
}

/**
 * One sync of an integration: fetch from Klarna over the window, settle anything left
 * in flight, plan every open payout, post each ready one exactly once, attach the
 * reports, and record the run.
 */
export async function syncIntegration(deps: SyncDeps, opts: SyncOptions): Promise<SyncResult> {
  const { integration, settings } = await loadIntegration(deps, opts.integrationId);
  if (opts.dryRun) {
    const preview = await previewIntegration(deps, {
      integrationId: integration.id,
      ...(opts.since ? { since: opts.since } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    return { ...emptyResult(integration), window: preview.window, preview };
  }
  await assertPostingAllowed(deps, integration);
  return (opts.withLease ?? withSyncLease)(deps, integration, 'sync', (lease) =>
    runSync(deps, integration, settings, opts, lease),
  );
}

function emptyResult(integration: Integration): SyncResult {
  return {
    runId: null,
    integration: { id: integration.id, name: integration.name, mode: integration.mode },
    window: null,
    import: null,
    booked: [],
    needsAttention: [],
    skipped: [],
    failed: [],
    attachments: { attached: 0, failed: 0 },
    error: null,
  };
}

export function lineOf(p: BookingPayout): SyncPayoutLine {
  return {
    paymentReference: p.paymentReference,
    payoutDate: stockholmDate(p.payoutDate) ?? p.payoutDate.slice(0, 10),
    currencyCode: p.currencyCode,
    settlementAmount: p.settlementAmount,
    state: p.state,
    voucherNumber: p.voucherNumber,
    reason: p.stateReason,
  };
}

async function runSync(
  deps: SyncDeps,
  integration: Integration,
  settings: IntegrationSettings,
  opts: SyncOptions,
  lease: HeldLease,
): Promise<SyncResult> {
  const { db } = deps.store;
  const now = clock(deps);
  const actor = deps.actor ?? 'system';
  const logger = deps.logger ?? NOOP_LOGGER;
  const only = opts.payoutIds;
  const result = emptyResult(integration);
  const runId = await startSyncRun(db, { integrationId: integration.id, kind: only ? 'retry' : 'sync' });
  result.runId = runId;
  let window: SyncWindow | null = null;
  const fail = (p: BookingPayout, error: string) => result.failed.push({ ...lineOf(p), error });

  try {
    const klarna = await openKlarna(deps, integration);
    const spiris = await openSpiris(deps, integration);
    const post: PostContext & { klarna: KlarnaClient } = {
      store: deps.store,
      spiris,
      klarna,
      actor,
      now,
      logger,
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
      lease,
      ...(opts.signal ? { signal: opts.signal } : {}),
      attachReport: settings.attachReport,
    };

    // 1. Whatever a crash or a lost answer left in flight is settled before anything new.
    await settleInFlight(post, integration.id, only, result, fail);

    // 2. Fetch.
    if (!only) {
      window = await syncWindow(deps, integration.id, settings, opts.since);
      result.window = { since: window.since, until: window.until };
      await refetchUnsettled(deps, integration.id, window);
      const imported = await importPayouts({
        store: deps.store,
        client: klarna,
        integrationId: integration.id,
        since: window.since,
        until: window.until,
        ...(opts.onProgress ? { onProgress: (event) => opts.onProgress?.({ phase: 'import', event }) } : {}),
        ...(opts.signal ? { signal: opts.signal } : {}),
        now,
      }).catch(async (err: unknown) => {
        // A revoked or disabled key pauses the integration with the fix, instead of
        // failing every hour until someone reads the logs.
        await pauseForKlarnaAuthFailure(db, integration.id, err, { actor });
        throw err;
      });
      // Klarna disables keys left unused for two months; the connection test warns from this.
      if (integration.klarnaConnectionId) await recordKlarnaKeyUse(db, integration.klarnaConnectionId, now());
      result.import = {
        payoutsSeen: imported.payoutsSeen,
        payoutsNew: imported.payoutsNew,
        payoutsChanged: imported.payoutsChanged,
        transactionsStored: imported.transactionsStored,
        failed: imported.failed,
      };
      await flagChangedAfterBooking(deps, integration.id, imported, actor);
    }

    // 3. Plan.
    const chart = await ChartSnapshot.load(spiris, opts.signal ? { signal: opts.signal } : {});
    const candidates = await listBookingPayouts(db, {
      integrationId: integration.id,
      states: PLANNABLE_STATES,
      ...(only ? { ids: only } : window ? { since: window.bookFrom } : {}),
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
    let planned = 0;
    for (const candidate of candidates) {
      lease.check();
      opts.signal?.throwIfAborted();
      const payout = await rereconcileIfNeeded(deps, candidate);
      const verdict = await planPayout(planCtx, payout);
      const state = await applyVerdict({ store: deps.store, actor, now }, payout, verdict);
      if (state === 'skipped' && payout.state !== 'skipped') {
        const after = await getBookingPayout(db, payout.id);
        if (after) result.skipped.push(lineOf(after));
      }
      if (verdict.status === 'waiting') fail(payout, verdict.reason);
      opts.onProgress?.({ phase: 'plan', done: ++planned, total: candidates.length });
    }

    // 4. Post, oldest first, so voucher numbers follow the payout dates.
    const ready = opts.deferPosting
      ? []
      : await listBookingPayouts(db, {
          integrationId: integration.id,
          states: ['ready'],
          ids: candidates.map((c) => c.id),
        });
    const attachedNow = new Set<string>();
    let posted = 0;
    for (const payout of ready) {
      if (opts.signal?.aborted) {
        result.error = 'The run was interrupted; the remaining payouts are booked on the next run.';
        break;
      }
      opts.onProgress?.({
        phase: 'post',
        done: posted++,
        total: ready.length,
        paymentReference: payout.paymentReference,
      });
      const outcome = await bookPayout(post, payout);
      const after = (await getBookingPayout(db, payout.id)) ?? payout;
      if (outcome.kind === 'booked') {
        result.booked.push(lineOf(after));
        if (settings.attachReport) {
          attachedNow.add(payout.id);
          await attach(post, after, result, fail);
        }
      } else if (outcome.kind === 'unresolved') fail(after, outcome.error);
      else if (outcome.kind === 'aborted') {
        result.error = outcome.error.message;
        break;
      }
    }

    // 5. Reports that could not be attached earlier: only the attachment is retried.
    if (settings.attachReport && !result.error) {
      const pending = (
        await listBookingPayouts(db, {
          integrationId: integration.id,
          states: ['booked'],
          attachmentState: 'pending',
          ...(only ? { ids: only } : {}),
        })
      ).filter((p) => !attachedNow.has(p.id));
      let done = 0;
      for (const p of pending) {
        lease.check();
        if (opts.signal?.aborted) break;
        opts.onProgress?.({
          phase: 'attach',
          done: done++,
          total: pending.length,
          paymentReference: p.paymentReference,
        });
        await attach(post, p, result, fail);
      }
    }

    result.needsAttention = (
      await listBookingPayouts(db, { integrationId: integration.id, states: ['needs_attention'] })
    ).map(lineOf);
    await finishSyncRun(db, runId, {
      status: result.error ? 'failed' : 'succeeded',
      summary: summaryOf(result, window),
      ...(result.error ? { error: result.error } : {}),
    });
    await recordEvent(db, {
      integrationId: integration.id,
      actor,
      kind: result.error ? 'sync.failed' : 'sync.completed',
      message: headline(result),
      data: { runId, ...countsOf(result) },
    });
    return result;
  } catch (err) {
    const message = (err as Error).message ?? String(err);
    await finishSyncRun(db, runId, { status: 'failed', summary: summaryOf(result, window), error: message });
    await recordEvent(db, {
      integrationId: integration.id,
      actor,
      kind: 'sync.failed',
      message: `Sync stopped: ${message}`,
      data: { runId, ...countsOf(result) },
    });
    throw err;
  }
}

async function settleInFlight(
  post: PostContext,
  integrationId: string,
  only: string[] | undefined,
  result: SyncResult,
  fail: (p: BookingPayout, error: string) => void,
): Promise<void> {
  const inFlight = await listBookingPayouts(post.store.db, {
    integrationId,
    states: ['posting', 'reversing'],
    ...(only ? { ids: only } : {}),
  });
  for (const p of inFlight) {
    post.lease?.check();
    const r = p.state === 'posting' ? await resolveInFlight(post, p) : await resolveReversalInFlight(post, p);
    const after = (await getBookingPayout(post.store.db, p.id)) ?? p;
    if (r.kind === 'booked' && p.state === 'posting') result.booked.push(lineOf(after));
    if (r.kind === 'unresolved') fail(after, r.error);
  }
}

async function attach(
  post: PostContext & { klarna: KlarnaClient },
  payout: BookingPayout,
  result: SyncResult,
  fail: (p: BookingPayout, error: string) => void,
): Promise<void> {
  const outcome = await attachPayoutReport(post, payout);
  if (outcome.kind === 'attached') result.attachments.attached += 1;
  else {
    result.attachments.failed += 1;
    fail(payout, `The voucher is booked, but Klarna's report could not be attached yet: ${outcome.error}`);
  }
}

/** Unsettled lines in the window (Klarna may still have been adding some) are fetched again. */
async function refetchUnsettled(deps: SyncDeps, integrationId: string, window: SyncWindow): Promise<void> {
  const waiting = await listBookingPayouts(deps.store.db, {
    integrationId,
    states: ['needs_attention'],
    since: window.since,
    until: window.until,
  });
  const stale = waiting.filter((p) => p.failures.some((f) => REFETCH_CODES.has(f.code)));
  await markTransactionsStale(
    deps.store.db,
    stale.map((p) => p.id),
  );
}

/** Reconciles stored lines again with this version's rules, for payouts that failed before. */
async function rereconcileIfNeeded(deps: SyncDeps, payout: BookingPayout): Promise<BookingPayout> {
  if (payout.state !== 'needs_attention' || !payout.transactionsComplete) return payout;
  const sums = await transactionSums(deps.store.db, payout.id);
  const reconciliation = reconcile({ totals: payout.totals, sums, currencyCode: payout.currencyCode });
  if (JSON.stringify(reconciliation) === JSON.stringify(payout.reconciliation)) return payout;
  await recordReconciliation(deps.store.db, payout.id, reconciliation);
  return {
    ...payout,
    reconciled: reconciliation.ok,
    reconciliation,
    unknownTypes: reconciliation.unknownTypes,
    unknownDetailedTypes: reconciliation.unknownDetailedTypes,
  };
}

/** Klarna changed a payout that is already booked: the books may be wrong now, so say so loudly. */
async function flagChangedAfterBooking(
  deps: SyncDeps,
  integrationId: string,
  imported: ImportResult,
  actor: string,
): Promise<void> {
  const changed = imported.payouts.filter((p) => p.status === 'changed').map((p) => p.paymentReference);
  if (changed.length === 0) return;
  const booked = await listBookingPayouts(deps.store.db, { integrationId, states: ['booked'] });
  for (const p of booked.filter((b) => changed.includes(b.paymentReference))) {
    const reason =
      `Klarna changed payout ${p.paymentReference} after it was booked as voucher ${p.voucherNumber ?? p.voucherId}. ` +
      `What to do: compare the voucher with Klarna's settlement report; if it is wrong, run \`klarna-spiris reverse ${p.paymentReference} --rebook\`.`;
    await setPayoutReason(deps.store.db, p.id, reason);
    await recordEvent(deps.store.db, {
      integrationId,
      actor,
      kind: 'payout.changed_after_booking',
      message: reason,
      data: { paymentReference: p.paymentReference, voucherNumber: p.voucherNumber },
    });
  }
}

export function countsOf(r: SyncResult) {
  return {
    booked: r.booked.length,
    needsAttention: r.needsAttention.length,
    skipped: r.skipped.length,
    failed: r.failed.length,
    attachmentsAttached: r.attachments.attached,
    attachmentsFailed: r.attachments.failed,
  };
}

function summaryOf(r: SyncResult, window: SyncWindow | null) {
  return {
    ...(window ? { window: { since: window.since, until: window.until }, bookFrom: window.bookFrom } : {}),
    import: r.import,
    ...countsOf(r),
    booked: r.booked.map((b) => ({ paymentReference: b.paymentReference, voucherNumber: b.voucherNumber })),
    needsAttention: r.needsAttention.map((n) => ({ paymentReference: n.paymentReference, reason: n.reason })),
    failed: r.failed.map((f) => ({ paymentReference: f.paymentReference, error: f.error })),
    bookedCount: r.booked.length,
  };
}

function headline(r: SyncResult): string {
  const c = countsOf(r);
  return (
    `Sync ${r.error ? 'stopped early' : 'done'}: ${c.booked} booked, ${c.needsAttention} need attention, ` +
    `${c.skipped} skipped, ${c.failed} to retry${r.error ? ` (${r.error})` : ''}.`
  );
}

/** Plans and posts just these payouts, without fetching from Klarna, under a lease already held. */
export function syncPayouts(
  deps: SyncDeps,
  integration: Integration,
  settings: IntegrationSettings,
  payoutIds: string[],
  lease: HeldLease,
  signal?: AbortSignal,
): Promise<SyncResult> {
  return runSync(
    deps,
    integration,
    settings,
    { integrationId: integration.id, payoutIds, ...(signal ? { signal } : {}) },
    lease,
  );
}

// ---- one payout, for the job queue -----------------------------------------------------

export interface PostPayoutInput {
  integrationId: string;
  payoutId: string;
  signal?: AbortSignal;
  /** How the integration's lease is held; default `withSyncLease`, which refuses at once when busy. */
  withLease?: typeof withSyncLease;
}

export interface PostPayoutResult {
  /**
   * What happened to the asked-for payout: a post outcome, `not_ready` (booked or moved
   * on meanwhile: nothing to do) or `missing`. `aborted` and `unresolved` are worth
   * another try later; `error` says why.
   */
  outcome: PostOutcome['kind'] | 'not_ready' | 'missing';
  error?: string;
  payout: SyncPayoutLine | null;
  /** Payment references booked by this call: the payout itself and any older ready one. */
  booked: string[];
}

/**
 * Posts one ready payout exactly once, for a queue that runs a job per payout. Under the
 * integration's lease, like a whole sync: payouts another process left in posting (a
 * worker killed mid-POST) are settled by voucher look-up first, and ready payouts dated
 * before this one are posted before it, so voucher numbers still follow payout dates
 * whichever job runs first.
 */
export async function postPayout(deps: SyncDeps, input: PostPayoutInput): Promise<PostPayoutResult> {
  const { integration, settings } = await loadIntegration(deps, input.integrationId);
  await assertPostingAllowed(deps, integration);
  return (input.withLease ?? withSyncLease)(deps, integration, 'post', async (lease) => {
    const { db } = deps.store;
    const line = async (id: string) => {
      const p = await getBookingPayout(db, id);
      return p ? lineOf(p) : null;
    };
    const target = await getBookingPayout(db, input.payoutId);
    if (!target || target.integrationId !== integration.id)
      return { outcome: 'missing', payout: null, booked: [] };
    if (target.state !== 'ready' && target.state !== 'posting') {
      return { outcome: 'not_ready', payout: lineOf(target), booked: [] };
    }
    const post: PostContext & { klarna: KlarnaClient } = {
      store: deps.store,
      spiris: await openSpiris(deps, integration),
      klarna: await openKlarna(deps, integration),
      actor: deps.actor ?? 'system',
      now: clock(deps),
      logger: deps.logger ?? NOOP_LOGGER,
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
      lease,
      ...(input.signal ? { signal: input.signal } : {}),
      attachReport: settings.attachReport,
    };
    const booked: string[] = [];
    const afterBooking = async (id: string, ref: string) => {
      booked.push(ref);
      const after = await getBookingPayout(db, id);
      // A failed attachment is recorded as pending; the next sync retries only that.
      if (after && settings.attachReport) await attachPayoutReport(post, after);
    };

    let outcome: PostPayoutResult['outcome'] = 'not_ready';
    for (const p of await listBookingPayouts(db, { integrationId: integration.id, states: ['posting'] })) {
      lease.check();
      const r = await resolveInFlight(post, p);
      if (r.kind === 'booked') await afterBooking(p.id, p.paymentReference);
      if (p.id === target.id && r.kind === 'booked') outcome = 'booked';
      if (p.id === target.id && r.kind === 'unresolved') {
        return { outcome: 'unresolved', error: r.error, payout: await line(p.id), booked };
      }
    }

    const ready = await listBookingPayouts(db, { integrationId: integration.id, states: ['ready'] });
    const upTo = ready.findIndex((p) => p.id === target.id);
    let error: string | undefined;
    for (const p of upTo >= 0 ? ready.slice(0, upTo + 1) : []) {
      lease.check();
      input.signal?.throwIfAborted();
      const o = await bookPayout(post, p);
      if (o.kind === 'booked') await afterBooking(p.id, p.paymentReference);
      if (o.kind === 'aborted') {
        return { outcome: 'aborted', error: o.error.message, payout: await line(target.id), booked };
      }
      if (p.id === target.id) {
        outcome = o.kind;
        if (o.kind === 'unresolved') error = o.error;
      }
    }
    return { outcome, ...(error ? { error } : {}), payout: await line(target.id), booked };
  });
}

// ---- single-payout commands ------------------------------------------------------------

/** `retry REF`: plan a waiting or skipped payout now, and post it when it is ready. */
export async function retryPayout(
  deps: SyncDeps,
  input: { integrationId: string; paymentReference: string; signal?: AbortSignal },
): Promise<SyncResult & { payout: SyncPayoutLine }> {
  const { integration } = await loadIntegration(deps, input.integrationId);
  const payout = await requirePayout(deps, integration, input.paymentReference);
  const retryable: PayoutState[] = [
    'needs_attention',
    'discovered',
    'ready',
    'skipped',
    'posting',
    'reversed',
  ];
  if (!retryable.includes(payout.state)) {
    throw new SyncRefusedError(
      `Payout ${payout.paymentReference} is ${payout.state}${payout.voucherNumber ? ` (voucher ${payout.voucherNumber})` : ''}; only a payout that waits can be retried.`,
    );
  }
  await assertPostingAllowed(deps, integration);
  if (payout.state === 'skipped') {
    await changePayoutState(deps.store.db, {
      id: payout.id,
      integrationId: integration.id,
      paymentReference: payout.paymentReference,
      from: 'skipped',
      to: 'ready',
      reason: null,
      actor: deps.actor ?? 'system',
      message: `Payout ${payout.paymentReference} is included again.`,
    });
  }
  const result = await withSyncLease(deps, integration, 'retry', async (lease) => {
    const { settings } = await loadIntegration(deps, integration.id);
    return runSync(deps, integration, settings, { ...input, payoutIds: [payout.id] }, lease);
  });
  const after = (await getBookingPayout(deps.store.db, payout.id)) ?? payout;
  return { ...result, payout: lineOf(after) };
}

/** `skip REF --reason`: the merchant books this payout some other way. */
export async function skipPayout(
  deps: SyncDeps,
  input: { integrationId: string; paymentReference: string; reason: string },
): Promise<SyncPayoutLine> {
  const { integration } = await loadIntegration(deps, input.integrationId);
  const reason = input.reason.trim();
  if (reason === '')
    throw new SyncRefusedError('Say why the payout is skipped (--reason "…"); it is kept for the audit.');
  const payout = await requirePayout(deps, integration, input.paymentReference);
  const from = payout.state;
  const skippable: PayoutState[] = ['discovered', 'ready', 'needs_attention'];
  if (!skippable.includes(from)) {
    throw new SyncRefusedError(
      from === 'booked'
        ? `Payout ${payout.paymentReference} is booked as voucher ${payout.voucherNumber}; reverse it first (\`klarna-spiris reverse ${payout.paymentReference}\`).`
        : `Payout ${payout.paymentReference} is ${from} and cannot be skipped now.`,
    );
  }
  const moved = await withSyncLease(deps, integration, 'skip', () =>
    changePayoutState(deps.store.db, {
      id: payout.id,
      integrationId: integration.id,
      paymentReference: payout.paymentReference,
      from,
      to: 'skipped',
      reason: `Skipped by the user: ${reason}`,
      actor: deps.actor ?? 'system',
      message: `Payout ${payout.paymentReference} skipped: ${reason}`,
      data: { reason },
    }),
  );
  if (!moved)
    throw new SyncRefusedError(`Payout ${payout.paymentReference} changed meanwhile; look at it again.`);
  return lineOf((await getBookingPayout(deps.store.db, payout.id)) ?? payout);
}

export async function requirePayout(
  deps: SyncDeps,
  integration: Integration,
  paymentReference: string,
): Promise<BookingPayout> {
  const payout = await findBookingPayout(deps.store.db, integration.id, paymentReference);
  if (!payout) {
    throw new SyncRefusedError(
      `Integration "${integration.name}" has no payout ${paymentReference}. Run \`klarna-spiris sync\` (or \`klarna-spiris klarna payout ${paymentReference}\`) to fetch it first.`,
    );
  }
  return payout;
}
