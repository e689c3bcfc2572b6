import { isIsoDate, stockholmDate } from '../booking/calendar.ts';
import { checkAccounts, checkFiscalYear, type GateFailure } from '../booking/gates.ts';
import { SpirisApiError, SpirisServerError } from '../spiris/spiris.errors.ts';
import type { BookedVoucher, VoucherDraft as SpirisVoucherDraft } from '../spiris/spiris.types.ts';
import { armIntent, type BookingPayout, changePayoutState, getIntent } from '../store/booking.repository.ts';
import { ChartSnapshot } from './chart.ts';
import { withSyncLease } from './lease.ts';
import { formatReason } from './planner.ts';
import { MAX_POSTS_PER_RUN, type PostContext, rejectionFailure, stopsTheRun } from './post-voucher.ts';
import { finishReversal, resolveReversalInFlight, reversalBackToBooked } from './reversal.ts';
import { lineOf, requirePayout, type SyncPayoutLine, type SyncResult, syncPayouts } from './sync.service.ts';
import {
  assertPostingAllowed,
  clock,
  loadIntegration,
  NOOP_LOGGER,
  openSpiris,
  type SyncDeps,
  SyncRefusedError,
} from './sync-context.ts';
import { reversalMarker, reversalVoucherText } from './voucher-marker.ts';

/**
 * Spiris vouchers cannot be deleted: a booking is undone by a reversing voucher with
 * the same rows on the other side, dated today (Stockholm) unless another date is given.
 * It goes through the same intent / look-up discipline as a booking, and leaves the
 * payout ready to be booked again, one generation up.
 */

export interface ReverseOptions {
  integrationId: string;
  paymentReference: string;
  /** Voucher date of the reversal, YYYY-MM-DD; default today in Europe/Stockholm. */
  date?: string;
  /** Book the payout again right away under the current settings. */
  rebook?: boolean;
  signal?: AbortSignal;
}

export interface ReverseResult {
  payout: SyncPayoutLine;
  reversedVoucher: { id: string | null; number: string | null };
  reversal: { id: string; number: string | null; date: string } | null;
  /** The payout is still reversing: Spiris did not answer and could not be asked. */
  unresolved: string | null;
  rebook: SyncResult | null;
}

/** Reversing is impossible as asked (locked period, missing account …); nothing was posted. */
export class ReversalRefusedError extends Error {
  constructor(
    message: string,
    readonly failures: GateFailure[] | { code: string; message: string; action: string }[] = [],
  ) {
    super(message);
    this.name = 'ReversalRefusedError';
  }
}

