// The one place where öre become the API's decimal amounts and back. Everything is
// done on integers and decimal strings: 0.1 + 0.2 style float drift must never reach
// a voucher, where one öre off makes it unbalanced.

/** The API's ceiling for DebitAmount/CreditAmount (10 000 000 000.00), in öre. */
export const MAX_AMOUNT_MINOR = 1_000_000_000_000;

/** 12345 → "123.45", -5 → "-0.05"; always two decimals. */
export function minorToDecimalString(minor: number): string {
  if (!Number.isSafeInteger(minor)) {
    throw new RangeError(`amount in öre must be a safe integer, got ${minor}`);
  }
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  const kronor = Math.floor(abs / 100);
  const ore = abs % 100;
  return `${sign}${kronor}.${ore.toString().padStart(2, '0')}`;
}

/**
 * 12345 → 123.45 as a JSON number. Parsing the exact decimal string gives the double
 * nearest to it, and JavaScript prints a double with the shortest text that reads
 * back the same, so JSON.stringify shows "123.45", never "123.45000000000002"; this
 * holds for up to 15 significant digits, far above the API's 10^10 ceiling.
 */
export function minorToAmount(minor: number): number {
  return Number(minorToDecimalString(minor));
}

/**
 * 123.45 or "123.45" → 12345. Rejects more than two decimals instead of rounding:
 * an amount the API would refuse (or that lost precision) is a bug to surface.
 */
export function amountToMinor(amount: number | string): number {
  const text = typeof amount === 'number' ? numberToPlainString(amount) : amount.trim();
  const m = /^([+-]?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) throw new RangeError(`not a decimal amount: ${JSON.stringify(amount)}`);
  const [, sign, whole, fraction = ''] = m;
  const trimmed = fraction.replace(/0+$/, '');
  if (trimmed.length > 2) {
    throw new RangeError(`amount ${text} has more than two decimals`);
  }
  const minor = Number(whole) * 100 + Number(trimmed.padEnd(2, '0'));
  if (!Number.isSafeInteger(minor)) throw new RangeError(`amount ${text} is too large`);
  return sign === '-' && minor !== 0 ? -minor : minor;
}

function numberToPlainString(n: number): string {
  if (!Number.isFinite(n)) throw new RangeError(`not a finite amount: ${n}`);
  const s = String(n);
  // Exponent notation appears only below 1e-6 or above 1e21; neither is a valid amount,
  // but 1e-7 must be refused as "too many decimals", not misread.
  if (/e/i.test(s)) {
    if (Math.abs(n) < 1) throw new RangeError(`amount ${s} has more than two decimals`);
    throw new RangeError(`amount ${s} is too large`);
  }
  return s;
}
