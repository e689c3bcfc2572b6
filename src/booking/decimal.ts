/**
 * Exact decimal arithmetic for exchange rates and VAT rates. Money stays in integer
 * minor units; a rate is a decimal string turned into a scaled BigInt, so no amount
 * ever passes through a binary float.
 */

/** value = units / 10^scale */
export interface ScaledDecimal {
  units: bigint;
  scale: number;
}

const DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/** Parses a non-negative plain decimal such as `11.0671` (no sign, exponent or thousands separators). */
export function parseDecimal(text: string): ScaledDecimal | null {
  const m = DECIMAL.exec(text.trim());
  if (!m) return null;
  const fraction = m[2] ?? '';
  return { units: BigInt(m[1]! + fraction), scale: fraction.length };
}

/** True for a decimal string strictly greater than zero. */
export function isPositiveDecimal(text: string): boolean {
  const d = parseDecimal(text);
  return d !== null && d.units > 0n;
}

/**
 * n / d rounded half away from zero: 2.5 → 3 and −2.5 → −3. Chosen because it is the
 * rounding Spiris itself offers (`DomesticCurrencyRounding: HalfAwayFromZero`) and the
 * one a bookkeeper applies by hand (half an öre rounds up, for credits and debits alike),
 * so our figures match theirs.
 */
export function divRoundHalfAwayFromZero(n: bigint, d: bigint): bigint {
  if (d === 0n) throw new RangeError('division by zero');
  const negative = n < 0n !== d < 0n;
  const an = n < 0n ? -n : n;
  const ad = d < 0n ? -d : d;
  const q = (an * 2n + ad) / (ad * 2n);
  return negative ? -q : q;
}

export const pow10 = (n: number): bigint => 10n ** BigInt(n);

/**
 * A JSON number as a plain decimal string. JavaScript prints the shortest text that
 * reads back as the same double, which is the literal the server sent for any rate
 * with up to 15 significant digits; only the exponent form needs expanding.
 */
export function numberToDecimalString(value: number): string | null {
  if (!Number.isFinite(value) || value < 0) return null;
  const text = String(value);
  const m = /^(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
  if (!m) return text;
  const digits = m[1]! + (m[2] ?? '');
  const exponent = Number(m[3]);
  const pointAt = 1 + exponent;
  if (pointAt <= 0) return `0.${'0'.repeat(-pointAt)}${digits}`;
  if (pointAt >= digits.length) return digits + '0'.repeat(pointAt - digits.length);
  return `${digits.slice(0, pointAt)}.${digits.slice(pointAt)}`;
}

/** Drops trailing zeros after the point: `11.06700` → `11.067`, `2.0` → `2`. */
export function normaliseDecimal(text: string): string {
  const d = parseDecimal(text);
  if (!d) return text;
  const digits = d.units.toString().padStart(d.scale + 1, '0');
  const whole = digits.slice(0, digits.length - d.scale);
  const fraction = digits.slice(digits.length - d.scale).replace(/0+$/, '');
  return fraction ? `${whole}.${fraction}` : whole;
}

/** Decimal string in Swedish notation: `11.0671` → `11,0671`. */
export function formatDecimalSv(text: string): string {
  return normaliseDecimal(text).replace('.', ',');
}

/**
 * Minor units as a Swedish amount: 123450 → `1 234,50`. Plain spaces group the
 * thousands (not the U+00A0 Intl emits) so the text survives terminals, CSV and logs.
 */
export function formatMinorSv(minor: number | bigint, decimals = 2): string {
  const value = BigInt(minor);
  const negative = value < 0n;
  const digits = (negative ? -value : value).toString().padStart(decimals + 1, '0');
  const whole = digits.slice(0, digits.length - decimals).replace(/\B(?=(\d{3})+(?!\d))/g, ' ');
  const fraction = decimals > 0 ? `,${digits.slice(digits.length - decimals)}` : '';
  return `${negative ? '-' : ''}${whole}${fraction}`;
}
