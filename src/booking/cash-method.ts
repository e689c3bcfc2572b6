import { divRoundHalfAwayFromZero, formatDecimalSv, parseDecimal, pow10 } from './decimal.ts';

/**
 * Splits a VAT-inclusive amount: VAT = gross × rate / (100 + rate), rounded half away
 * from zero to the minor unit, and net = gross − VAT, so the two always sum to the gross
 * exactly. The rate is in percent, as a decimal string ("25", "25.5").
 */
export function splitGrossVat(
  grossMinor: number,
  vatRatePercent: string,
): { netMinor: number; vatMinor: number } {
  const rate = parseDecimal(vatRatePercent);
  if (!rate) throw new RangeError(`not a VAT rate: ${vatRatePercent}`);
  if (!Number.isSafeInteger(grossMinor)) throw new RangeError(`not an integer amount: ${grossMinor}`);
  const vat = divRoundHalfAwayFromZero(
    BigInt(grossMinor) * rate.units,
    100n * pow10(rate.scale) + rate.units,
  );
  const vatMinor = Number(vat);
  return { netMinor: grossMinor - vatMinor, vatMinor };
}

/** "25 %" in Swedish notation. */
export function formatRateSv(vatRatePercent: string): string {
  return `${formatDecimalSv(vatRatePercent)} %`;
}
