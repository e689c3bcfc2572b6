import { describe, expect, it } from 'vitest';
import { LoginThrottle } from './login-throttle.ts';
import { checkNewPassword, hashPassword, parsePasswordHash, verifyPassword } from './password.ts';
import { apiTokenHint, generateApiToken, sha256Hex } from './tokens.ts';

const FAST = { N: 1024, r: 8, p: 1, keyLength: 32 };

describe('password hashing', () => {
  it('stores salt and parameters, and verifies only the right password', async () => {
    const a = await hashPassword('correct horse battery staple', FAST);
    const b = await hashPassword('correct horse battery staple', FAST);
    expect(a).toMatch(/^scrypt\$N=1024,r=8,p=1\$/);
    expect(a).not.toBe(b);
    expect(await verifyPassword('correct horse battery staple', a)).toBe(true);
    expect(await verifyPassword('correct horse battery stapler', a)).toBe(false);
    expect(parsePasswordHash(a)?.params).toEqual(FAST);
  });

  it('rejects malformed hashes instead of throwing', async () => {
    expect(await verifyPassword('x', 'bcrypt$whatever')).toBe(false);
    expect(await verifyPassword('x', 'scrypt$N=1000,r=8,p=1$AAAA$AAAA')).toBe(false);
  });

  it('asks for length, not composition', () => {
    expect(checkNewPassword('short')).toBe('too_short');
    expect(checkNewPassword('a'.repeat(2000))).toBe('too_long');
    expect(checkNewPassword('långt lösenord här', 'annat')).toBe('mismatch');
    expect(checkNewPassword('långt lösenord här', 'långt lösenord här')).toBeUndefined();
  });
});

describe('API tokens', () => {
  it('are random, prefixed, and hinted by their last four characters', () => {
    const t = generateApiToken();
    expect(t).toMatch(/^ks_[A-Za-z0-9_-]{43}$/);
    expect(generateApiToken()).not.toBe(t);
    expect(apiTokenHint(t)).toBe(`ks_…${t.slice(-4)}`);
    expect(sha256Hex(t)).toHaveLength(64);
  });
});

describe('LoginThrottle', () => {
  const limits = { perIp: { max: 3, windowMs: 60_000 }, global: { max: 5, windowMs: 60_000 } };

  it('locks an IP after its failures until the window ends, and tells how long', () => {
    let now = 1_000_000;
    const th = new LoginThrottle(limits, () => now);
    for (let i = 0; i < 3; i++) th.recordFailure('1.1.1.1');
    expect(th.check('1.1.1.1')).toEqual({ allowed: false, retryAfterMs: 60_000 });
    expect(th.check('2.2.2.2')).toEqual({ allowed: true });
    now += 59_000;
    expect(th.check('1.1.1.1')).toEqual({ allowed: false, retryAfterMs: 1_000 });
    now += 1_000;
    expect(th.check('1.1.1.1')).toEqual({ allowed: true });
  });

  it('locks everyone once failures from many IPs pass the global limit', () => {
    const th = new LoginThrottle(limits, () => 0);
    for (let i = 0; i < 5; i++) th.recordFailure(`10.0.0.${i}`);
    expect(th.check('192.0.2.1').allowed).toBe(false);
  });

  it('forgets an IP after a successful login', () => {
    const th = new LoginThrottle(limits, () => 0);
    th.recordFailure('1.1.1.1');
    th.recordFailure('1.1.1.1');
    th.recordSuccess('1.1.1.1');
    th.recordFailure('1.1.1.1');
    expect(th.check('1.1.1.1').allowed).toBe(true);
  });
});
