import type { VoucherDraft as PlannedVoucher } from '../booking/voucher.ts';
import type { KlarnaClient } from '../klarna/klarna.client.ts';
import { recordPayoutBooked } from '../service/metrics.ts';
import type { SpirisClient } from '../spiris/spiris.client.ts';
import {
  SpirisApiError,
  SpirisAuthError,
  SpirisConnectionError,
  SpirisRateLimitError,
  SpirisReauthorizationRequiredError,
  SpirisServerError,
} from '../spiris/spiris.errors.ts';
import type { BookedVoucher, VoucherDraft as SpirisVoucherDraft } from '../spiris/spiris.types.ts';
import {
  armIntent,
  type BookingPayout,
  changePayoutState,
  clearAttachmentUpload,
  getIntent,
  type IntentKind,
  noteIntentError,
  recordAttachmentFailure,
  recordAttachmentLinked,
  recordAttachmentUploaded,
  resolveIntent,
  type StoredFailure,
  type VoucherIntent,
} from '../store/booking.repository.ts';
import type { Store } from '../store/db.ts';
import { recordEvent } from '../store/events.repository.ts';
import type { HeldLease } from './lease.ts';
import { formatReason } from './planner.ts';
import type { SyncHooks, SyncLogger } from './sync-context.ts';
import { bookingMarker, bookingVoucherText, voucherTextMatches } from './voucher-marker.ts';

/**
 * Posting a voucher exactly once, against an API without idempotency keys:
 *
 *   1. In one DB transaction the payout moves ready → posting (compare-and-set) and the
 *      intent (payout, kind, generation, date, marker, voucher) is recorded. Then POST.
 *   2. Spiris answers with the voucher → in one transaction the intent is done and the
 *      payout booked with the voucher's id and number.
 *   3. No answer (timeout, reset, 5xx after sending, or a crash: any payout found in
 *      posting) → the vouchers of that date are read back and searched for the marker
 *      before anything else. Found → booked. Proven absent → ready, and posted again, at
 *      most MAX_POSTS_PER_RUN times per run. The lookup failing too → the payout stays in
 *      posting and the next run asks again.
 *   4. Spiris refuses (validation, locked period …) → needs_attention with its reason.
 *      Refusals that say nothing about the voucher (auth, rate limit, unreachable) → back
 *      to ready, and the run stops.
 */

export const MAX_POSTS_PER_RUN = 3;

export interface PostContext {
  store: Pick<Store, 'db'>;
  spiris: SpirisClient;
  actor: string;
  now: () => Date;
  logger: SyncLogger;
  hooks?: SyncHooks;
  lease?: HeldLease;
  signal?: AbortSignal;
  /** Whether a booked voucher gets Klarna's report attached (settings.attachReport); default true. */
  attachReport?: boolean;
}

export type PostOutcome =
  | { kind: 'booked'; voucherId: string; voucherNumber: string | null; viaLookup: boolean }
  /** Spiris refused it; the payout is in needs_attention with the reason. */
  | { kind: 'rejected'; failure: StoredFailure }
  /** No answer and no lookup: the payout stays in posting until a run can look it up. */
  | { kind: 'unresolved'; error: string }
  /** Proven absent after every attempt of this run; needs_attention until the next run. */
  | { kind: 'gave_up'; reason: string }
  /** Someone else changed the payout meanwhile; nothing was done. */
  | { kind: 'conflict' }
  /** Nothing was saved, but nothing else can be posted either (auth, rate limit, unreachable). */
  | { kind: 'aborted'; error: Error };

/** The planned voucher in the Spiris client's terms, with the marker in its text. */
export function spirisVoucherFor(payout: BookingPayout, draft: PlannedVoucher): SpirisVoucherDraft {
  return {
    date: draft.voucherDate,
    text: bookingVoucherText(draft.voucherText, payout.paymentReference, payout.generation),
    rows: draft.rows.map((r) => ({
      accountNumber: Number(r.account),
      debitMinor: r.debitMinor,
      creditMinor: r.creditMinor,
      text: r.text,
    })),
  };
}

/** Errors after which nothing was saved but the run cannot go on posting. */
export function stopsTheRun(err: unknown): boolean {
  return (
    err instanceof SpirisAuthError ||
    err instanceof SpirisRateLimitError ||
    err instanceof SpirisConnectionError ||
    err instanceof SpirisReauthorizationRequiredError
  );
}

/** A definite "no" about this voucher: Spiris handled the request and saved nothing. */
function isDefiniteRejection(err: unknown): err is SpirisApiError {
  return err instanceof SpirisApiError && !stopsTheRun(err) && !(err instanceof SpirisServerError);
}

