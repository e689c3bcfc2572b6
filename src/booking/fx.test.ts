import { describe, expect, it } from 'vitest';
import { addDays, daysBetween, isIsoDate, stockholmDate } from './calendar.ts';
import {
  divRoundHalfAwayFromZero,
  formatDecimalSv,
  formatMinorSv,
  normaliseDecimal,
  numberToDecimalString,
  parseDecimal,
} from './decimal.ts';
import { convertMinorToSek, currencyMinorDigits } from './fx.ts';

describe('convertMinorToSek', () => {
  it.each([
    [100, 'EUR', '11.0671', 1_107], // 1,00 EUR → 11,0671 → 11,07
    [100_001, 'EUR', '10.5', 1_050_011], // 10 500,105 öre → half away from zero
    [-100_001, 'EUR', '10.5', -1_050_011],
    [1, 'EUR', '10.49', 10],
    [12_345_678_901, 'EUR', '11.06705', 136_630_245_681],
    // 1,00 × 1.005 is 100.49999999999999 in floating point, which Math.round takes down.
    [100, 'EUR', '1.005', 101],
    [1_000, 'JPY', '0.059', 5_900], // yen have no minor unit
    [1_000, 'KWD', '33.5', 3_350], // 1,000 dinar → 33,50 SEK
    [100, 'USD', '0.000001', 0],
    [0, 'EUR', '11', 0],
  ])('%i %s minor at %s → %i öre', (minor, currency, rate, expected) => {
    expect(convertMinorToSek(minor, currency, rate)).toBe(expected);
  });

  it('rejects rates that are not positive decimals and amounts that are not whole', () => {
    expect(() => convertMinorToSek(100, 'EUR', '0')).toThrow(RangeError);
    expect(() => convertMinorToSek(100, 'EUR', '-1')).toThrow(RangeError);
    expect(() => convertMinorToSek(100, 'EUR', '1e3')).toThrow(RangeError);
    expect(() => convertMinorToSek(1.5, 'EUR', '11')).toThrow(RangeError);
  });

  it.each([
    ['SEK', 2],
    ['EUR', 2],
    ['jpy', 0],
    ['ISK', 0],
    ['BHD', 3],
  ])('%s has %i minor digits', (code, digits) => {
    expect(currencyMinorDigits(code)).toBe(digits);
  });
});

describe('decimal helpers', () => {
  it.each([
    [5n, 2n, 3n],
    [-5n, 2n, -3n],
    [5n, -2n, -3n],
    [7n, 3n, 2n],
    [-7n, 3n, -2n],
    [8n, 3n, 3n],
    [0n, 7n, 0n],
  ])('%s / %s rounds half away from zero to %s', (n, d, q) => {
    expect(divRoundHalfAwayFromZero(n, d)).toBe(q);
  });

  it('parses only plain non-negative decimals', () => {
    expect(parseDecimal('11.06705')).toEqual({ units: 1_106_705n, scale: 5 });
    expect(parseDecimal(' 3 ')).toEqual({ units: 3n, scale: 0 });
    for (const bad of ['', '-1', '1e3', '1,5', '.5', '5.', 'NaN']) expect(parseDecimal(bad)).toBeNull();
  });

  it.each([
    [11.06705, '11.06705'],
    [0.059, '0.059'],
    [1e-7, '0.0000001'],
    [1.5e-7, '0.00000015'],
    [1e21, '1000000000000000000000'],
    [10, '10'],
  ])('number %d → %s', (value, text) => {
    expect(numberToDecimalString(value)).toBe(text);
  });

  it('formats amounts and rates the Swedish way', () => {
    expect(formatMinorSv(123_450)).toBe('1 234,50');
    expect(formatMinorSv(5)).toBe('0,05');
    expect(formatMinorSv(-100_000_000)).toBe('-1 000 000,00');
    expect(formatMinorSv(1_000, 0)).toBe('1 000');
    expect(formatDecimalSv('11.06700')).toBe('11,067');
    expect(normaliseDecimal('2.000')).toBe('2');
    expect(normaliseDecimal('0.50')).toBe('0.5');
  });
});

describe('calendar', () => {
  it('validates dates and moves them across month and DST boundaries', () => {
    expect(isIsoDate('2026-02-28')).toBe(true);
    expect(isIsoDate('2026-02-29')).toBe(false);
    expect(isIsoDate('2026-3-1')).toBe(false);
    expect(addDays('2026-03-29', -10)).toBe('2026-03-19');
    expect(addDays('2026-03-02', -10)).toBe('2026-02-20');
    expect(daysBetween('2026-03-20', '2026-03-30')).toBe(10);
    expect(stockholmDate('not a date')).toBeNull();
    expect(stockholmDate('2026-02-30')).toBeNull();
    expect(stockholmDate(new Date('2026-06-30T22:30:00Z'))).toBe('2026-07-01');
  });
});
