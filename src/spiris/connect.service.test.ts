import { describe, expect, it } from 'vitest';
import { Secret } from '../setup/secret.ts';
import { jwtExpiry, normaliseOrgNumber } from './connect.service.ts';

describe('normaliseOrgNumber', () => {
  it('treats the usual spellings of one org number as equal', () => {
    expect(normaliseOrgNumber('556677-8899')).toBe('5566778899');
    expect(normaliseOrgNumber('5566778899')).toBe('5566778899');
    expect(normaliseOrgNumber('SE556677889901')).toBe('5566778899');
    expect(normaliseOrgNumber('559999-0001')).not.toBe(normaliseOrgNumber('556677-8899'));
  });
});

describe('jwtExpiry', () => {
  it('reads exp from a JWT access token and ignores opaque tokens', () => {
    const payload = Buffer.from(JSON.stringify({ exp: 1_900_000_000 })).toString('base64url');
    expect(jwtExpiry(new Secret(`eyJhbGciOiJSUzI1NiJ9.${payload}.sig`))).toBe('2030-03-17T17:46:40.000Z');
    expect(jwtExpiry(new Secret('opaque-token'))).toBeUndefined();
    expect(jwtExpiry(new Secret('a.b.c'))).toBeUndefined();
  });
});
