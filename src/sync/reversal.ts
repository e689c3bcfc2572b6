import { SpirisReauthorizationRequiredError } from '../spiris/spiris.errors.ts';
import type { BookedVoucher } from '../spiris/spiris.types.ts';
import {
  type BookingPayout,
  changePayoutState,
  getIntent,
  noteIntentError,
  resolveIntent,
  type VoucherIntent,
} from '../store/booking.repository.ts';
import type { PostContext } from './post-voucher.ts';
import { voucherTextMatches } from './voucher-marker.ts';

// The end of a reversal, shared by `reverse` and by a sync that finds one left in flight.

export type ReversalResolution =
  | { kind: 'booked'; voucherId: string; voucherNumber: string | null; viaLookup: true }
  | { kind: 'absent' }
  | { kind: 'unresolved'; error: string };

/**
 * The reversing voucher is in Spiris: record it, and open the payout for booking again
 * under the current rules (generation + 1, so its new voucher carries a new marker).
 */
export async function finishReversal(
  ctx: Pick<PostContext, 'store' | 'actor'>,
  payout: BookingPayout,
  intent: VoucherIntent,
  reversal: BookedVoucher,
): Promise<void> {
  const original = payout.voucherNumber ?? payout.voucherId ?? '?';
  const number = reversal.number ?? reversal.id;
  await ctx.store.db.transaction().execute(async (trx) => {
    await resolveIntent(trx, intent.id, {
      status: 'done',
      spirisVoucherId: reversal.id,
      voucherNumber: reversal.number,
      error: null,
    });
    await changePayoutState(trx, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: payout.paymentReference,
      from: 'reversing',
      to: 'reversed',
      generation: payout.generation,
      actor: ctx.actor,
      message: `Voucher ${original} of payout ${payout.paymentReference} is reversed by voucher ${number}.`,
      data: { reversedVoucher: original, reversalVoucher: number, reversalVoucherId: reversal.id },
    });
    await changePayoutState(trx, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: payout.paymentReference,
      from: 'reversed',
      to: 'ready',
      generation: payout.generation,
      set: {
        generation: payout.generation + 1,
        voucher_id: null,
        voucher_number: null,
        booked_at: null,
        plan_json: null,
        failures_json: null,
        attachment_state: 'none',
        attachment_id: null,
        attachment_error: null,
        attachment_attempts: 0,
      },
      reason: `Voucher ${original} was reversed by voucher ${number} on ${reversal.date}; the payout is booked again under the current settings on the next sync.`,
      actor: ctx.actor,
      message: `Payout ${payout.paymentReference} opened for booking again (generation ${payout.generation + 1}).`,
      data: { generation: payout.generation + 1 },
    });
  });
}

/** A reversal that never got an answer (or whose process died): look it up, then settle it. */
export async function resolveReversalInFlight(
  ctx: PostContext,
  payout: BookingPayout,
  known?: VoucherIntent,
): Promise<ReversalResolution> {
  const intent = known ?? (await getIntent(ctx.store.db, payout.id, 'reverse', payout.generation));
  const ref = payout.paymentReference;
  if (!intent) return { kind: 'unresolved', error: `payout ${ref} is reversing but has no recorded intent` };
  let matches: BookedVoucher[];
  try {
    const vouchers = await ctx.spiris.findVouchersByDate(
      intent.voucherDate,
      ctx.signal ? { signal: ctx.signal } : {},
    );
    matches = vouchers.filter((v) => voucherTextMatches(v.text, ref, 'reverse', payout.generation));
  } catch (err) {
    const error = `looking the reversal up in Spiris failed: ${(err as Error).message}`;
    await noteIntentError(ctx.store.db, intent.id, error);
    if (err instanceof SpirisReauthorizationRequiredError) throw err;
    return { kind: 'unresolved', error };
  }
  const found = matches[0];
  if (found) {
    await finishReversal(ctx, payout, intent, found);
    return { kind: 'booked', voucherId: found.id, voucherNumber: found.number, viaLookup: true };
  }
  await reversalBackToBooked(ctx, payout, intent, 'no reversing voucher with this marker exists in Spiris');
  return { kind: 'absent' };
}

export async function reversalBackToBooked(
  ctx: Pick<PostContext, 'store' | 'actor'>,
  payout: BookingPayout,
  intent: VoucherIntent,
  why: string,
  status: 'abandoned' | 'rejected' = 'abandoned',
): Promise<void> {
  await ctx.store.db.transaction().execute(async (trx) => {
    await resolveIntent(trx, intent.id, { status, error: why });
    await changePayoutState(trx, {
      id: payout.id,
      integrationId: payout.integrationId,
      paymentReference: payout.paymentReference,
      from: 'reversing',
      to: 'booked',
      actor: ctx.actor,
      message: `Voucher ${payout.voucherNumber ?? payout.voucherId} of payout ${payout.paymentReference} is not reversed (${why}).`,
    });
  });
}
