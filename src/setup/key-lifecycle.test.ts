import { describe, expect, it } from 'vitest';
import { decideKlarnaKeyReplacement, klarnaKeyIdleDays, klarnaKeyIdleWarning } from './key-lifecycle.ts';

const live = { name: 'shop', mode: 'live' as const };
const test = { name: 'shop', mode: 'test' as const };

describe('decideKlarnaKeyReplacement', () => {
  it('refuses a test key in a live integration', () => {
    const d = decideKlarnaKeyReplacement({
      integration: live,
      environment: 'playground',
      merchantId: 'M1',
      knownMerchantIds: ['M1'],
      confirmMerchantChange: true,
    });
    expect(d).toMatchObject({
      ok: false,
      message: expect.stringMatching(/is live .* only a live key .* test key/),
    });
  });

  it('takes a rotated key of the same merchant, and refuses another merchant unless confirmed', () => {
    const same = decideKlarnaKeyReplacement({
      integration: live,
      environment: 'production',
      merchantId: 'M1',
      knownMerchantIds: ['M1'],
      confirmMerchantChange: false,
    });
    expect(same).toEqual({ ok: true, merchantChanged: false, warnings: [] });
    const other = {
      integration: test,
      environment: 'playground' as const,
      merchantId: 'M2',
      knownMerchantIds: ['M1'],
    };
    expect(decideKlarnaKeyReplacement({ ...other, confirmMerchantChange: false })).toMatchObject({
      ok: false,
      message: expect.stringMatching(/merchant M2, but .* merchant M1\. .* --confirm-merchant-change/),
    });
    expect(decideKlarnaKeyReplacement({ ...other, confirmMerchantChange: true })).toMatchObject({
      ok: true,
      merchantChanged: true,
    });
  });

  it('warns when the merchant behind the key is unknown', () => {
    expect(
      decideKlarnaKeyReplacement({
        integration: test,
        environment: 'playground',
        merchantId: undefined,
        knownMerchantIds: ['M1'],
        confirmMerchantChange: false,
      }),
    ).toMatchObject({ ok: true, warnings: [expect.stringMatching(/make sure it is for merchant M1/)] });
  });
});

describe('idle keys', () => {
  const now = new Date('2026-06-15T12:00:00Z');
  const daysAgo = (d: number) => new Date(now.getTime() - d * 86_400_000).toISOString();
  it('warns after 45 idle days, counting from the last use or from when the key was stored', () => {
    expect(
      klarnaKeyIdleWarning({ config: { lastUsedAt: daysAgo(45) }, createdAt: daysAgo(90) }, now),
    ).toBeUndefined();
    expect(
      klarnaKeyIdleWarning({ config: { lastUsedAt: daysAgo(46) }, createdAt: daysAgo(90) }, now),
    ).toMatch(/last used 46 days ago; Klarna disables keys unused for two months/);
    expect(klarnaKeyIdleWarning({ config: {}, createdAt: daysAgo(50) }, now)).toMatch(
      /stored and not used since 50 days/,
    );
    expect(klarnaKeyIdleDays({ config: { lastUsedAt: 'garbage' }, createdAt: daysAgo(3) }, now)).toBe(3);
  });
});