export function rejectionFailure(err: SpirisApiError): StoredFailure {
  const ex = err.explanation;
  const spirisSays = err.developerErrorMessage ? ` Spiris says: ${err.developerErrorMessage}` : '';
  const fields = err.fieldErrors
    .filter((f) => f.message)
    .map((f) => (f.field ? `${f.field}: ${f.message}` : f.message))
    .join('; ');
  return {
    code: 'SPIRIS_REJECTED',
    message: `Spiris refused the voucher${err.errorCode ? ` (error ${err.errorCode}${ex ? ` ${ex.name}` : ''})` : ''}: ${
      ex?.explanation ?? 'see its message'
    }${spirisSays}${fields && !spirisSays.includes(fields) ? ` (${fields})` : ''} Nothing was booked.`,
    action: `${ex?.action ?? 'Correct the cause in Spiris or in the booking settings.'} The payout is tried again on the next sync.`,
    details: {
      status: err.status,
      ...(err.errorCode !== undefined ? { errorCode: err.errorCode } : {}),
      ...(err.errorId ? { errorId: err.errorId } : {}),
    },
  };
}

/** Posts a ready payout's planned voucher exactly once. */
export async function bookPayout(ctx: PostContext, payout: BookingPayout): Promise<PostOutcome> {
  const draft = payout.plan?.draft;
  if (payout.state !== 'ready' || payout.plan?.status !== 'ready' || !draft) return { kind: 'conflict' };
  const voucher = spirisVoucherFor(payout, draft);
  const ref = payout.paymentReference;
  const generation = payout.generation;

  for (let attempt = 1; attempt <= MAX_POSTS_PER_RUN; attempt++) {
    ctx.lease?.check();
    const intent = await ctx.store.db.transaction().execute(async (trx) => {
      const moved = await changePayoutState(trx, {
        id: payout.id,
        integrationId: payout.integrationId,
        paymentReference: ref,
        from: 'ready',
        to: 'posting',
        generation,
        actor: ctx.actor,
        message: `Posting the voucher for payout ${ref} to Spiris.`,
        data: { attempt },
      });
      if (!moved) return undefined;
      return armIntent(trx, {
        payoutId: payout.id,
        kind: 'book',
        generation,
        voucherDate: voucher.date,
        marker: bookingMarker(ref, generation),
        voucher,
        fiscalYearId: draft.fiscalYearId ?? null,
      });
    });
    if (!intent) return { kind: 'conflict' };
    await ctx.hooks?.at?.('intent-recorded', { paymentReference: ref, kind: 'book' });

    let booked: BookedVoucher;
    try {
      booked = await ctx.spiris.createVoucher(voucher, {
        useAutomaticVatCalculation: false,
        ...(ctx.signal ? { signal: ctx.signal } : {}),
      });
    } catch (err) {
      if (isDefiniteRejection(err)) {
        const failure = rejectionFailure(err);
        await ctx.store.db.transaction().execute(async (trx) => {
          await resolveIntent(trx, intent.id, { status: 'rejected', error: err.message });
          await changePayoutState(trx, {
            id: payout.id,
            integrationId: payout.integrationId,
            paymentReference: ref,
            from: 'posting',
            to: 'needs_attention',
            set: { failures_json: JSON.stringify([failure]) },
            reason: formatReason([failure]),
            actor: ctx.actor,
            message: `Spiris refused the voucher for payout ${ref}: ${failure.message}`,
            data: { codes: [failure.code], ...failure.details },
          });
        });
        return { kind: 'rejected', failure };
      }
      if (stopsTheRun(err)) {
        await backToReady(ctx, payout, intent, `nothing was saved: ${(err as Error).message}`);
        return { kind: 'aborted', error: err as Error };
      }
      if (ctx.signal?.aborted) return { kind: 'unresolved', error: 'interrupted while posting' };
      ctx.logger.warn(
        { paymentReference: ref, attempt, error: (err as Error).message },
        'voucher POST outcome unknown; looking it up before anything else',
      );
      const resolved = await resolveInFlight(ctx, payout, intent);
      if (resolved.kind !== 'absent') return resolved;
      continue;
    }
    await ctx.hooks?.at?.('voucher-posted', { paymentReference: ref, kind: 'book' });
    await recordBooked(ctx, payout, intent, booked, false);
    await ctx.hooks?.at?.('voucher-recorded', { paymentReference: ref, kind: 'book' });
    return { kind: 'booked', voucherId: booked.id, voucherNumber: booked.number, viaLookup: false };
  }

  const reason =
    `Spiris did not confirm the voucher for payout ${ref} ${MAX_POSTS_PER_RUN} times in a row (no answer or a server error), ` +
    'and each time a look-up proved that no voucher was created, so nothing is booked twice.';
  const failure: StoredFailure = {
    code: 'SPIRIS_NO_ANSWER',
    message: reason,
    action:
      'Nothing to do if Spiris is only having a bad moment: the next sync tries again. If it persists, check status.visma.com.',
  };
  await changePayoutState(ctx.store.db, {
    id: payout.id,
    integrationId: payout.integrationId,
    paymentReference: ref,
    from: 'ready',
    to: 'needs_attention',
    generation,
    set: { failures_json: JSON.stringify([failure]) },
    reason: formatReason([failure]),
    actor: ctx.actor,
    message: reason,
    data: { codes: [failure.code] },
  });
  return { kind: 'gave_up', reason };
}

