import { describe, expect, it } from 'vitest';
import { buildVoucherText, voucherTextHasPaymentReference } from '../booking/voucher-text.ts';
import {
  bookingVoucherText,
  identifyVoucherText,
  reversalVoucherText,
  voucherTextMatches,
} from './voucher-marker.ts';

const planned = buildVoucherText({
  paymentReference: 'XISA93DJ',
  voucherDate: '2026-04-01',
  merchantId: 'K123456',
});

describe('voucher marker', () => {
  it('keeps generation 1 as planned and puts later generations right after the reference', () => {
    expect(bookingVoucherText(planned, 'XISA93DJ', 1)).toBe(planned);
    expect(bookingVoucherText(planned, 'XISA93DJ', 2)).toBe(
      'Klarna utbetalning XISA93DJ omg. 2 2026-04-01, Klarna-id K123456',
    );
  });

  it('identifies exactly one of the vouchers a payout can have', () => {
    const texts = {
      book1: bookingVoucherText(planned, 'XISA93DJ', 1),
      book2: bookingVoucherText(planned, 'XISA93DJ', 2),
      book12: bookingVoucherText(planned, 'XISA93DJ', 12),
      rev1: reversalVoucherText({
        paymentReference: 'XISA93DJ',
        generation: 1,
        voucherNumber: 'A42',
        voucherDate: '2026-04-01',
      }),
      rev2: reversalVoucherText({
        paymentReference: 'XISA93DJ',
        generation: 2,
        voucherNumber: 'A57',
        voucherDate: '2026-04-01',
      }),
    };
    expect(texts.rev1).toBe(
      'Rättelse av verifikation A42 (Klarna XISA93DJ), återför bokföringen av Klarnas utbetalning från 2026-04-01',
    );
    const wanted: Array<[keyof typeof texts, 'book' | 'reverse', number]> = [
      ['book1', 'book', 1],
      ['book2', 'book', 2],
      ['book12', 'book', 12],
      ['rev1', 'reverse', 1],
      ['rev2', 'reverse', 2],
    ];
    for (const [key, kind, generation] of wanted) {
      expect(voucherTextHasPaymentReference(texts[key], 'XISA93DJ'), key).toBe(true);
      const matching = Object.entries(texts).filter(([, t]) =>
        voucherTextMatches(t, 'XISA93DJ', kind, generation),
      );
      expect(matching.map(([k]) => k)).toEqual([key]);
    }
  });

  it('ignores other payouts, longer references and hand-typed texts', () => {
    expect(identifyVoucherText('Klarna utbetalning XISA93DJ2 2026-04-01', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Klarna utbetalning XISA93DJ-2 2026-04-01', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Manuell rättelse XISA93DJ', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Ref Klarna utbetalning XISA93DJ 2026-04-01', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Klarna utbetalning XISA93DJ omg. 2x', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Klarna utbetalning ABC 2026-04-01, Klarna-id K1', 'XISA93DJ')).toBeNull();
    expect(identifyVoucherText('Rättelse av verifikation A1 (Klarna XISA93DJ omg. 3)', 'XISA93DJ')).toEqual({
      kind: 'reverse',
      generation: 3,
    });
  });
});
