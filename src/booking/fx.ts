import { divRoundHalfAwayFromZero, parseDecimal, pow10 } from './decimal.ts';

/** The company's reporting currency. The product books Swedish companies only. */
export const HOME_CURRENCY = 'SEK';

/**
 * Refusal limit for the rounding row, in öre. Each converted row is off by at most half
 * an öre, so anything near a krona means something other than rounding is wrong.
 */
export const MAX_FX_ROUNDING_MINOR = 100;

// ISO 4217 currencies whose minor unit is not the hundredth. Klarna sends amounts in the
// currency's minor unit, so a yen amount is whole yen and a dinar amount is fils.
const ZERO_DECIMAL = new Set(
  'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF'.split(' '),
);
const THREE_DECIMAL = new Set('BHD IQD JOD KWD LYD OMR TND'.split(' '));

/** Digits after the decimal point in the currency's minor unit. */
export function currencyMinorDigits(currency: string): number {
  const code = currency.toUpperCase();
  if (ZERO_DECIMAL.has(code)) return 0;
  if (THREE_DECIMAL.has(code)) return 3;
  return 2;
}

/**
 * Foreign minor units → öre at `sekPerUnit` SEK per one unit of the currency, rounded
 * half away from zero to the öre. Exact: the rate is a scaled BigInt, never a float.
 */
export function convertMinorToSek(minor: number, currency: string, sekPerUnit: string): number {
  const rate = parseDecimal(sekPerUnit);
  if (!rate || rate.units <= 0n) throw new RangeError(`not a positive decimal rate: ${sekPerUnit}`);
  if (!Number.isSafeInteger(minor)) throw new RangeError(`not an integer amount: ${minor}`);
  // minor / 10^digits units × units/10^scale SEK per unit × 100 öre per SEK
  const numerator = BigInt(minor) * rate.units * 100n;
  const denominator = pow10(rate.scale + currencyMinorDigits(currency));
  const sek = divRoundHalfAwayFromZero(numerator, denominator);
  if (sek > BigInt(Number.MAX_SAFE_INTEGER) || sek < BigInt(Number.MIN_SAFE_INTEGER)) {
    throw new RangeError('converted amount is out of range');
  }
  return Number(sek);
}