type Resolution =
  | { kind: 'booked'; voucherId: string; voucherNumber: string | null; viaLookup: true }
  | { kind: 'absent' }
  | { kind: 'unresolved'; error: string };

/**
 * Settles a payout left in posting (a lost answer, or a crash at any point): reads the
 * vouchers of the intent's date back from Spiris and searches them for the marker.
 */
export async function resolveInFlight(
  ctx: PostContext,
  payout: BookingPayout,
  known?: VoucherIntent,
): Promise<Resolution> {
  const intent = known ?? (await getIntent(ctx.store.db, payout.id, 'book', payout.generation));
  const ref = payout.paymentReference;
  const date = intent?.voucherDate ?? payout.plan?.draft?.voucherDate;
  if (!date) {
    // Posting without an intent or a plan cannot come from this code; refuse to guess.
    return { kind: 'unresolved', error: `payout ${ref} is posting but has no recorded intent` };
  }
  let matches: BookedVoucher[];
  try {
    const vouchers = await ctx.spiris.findVouchersByDate(date, ctx.signal ? { signal: ctx.signal } : {});
    matches = vouchers.filter((v) => voucherTextMatches(v.text, ref, 'book', payout.generation));
  } catch (err) {
    const error = `looking the voucher up in Spiris failed: ${(err as Error).message}`;
    if (intent) await noteIntentError(ctx.store.db, intent.id, error);
    if (err instanceof SpirisReauthorizationRequiredError) throw err;
    return { kind: 'unresolved', error };
  }
  if (matches.length > 0) {
    const found = matches[0]!;
    if (matches.length > 1) {
      await recordEvent(ctx.store.db, {
        integrationId: payout.integrationId,
        actor: ctx.actor,
        kind: 'payout.duplicate_vouchers',
        message: `Spiris holds ${matches.length} vouchers for payout ${ref} (${matches.map((m) => m.number ?? m.id).join(', ')}); ${found.number ?? found.id} is recorded. Reverse the others in Spiris.`,
        data: { paymentReference: ref, vouchers: matches.map((m) => ({ id: m.id, number: m.number })) },
      });
    }
    if (intent) await recordBooked(ctx, payout, intent, found, true);
    else await recordBookedWithoutIntent(ctx, payout, found);
    return { kind: 'booked', voucherId: found.id, voucherNumber: found.number, viaLookup: true };
  }
  if (intent) await backToReady(ctx, payout, intent, 'no voucher with this marker exists in Spiris');
  else {
    await changePayoutState(ctx.store.db, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: ref,
      from: 'posting',
      to: 'ready',
      actor: ctx.actor,
      message: `No voucher for payout ${ref} is in Spiris; it is posted again.`,
    });
  }
  return { kind: 'absent' };
}

async function backToReady(
  ctx: PostContext,
  payout: BookingPayout,
  intent: VoucherIntent,
  why: string,
): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    await resolveIntent(trx, intent.id, { status: 'abandoned', error: why });
    await changePayoutState(trx, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: payout.paymentReference,
      from: 'posting',
      to: 'ready',
      actor: ctx.actor,
      message: `The voucher for payout ${payout.paymentReference} is not in Spiris (${why}); safe to post again.`,
    });
  });
}