export async function reversePayout(deps: SyncDeps, opts: ReverseOptions): Promise<ReverseResult> {
  const { integration, settings } = await loadIntegration(deps, opts.integrationId);
  await assertPostingAllowed(deps, integration);
  const now = clock(deps);
  const date = opts.date ?? stockholmDate(now())!;
  if (!isIsoDate(date))
    throw new SyncRefusedError(`The reversal date must be a date like 2026-03-01, got "${date}".`);
  const first = await requirePayout(deps, integration, opts.paymentReference);
  if (first.state !== 'booked' && first.state !== 'reversing') {
    throw new SyncRefusedError(
      `Payout ${first.paymentReference} is ${first.state}: only a booked payout can be reversed.`,
    );
  }

  return withSyncLease(deps, integration, 'reverse', async (lease) => {
    const spiris = await openSpiris(deps, integration);
    const ctx: PostContext = {
      store: deps.store,
      spiris,
      actor: deps.actor ?? 'system',
      now,
      logger: deps.logger ?? NOOP_LOGGER,
      ...(deps.hooks ? { hooks: deps.hooks } : {}),
      lease,
      ...(opts.signal ? { signal: opts.signal } : {}),
    };
    let payout = (await requirePayout(deps, integration, opts.paymentReference)) as BookingPayout;
    const reversedVoucher = { id: payout.voucherId, number: payout.voucherNumber };
    const done = async (reversal: ReverseResult['reversal'], unresolved: string | null) => {
      let rebook: SyncResult | null = null;
      if (opts.rebook && reversal) {
        rebook = await syncPayouts(deps, integration, settings, [payout.id], lease, opts.signal);
      }
      const after = (await requirePayout(deps, integration, opts.paymentReference)) as BookingPayout;
      return { payout: lineOf(after), reversedVoucher, reversal, unresolved, rebook };
    };

    if (payout.state === 'reversing') {
      // A reversal of this generation may already be in Spiris: find out before posting one.
      const r = await resolveReversalInFlight(ctx, payout);
      if (r.kind === 'unresolved') return done(null, r.error);
      if (r.kind === 'booked') {
        return done({ id: r.voucherId, number: r.voucherNumber, date }, null);
      }
      payout = (await requirePayout(deps, integration, opts.paymentReference)) as BookingPayout;
    }

    const original = await originalVoucher(ctx, payout);
    const reversal: SpirisVoucherDraft = {
      date,
      text: reversalVoucherText({
        paymentReference: payout.paymentReference,
        generation: payout.generation,
        voucherNumber: payout.voucherNumber,
        voucherDate: original.date,
      }),
      rows: original.rows.map((r) => ({
        accountNumber: r.accountNumber,
        debitMinor: r.creditMinor,
        creditMinor: r.debitMinor,
        text: r.text ? `Rättelse: ${r.text}`.slice(0, 60) : 'Rättelse',
      })),
    };
    await checkReversalDate(spiris, payout, reversal, opts.signal);

    for (let attempt = 1; attempt <= MAX_POSTS_PER_RUN; attempt++) {
      lease.check();
      const intent = await deps.store.db.transaction().execute(async (trx) => {
        const moved = await changePayoutState(trx, {
          id: payout.id,
          integrationId: payout.integrationId,
          paymentReference: payout.paymentReference,
          from: 'booked',
          to: 'reversing',
          generation: payout.generation,
          actor: ctx.actor,
          message: `Reversing voucher ${payout.voucherNumber ?? payout.voucherId} of payout ${payout.paymentReference}.`,
          data: { date, attempt },
        });
        if (!moved) return undefined;
        return armIntent(trx, {
          payoutId: payout.id,
          kind: 'reverse',
          generation: payout.generation,
          voucherDate: date,
          marker: reversalMarker(payout.paymentReference, payout.generation),
          voucher: reversal,
          fiscalYearId: null,
        });
      });
      if (!intent)
        throw new SyncRefusedError(`Payout ${payout.paymentReference} changed meanwhile; look at it again.`);
      await ctx.hooks?.at?.('intent-recorded', {
        paymentReference: payout.paymentReference,
        kind: 'reverse',
      });

      let posted: BookedVoucher;
      try {
        posted = await spiris.createVoucher(reversal, {
          useAutomaticVatCalculation: false,
          ...(opts.signal ? { signal: opts.signal } : {}),
        });
      } catch (err) {
        if (err instanceof SpirisApiError && !stopsTheRun(err) && !(err instanceof SpirisServerError)) {
          const failure = rejectionFailure(err);
          await reversalBackToBooked(ctx, payout, intent, err.message, 'rejected');
          throw new ReversalRefusedError(formatReason([failure]) ?? failure.message, [failure]);
        }
        if (stopsTheRun(err)) {
          await reversalBackToBooked(ctx, payout, intent, `nothing was saved: ${(err as Error).message}`);
          throw err;
        }
        const r = await resolveReversalInFlight(ctx, payout, intent);
        if (r.kind === 'unresolved') return done(null, r.error);
        if (r.kind === 'booked') return done({ id: r.voucherId, number: r.voucherNumber, date }, null);
        payout = (await requirePayout(deps, integration, opts.paymentReference)) as BookingPayout;
        continue;
      }
      await ctx.hooks?.at?.('voucher-posted', { paymentReference: payout.paymentReference, kind: 'reverse' });
      await finishReversal(ctx, payout, intent, posted);
      return done({ id: posted.id, number: posted.number, date }, null);
    }
    throw new ReversalRefusedError(
      `Spiris did not confirm the reversing voucher ${MAX_POSTS_PER_RUN} times in a row, and each time a look-up proved it was not created. Nothing was reversed; try again later.`,
    );
  });
}

/** The rows exactly as they were posted: from the intent, or read back from Spiris. */
async function originalVoucher(
  ctx: PostContext,
  payout: BookingPayout,
): Promise<Pick<SpirisVoucherDraft, 'date' | 'rows'>> {
  const intent = await getIntent(ctx.store.db, payout.id, 'book', payout.generation);
  if (intent?.status === 'done') return intent.voucher as SpirisVoucherDraft;
  if (!payout.voucherId || !payout.fiscalYearId) {
    throw new ReversalRefusedError(
      `The voucher of payout ${payout.paymentReference} cannot be read (no voucher or fiscal year recorded); reverse it by hand in Spiris.`,
    );
  }
  const v = await ctx.spiris.getVoucher(payout.fiscalYearId, payout.voucherId);
  return { date: v.date, rows: v.rows };
}

/** The reversal's own day must be open, and its accounts usable in that day's year. */
async function checkReversalDate(
  spiris: PostContext['spiris'],
  payout: BookingPayout,
  reversal: SpirisVoucherDraft,
  signal: AbortSignal | undefined,
): Promise<void> {
  const chart = await ChartSnapshot.load(spiris, signal ? { signal } : {});
  const { fiscalYear, failures } = checkFiscalYear(payout.paymentReference, chart, reversal.date);
  if (fiscalYear && !fiscalYear.isClosed) {
    await chart.ensureAccountsFor([reversal.date], signal ? { signal } : {});
    failures.push(
      ...checkAccounts(
        chart.accounts(fiscalYear.id),
        reversal.rows.map((r) => ({ account: String(r.accountNumber), purpose: 'rättelse' })),
        fiscalYear,
      ),
    );
  }
  if (failures.length > 0) {
    throw new ReversalRefusedError(
      `Voucher ${payout.voucherNumber ?? payout.voucherId} cannot be reversed on ${reversal.date}; nothing was posted.\n${formatReason(failures)}\nOr give another date with --date.`,
      failures,
    );
  }
}
