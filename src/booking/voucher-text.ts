import { formatDecimalSv, formatMinorSv } from './decimal.ts';

/** Spiris limits: VoucherRowApi.TransactionText ≤ 60, VoucherApi.VoucherText ≤ 1000. */
export const MAX_TRANSACTION_TEXT = 60;
export const MAX_VOUCHER_TEXT = 1000;

/** The words before the payment reference in every voucher text; what finds it again. */
export const VOUCHER_TEXT_PREFIX = 'Klarna utbetalning';

/** Cuts text to `max` characters, marking the cut with an ellipsis. */
export function clampText(text: string, max: number): string {
  const chars = [...text];
  return chars.length <= max ? text : `${chars.slice(0, max - 1).join('')}…`;
}

export interface VoucherTextInput {
  paymentReference: string;
  voucherDate: string;
  merchantId: string;
  fx?: {
    currency: string;
    settlementMinor: number;
    sekPerUnit: string;
    rateDate: string;
    source: string;
  };
}

/**
 * "Klarna utbetalning XISA93DJ 2026-04-01, Klarna-id K123456", plus the rate, its date and
 * source when converted, as Swedish practice wants the rate on the voucher. The reference
 * comes first and is never cut, so a posted voucher can always be found by it.
 */
export function buildVoucherText(input: VoucherTextInput): string {
  const head = `${VOUCHER_TEXT_PREFIX} ${input.paymentReference} ${input.voucherDate}`;
  const parts = [`Klarna-id ${input.merchantId}`];
  if (input.fx) {
    const { currency, settlementMinor, sekPerUnit, rateDate, source } = input.fx;
    parts.push(
      `${currency} ${formatMinorSv(settlementMinor)} omräknat till SEK med kurs ${formatDecimalSv(sekPerUnit)} SEK/${currency} per ${rateDate} (${source})`,
    );
  }
  const tail = `, ${parts.join('. ')}`;
  return head + clampText(tail, Math.max(0, MAX_VOUCHER_TEXT - head.length));
}

// Characters a reference is made of; a neighbour from this set means the match is part of
// a longer reference (XISA93DJ inside XISA93DJ2 or XISA93DJ-2) and does not count.
const REFERENCE_CHAR = /[\p{L}\p{N}_-]/u;

/** True when `text` holds `paymentReference` as a whole token, not inside a longer one. */
export function voucherTextHasPaymentReference(text: string, paymentReference: string): boolean {
  if (paymentReference === '') return false;
  let from = 0;
  for (;;) {
    const at = text.indexOf(paymentReference, from);
    if (at < 0) return false;
    const before = at > 0 ? text[at - 1]! : '';
    const after = text[at + paymentReference.length] ?? '';
    if (!REFERENCE_CHAR.test(before) && !REFERENCE_CHAR.test(after)) return true;
    from = at + 1;
  }
}

/** The payment reference in a voucher text this integration wrote, or null. */
export function paymentReferenceFromVoucherText(text: string): string | null {
  const at = text.indexOf(`${VOUCHER_TEXT_PREFIX} `);
  if (at < 0) return null;
  const token = /^\S+/.exec(text.slice(at + VOUCHER_TEXT_PREFIX.length + 1))?.[0];
  const reference = token?.replace(/[.,;:)]+$/, '');
  return reference ? reference : null;
}