async function recordBooked(
  ctx: PostContext,
  payout: BookingPayout,
  intent: VoucherIntent,
  voucher: BookedVoucher,
  viaLookup: boolean,
): Promise<void> {
  const fiscalYearId = intent.fiscalYearId ?? payout.plan?.draft?.fiscalYearId ?? null;
  await ctx.store.db.transaction().execute(async (trx) => {
    await resolveIntent(trx, intent.id, {
      status: 'done',
      spirisVoucherId: voucher.id,
      voucherNumber: voucher.number,
      fiscalYearId,
      error: null,
    });
    await changePayoutState(trx, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: payout.paymentReference,
      from: 'posting',
      to: 'booked',
      set: bookedFields(voucher, fiscalYearId, ctx.now(), ctx.attachReport !== false),
      reason: null,
      actor: ctx.actor,
      message: `Payout ${payout.paymentReference} booked as voucher ${voucher.number ?? voucher.id}${viaLookup ? ' (found in Spiris after an unanswered POST)' : ''}.`,
      data: {
        voucherId: voucher.id,
        voucherNumber: voucher.number,
        viaLookup,
        generation: payout.generation,
      },
    });
  });
  recordPayoutBooked(payout.integrationId);
}

async function recordBookedWithoutIntent(
  ctx: PostContext,
  payout: BookingPayout,
  voucher: BookedVoucher,
): Promise<void> {
  await changePayoutState(ctx.store.db, {
    id: payout.id,
    integrationId: payout.integrationId,
    paymentReference: payout.paymentReference,
    from: 'posting',
    to: 'booked',
    set: bookedFields(
      voucher,
      payout.plan?.draft?.fiscalYearId ?? null,
      ctx.now(),
      ctx.attachReport !== false,
    ),
    reason: null,
    actor: ctx.actor,
    message: `Payout ${payout.paymentReference} booked as voucher ${voucher.number ?? voucher.id} (found in Spiris).`,
    data: { voucherId: voucher.id, voucherNumber: voucher.number, viaLookup: true },
  });
  recordPayoutBooked(payout.integrationId);
}

function bookedFields(voucher: BookedVoucher, fiscalYearId: string | null, now: Date, attach: boolean) {
  return {
    voucher_id: voucher.id,
    voucher_number: voucher.number,
    booked_at: now.toISOString(),
    fiscal_year_id: fiscalYearId,
    attachment_state: attach ? 'pending' : 'none',
    attachment_id: null,
    attachment_error: null,
    attachment_attempts: 0,
  };
}

// ---- the payout report as attachment ---------------------------------------------------

export type AttachOutcome = { kind: 'attached' } | { kind: 'failed'; error: string };

/**
 * Uploads Klarna's payout PDF and links it to the booked voucher. The attachment id is
 * stored right after the upload, so a retry (on this or a later run) only links; a
 * failure here never touches the voucher.
 */
export async function attachPayoutReport(
  ctx: PostContext & { klarna: KlarnaClient },
  payout: BookingPayout,
): Promise<AttachOutcome> {
  const ref = payout.paymentReference;
  if (!payout.voucherId) return { kind: 'failed', error: 'the payout has no voucher to attach to' };
  let attachmentId = payout.attachmentId;
  try {
    if (!attachmentId) {
      const pdf = await ctx.klarna.getPayoutPdf(ref, ctx.signal ? { signal: ctx.signal } : {});
      const uploaded = await ctx.spiris.uploadAttachment(
        {
          fileName: `klarna-utbetalning-${ref}.pdf`,
          contentType: 'application/pdf',
          data: pdf,
          comment: `Klarnas avräkningsnota för utbetalning ${ref}`,
        },
        ctx.signal ? { signal: ctx.signal } : {},
      );
      attachmentId = uploaded.Id;
      await recordAttachmentUploaded(ctx.store.db, payout.id, attachmentId);
      await ctx.hooks?.at?.('attachment-uploaded', { paymentReference: ref, kind: 'book' });
    }
    await ctx.spiris.linkAttachments(
      { documentId: payout.voucherId, attachmentIds: [attachmentId] },
      ctx.signal ? { signal: ctx.signal } : {},
    );
    await recordAttachmentLinked(ctx.store.db, payout.id);
    return { kind: 'attached' };
  } catch (err) {
    if (err instanceof SpirisReauthorizationRequiredError) throw err;
    const error = (err as Error).message;
    await recordAttachmentFailure(ctx.store.db, payout.id, error);
    // The uploaded file is gone or taken: upload afresh next time instead of linking a ghost.
    if (err instanceof SpirisApiError && (err.errorCode === 5007 || err.errorCode === 4000)) {
      await clearAttachmentUpload(ctx.store.db, payout.id);
    }
    ctx.logger.warn(
      { paymentReference: ref, error },
      'attaching the payout report failed; retried next sync',
    );
    return { kind: 'failed', error };
  }
}

export type { IntentKind };
