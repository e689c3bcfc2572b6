import { describe, expect, it } from 'vitest';
import { evaluateGoLive, type GoLiveFacts, integrationFingerprint, postingAllowed } from './go-live.ts';

const NOW = new Date('2026-06-15T12:00:00.000Z');
const ago = (hours: number) => new Date(NOW.getTime() - hours * 3_600_000).toISOString();

/** Everything in order for live: each test breaks one thing. */
function ready(): GoLiveFacts {
  return {
    now: NOW,
    integration: { name: 'shop', mode: 'test', status: 'ok', statusReason: null },
    klarna: {
      environment: 'production',
      status: 'active',
      statusReason: null,
      secretHint: 'klarna_live_api_…abc',
    },
    spiris: {
      environment: 'production',
      status: 'active',
      statusReason: null,
      externalName: 'Testbolaget Nordic AB',
      externalId: '556677-8899',
    },
    lastChange: { id: 10, at: ago(5), what: 'klarna.connected' },
    lastConnectionTest: { id: 11, at: ago(2), ok: true, fingerprint: 'fp' },
    lastPreview: { id: 12, at: ago(1), payouts: 3, ready: 3, blocking: 0 },
    fingerprint: 'fp',
    confirmed: true,
  };
}

function failing(facts: GoLiveFacts): string[] {
  return evaluateGoLive(facts)
    .checks.filter((c) => !c.ok)
    .map((c) => c.id);
}

