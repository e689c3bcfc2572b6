import { clampText, MAX_VOUCHER_TEXT, VOUCHER_TEXT_PREFIX } from '../booking/voucher-text.ts';

/**
 * The marker in a voucher's text that ties it to exactly one intent: payment reference,
 * kind (booking or reversal) and generation (1 for the first booking, 2 for the booking
 * after the first reversal, …). Spiris has no idempotency key, so after a lost answer
 * this marker is the only way to tell whether our voucher is there.
 *
 *   book, generation 1     Klarna utbetalning XISA93DJ 2026-04-01, Klarna-id K123456
 *   book, generation 2     Klarna utbetalning XISA93DJ omg. 2 2026-04-01, Klarna-id K123456
 *   reverse, generation 1  Rättelse av verifikation A42 (Klarna XISA93DJ), …
 *   reverse, generation 2  Rättelse av verifikation A57 (Klarna XISA93DJ omg. 2), …
 *
 * The reference is always a whole token (as `voucherTextHasPaymentReference` reads it),
 * the generation token follows it directly, and what precedes it names the kind, so a
 * reversal text can never be read as a booking and generation 2 never as generation 1.
 */

export type VoucherKind = 'book' | 'reverse';

export interface VoucherIdentity {
  kind: VoucherKind;
  generation: number;
}

export const REVERSAL_PREFIX = 'Rättelse av verifikation';

const GENERATION_WORD = 'omg.';

function generationSuffix(generation: number): string {
  if (!Number.isSafeInteger(generation) || generation < 1)
    throw new RangeError(`bad generation ${generation}`);
  return generation === 1 ? '' : ` ${GENERATION_WORD} ${generation}`;
}

/** The fixed part a booking's text starts with, e.g. "Klarna utbetalning XISA93DJ omg. 2". */
export function bookingMarker(paymentReference: string, generation: number): string {
  return `${VOUCHER_TEXT_PREFIX} ${paymentReference}${generationSuffix(generation)}`;
}

/**
 * The planner's text (which starts "Klarna utbetalning REF …") with the generation token
 * put right after the reference. Generation 1 keeps the text as planned.
 */
export function bookingVoucherText(
  plannedText: string,
  paymentReference: string,
  generation: number,
): string {
  const head = `${VOUCHER_TEXT_PREFIX} ${paymentReference}`;
  if (!plannedText.startsWith(head)) {
    throw new Error(`the planned voucher text does not start with "${head}": ${plannedText}`);
  }
  const text = bookingMarker(paymentReference, generation) + plannedText.slice(head.length);
  return clampText(text, MAX_VOUCHER_TEXT);
}

export function reversalMarker(paymentReference: string, generation: number): string {
  return `(Klarna ${paymentReference}${generationSuffix(generation)})`;
}

export function reversalVoucherText(input: {
  paymentReference: string;
  generation: number;
  voucherNumber: string | null;
  voucherDate: string;
}): string {
  const which = input.voucherNumber ? `verifikation ${input.voucherNumber}` : 'verifikation';
  const text =
    `Rättelse av ${which} ${reversalMarker(input.paymentReference, input.generation)}, ` +
    `återför bokföringen av Klarnas utbetalning från ${input.voucherDate}`;
  return clampText(text, MAX_VOUCHER_TEXT);
}

const REFERENCE_CHAR = /[\p{L}\p{N}_-]/u;

/**
 * Which of our vouchers for `paymentReference` this text belongs to, or null when it is
 * none of them (another payout's, or a voucher someone typed by hand).
 */
export function identifyVoucherText(text: string, paymentReference: string): VoucherIdentity | null {
  if (paymentReference === '') return null;
  for (let from = 0; ; ) {
    const at = text.indexOf(paymentReference, from);
    if (at < 0) return null;
    from = at + 1;
    const before = at > 0 ? text[at - 1]! : '';
    const afterAt = at + paymentReference.length;
    if (REFERENCE_CHAR.test(before) || REFERENCE_CHAR.test(text[afterAt] ?? '')) continue;
    const rest = text.slice(afterAt);
    const gen = new RegExp(`^ ${GENERATION_WORD.replace('.', '\\.')} (\\d+)(?![\\p{N}])`, 'u').exec(rest);
    const generation = gen ? Number(gen[1]) : 1;
    const tail = rest.slice(gen ? gen[0].length : 0);
    const lead = text.slice(0, at);
    if (lead.endsWith(`${VOUCHER_TEXT_PREFIX} `) && lead.length === VOUCHER_TEXT_PREFIX.length + 1) {
      // A booking starts with the prefix; the generation token is ours only when
      // followed by a space or the end.
      if (tail === '' || tail.startsWith(' ') || tail.startsWith(',')) return { kind: 'book', generation };
      continue;
    }
    if (text.startsWith(`${REVERSAL_PREFIX} `) && lead.endsWith('(Klarna ') && tail.startsWith(')')) {
      return { kind: 'reverse', generation };
    }
  }
}

/** True when the text is exactly this intent's voucher. */
export function voucherTextMatches(
  text: string,
  paymentReference: string,
  kind: VoucherKind,
  generation: number,
): boolean {
  const id = identifyVoucherText(text, paymentReference);
  return id !== null && id.kind === kind && id.generation === generation;
}
