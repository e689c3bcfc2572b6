import { describe, expect, it } from 'vitest';
import { amountToMinor, minorToAmount, minorToDecimalString } from './amount.ts';

describe('minorToAmount', () => {
  it.each([
    [0, '0'],
    [1, '0.01'],
    [10, '0.1'],
    [99, '0.99'],
    [100, '1'],
    [12345, '123.45'],
    [-5, '-0.05'],
    [-12345, '-123.45'],
    [30, '0.3'],
    [1_000_000_000_000, '10000000000'],
    [999_999_999_999, '9999999999.99'],
    [123_456_789_012, '1234567890.12'],
    [-999_999_999_999, '-9999999999.99'],
  ])('%i öre serialises as %s', (minor, json) => {
    expect(JSON.stringify(minorToAmount(minor))).toBe(json);
  });

  it('always gives two decimals as a string', () => {
    expect(minorToDecimalString(100)).toBe('1.00');
    expect(minorToDecimalString(-1)).toBe('-0.01');
    expect(minorToDecimalString(0)).toBe('0.00');
  });

  it('round-trips every öre value in a range that exposes float drift', () => {
    for (let minor = -20_000; minor <= 20_000; minor += 7) {
      expect(amountToMinor(minorToAmount(minor))).toBe(minor);
    }
    for (const minor of [10_000_000_001, 999_999_999_999, 123_456_789_099]) {
      expect(amountToMinor(minorToAmount(minor))).toBe(minor);
    }
  });

  it('refuses fractional or unsafe öre', () => {
    expect(() => minorToAmount(1.5)).toThrow(RangeError);
    expect(() => minorToAmount(Number.MAX_SAFE_INTEGER + 1)).toThrow(RangeError);
  });
});

describe('amountToMinor', () => {
  it.each([
    [123.45, 12345],
    ['123.45', 12345],
    ['0.1', 10],
    [0.1 + 0.2 - 0.00000000000000004, 30],
    ['-0.05', -5],
    ['100', 10000],
    ['100.00', 10000],
    ['100.500', 10050],
    [-0, 0],
  ])('%s → %i öre', (amount, minor) => {
    expect(amountToMinor(amount)).toBe(minor);
  });

  it('refuses more than two decimals instead of rounding', () => {
    expect(() => amountToMinor(1.005)).toThrow(/more than two decimals/);
    expect(() => amountToMinor('0.001')).toThrow(/more than two decimals/);
    expect(() => amountToMinor(1e-7)).toThrow(/more than two decimals/);
    expect(() => amountToMinor(0.1 + 0.2)).toThrow(/more than two decimals/);
  });

  it('refuses text that is not a plain decimal', () => {
    expect(() => amountToMinor('1,50')).toThrow(/not a decimal/);
    expect(() => amountToMinor('')).toThrow(/not a decimal/);
    expect(() => amountToMinor(Number.NaN)).toThrow();
  });
});