describe('evaluateGoLive', () => {
  it('allows live when every condition holds, and says so per check', () => {
    const e = evaluateGoLive(ready());
    expect(e.allowed).toBe(true);
    expect(e.checks.map((c) => c.id)).toEqual([
      'klarna_live_key',
      'spiris_production',
      'connections_ready',
      'connection_test',
      'preview',
      'confirmation',
    ]);
    expect(e.checks.every((c) => c.ok && c.fix === null)).toBe(true);
  });

  it.each<[string, (f: GoLiveFacts) => void, string, RegExp]>([
    [
      'no confirmation',
      (f) => {
        f.confirmed = false;
      },
      'confirmation',
      /explicit confirmation/,
    ],
    [
      'no Klarna key',
      (f) => {
        f.klarna = null;
      },
      'klarna_live_key',
      /No Klarna key/,
    ],
    [
      'a Klarna test key',
      (f) => {
        f.klarna = { ...f.klarna!, environment: 'playground' };
      },
      'klarna_live_key',
      /test key \(playground\)/,
    ],
    [
      'a Spiris sandbox',
      (f) => {
        f.spiris = { ...f.spiris!, environment: 'sandbox' };
      },
      'spiris_production',
      /sandbox \(non-production\)/,
    ],
    [
      'no Spiris company',
      (f) => {
        f.spiris = null;
      },
      'spiris_production',
      /No Spiris company/,
    ],
    [
      'a paused integration',
      (f) => {
        f.integration = { ...f.integration, status: 'paused', statusReason: 'Klarna: key revoked' };
      },
      'connections_ready',
      /paused \(Klarna: key revoked\)/,
    ],
    [
      'a Spiris connection that needs re-authorization',
      (f) => {
        f.spiris = { ...f.spiris!, status: 'needs_reauthorization' };
      },
      'connections_ready',
      /Spiris connection is needs_reauthorization/,
    ],
    [
      'no connection test',
      (f) => {
        f.lastConnectionTest = null;
      },
      'connection_test',
      /No connection test/,
    ],
    [
      'a failed connection test',
      (f) => {
        f.lastConnectionTest = { ...f.lastConnectionTest!, ok: false };
      },
      'connection_test',
      /failed/,
    ],
    [
      'a stale connection test (25 hours)',
      (f) => {
        f.lastConnectionTest = { ...f.lastConnectionTest!, at: ago(25) };
      },
      'connection_test',
      /last 24 hours/,
    ],
    [
      'a test of other settings',
      (f) => {
        f.lastConnectionTest = { ...f.lastConnectionTest!, fingerprint: 'other' };
      },
      'connection_test',
      /changed after the latest connection test/,
    ],
    [
      'a connection change after the test',
      (f) => {
        f.lastChange = { id: 13, at: ago(0.5), what: 'spiris.connected' };
      },
      'connection_test',
      /spiris\.connected/,
    ],
    [
      'no preview',
      (f) => {
        f.lastPreview = null;
      },
      'preview',
      /No preview/,
    ],
    [
      'a preview with blocking issues',
      (f) => {
        f.lastPreview = { ...f.lastPreview!, blocking: 2, ready: 1 };
      },
      'preview',
      /2 blocking issue\(s\) \(1 of 3/,
    ],
    [
      'a preview from before the connection test',
      (f) => {
        f.lastPreview = { ...f.lastPreview!, id: 9, at: ago(3) };
      },
      'preview',
      /older than the last change|before the latest connection test/,
    ],
  ])('refuses with %s', (_name, breakIt, id, message) => {
    const facts = ready();
    breakIt(facts);
    const e = evaluateGoLive(facts);
    expect(e.allowed).toBe(false);
    const check = e.checks.find((c) => c.id === id)!;
    expect(check.ok).toBe(false);
    expect(check.message).toMatch(message);
    expect(check.fix).toMatch(/klarna-spiris|Merchant Portal|admin page/);
  });

  it('takes a preview from before the test when it recorded the same fingerprint, and refuses another', () => {
    const facts = ready();
    facts.lastPreview = { id: 10.5, at: ago(3), payouts: 1, ready: 1, blocking: 0, fingerprint: 'fp' };
    facts.lastChange = { id: 9, at: ago(6), what: 'klarna.connected' };
    expect(failing(facts)).toEqual([]);
    facts.lastPreview.fingerprint = 'old';
    expect(failing(facts)).toEqual(['preview']);
  });

  it('orders by event id, not by clock, when both sides are events', () => {
    const facts = ready();
    // Same millisecond, but the preview was recorded after the change.
    facts.lastChange = { id: 20, at: ago(1), what: 'mapping.updated' };
    facts.lastConnectionTest = { id: 21, at: ago(1), ok: true, fingerprint: 'fp' };
    facts.lastPreview = { id: 22, at: ago(1), payouts: 0, ready: 0, blocking: 0 };
    expect(failing(facts)).toEqual([]);
    facts.lastPreview.id = 19;
    expect(failing(facts)).toEqual(['preview']);
  });
});

describe('postingAllowed', () => {
  const sandbox = { environment: 'sandbox' };
  const production = { environment: 'production' };
  it('posts in live, in test only into a sandbox, never when off or paused', () => {
    expect(postingAllowed({ mode: 'live' }, production)).toEqual({ allowed: true });
    expect(postingAllowed({ mode: 'test' }, sandbox)).toEqual({ allowed: true });
    expect(postingAllowed({ mode: 'test' }, { environment: 'sandbox-legacy' })).toEqual({ allowed: true });
    expect(postingAllowed({ mode: 'test' }, production)).toMatchObject({
      allowed: false,
      reason: expect.stringMatching(/preview-only/),
    });
    expect(postingAllowed({ mode: 'off' }, sandbox)).toMatchObject({
      allowed: false,
      reason: 'The integration is off.',
    });
    expect(
      postingAllowed({ mode: 'live', status: 'paused', statusReason: 'Klarna: key revoked' }, production),
    ).toMatchObject({ allowed: false, reason: expect.stringMatching(/paused: Klarna: key revoked/) });
    expect(postingAllowed({ mode: 'live' }, null)).toMatchObject({ allowed: false });
  });
});

describe('integrationFingerprint', () => {
  const base = { name: 'shop', klarnaConnectionId: 'k1', spirisConnectionId: 's1', settings: {} };
  it('changes with a connection or a setting, not with key order or spelled-out defaults', () => {
    const fp = integrationFingerprint(base);
    expect(integrationFingerprint({ ...base, klarnaConnectionId: 'k2' })).not.toBe(fp);
    expect(integrationFingerprint({ ...base, settings: { mapping: { bankAccount: '1932' } } })).not.toBe(fp);
    expect(integrationFingerprint({ ...base, settings: { mapping: { bankAccount: '1930' } } })).toBe(fp);
    expect(integrationFingerprint({ ...base, settings: { attachReport: true, syncWindowDays: 14 } })).toBe(
      fp,
    );
  });
});
