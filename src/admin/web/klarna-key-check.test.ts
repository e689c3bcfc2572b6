import { describe, expect, it } from 'vitest';
import { environmentOfKey, validateKlarnaCredentials } from '../../klarna/key.ts';
import { KLARNA_KEY_CODES, klarnaKeyCheck } from './klarna-key-check.ts';

// The browser's live check (assets/klarna-key.js) must agree with the server's
// validateKlarnaCredentials on every kind of paste: whatever the page calls fine, the
// server accepts, and whatever it refuses, the server refuses too.

const body = 'Qz7Lk9Xw2Pm4Rt6Yb8Nc1Vd3';
const SAMPLES: Array<[string, string]> = [
  ['', 'empty'],
  ['   ', 'whitespace'],
  [`"klarna_test_api_${body}"`, 'quotes'],
  [`klarna_test_api_${body}'`, 'quotes'],
  [` klarna_test_api_${body}`, 'edges'],
  [`klarna_test_api_${body}\n`, 'edges'],
  [`klarna_test_api_${body.slice(0, 8)}\n${body.slice(8)}`, 'line_break'],
  [`klarna_test_api_${body.slice(0, 8)} ${body.slice(8)}`, 'inner_space'],
  ['K123456_abcd12345', 'legacy_username'],
  ['0b6f5e8c-1d2a-4c3b-9e8f-7a6b5c4d3e2f', 'uuid'],
  [`KLARNA_TEST_API_${body}`, 'prefix_case'],
  ['sk_live_abcdef0123456789', 'not_a_key'],
  ['klarna_test_api_', 'incomplete'],
  ['klarna_live_api_abc', 'incomplete'],
  [`klarna_test_api_${body}`, 'ok'],
  [`klarna_live_api_${body}`, 'ok'],
];

describe('the Klarna key check shared by the browser and the server', () => {
  it.each(SAMPLES)('%j → %s, and the server agrees', (key, code) => {
    const check = klarnaKeyCheck(key);
    expect(check.code).toBe(code);
    const server = validateKlarnaCredentials({ apiKey: key });
    expect(server.ok).toBe(code === 'ok');
    if (!server.ok) expect(server.field).toBe('apiKey');
  });

  it('names the environment from the prefix, as the server does', () => {
    expect(klarnaKeyCheck(`klarna_live_api_${body}`).environment).toBe('production');
    expect(klarnaKeyCheck('klarna_test_api_').environment).toBe('playground');
    expect(klarnaKeyCheck('nope').environment).toBeNull();
    for (const [key] of SAMPLES) {
      if (klarnaKeyCheck(key).code === 'ok') {
        expect(klarnaKeyCheck(key).environment).toBe(environmentOfKey(key));
      }
    }
  });

  it('covers every code the page has a message for', () => {
    expect(new Set(SAMPLES.map(([, c]) => c))).toEqual(new Set(KLARNA_KEY_CODES));
  });
});
