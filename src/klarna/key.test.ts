import { describe, expect, it } from 'vitest';
import { Secret } from '../setup/secret.ts';
import {
  environmentOfKey,
  KlarnaCredentialsError,
  requireKlarnaCredentials,
  validateKlarnaCredentials,
} from './key.ts';

const TEST_KEY = 'klarna_test_api_ZmFrZV9rZXlfZm9yX3Rlc3RzX29ubHk';
const LIVE_KEY = 'klarna_live_api_ZmFrZV9saXZlX2tleV9mb3JfdGVzdHM';
const UUID = '0b6f5e8c-1d2a-4c3b-9e8f-7a6b5c4d3e2f';

describe('validateKlarnaCredentials: rejected input', () => {
  const cases: Array<[string, Parameters<typeof validateKlarnaCredentials>[0], string, RegExp]> = [
    ['empty key', { apiKey: '' }, 'apiKey', /^The Klarna API key is empty\.$/],
    ['missing key', { apiKey: undefined }, 'apiKey', /is empty/],
    ['whitespace only', { apiKey: '   ' }, 'apiKey', /only of whitespace/],
    [
      'trailing newline',
      { apiKey: `${TEST_KEY}\n` },
      'apiKey',
      /has trailing line break; paste the key alone/,
    ],
    ['trailing CRLF', { apiKey: `${TEST_KEY}\r\n` }, 'apiKey', /has trailing line break;/],
    ['leading space', { apiKey: ` ${TEST_KEY}` }, 'apiKey', /has leading space;/],
    [
      'leading tab, trailing space',
      { apiKey: `\t${TEST_KEY} ` },
      'apiKey',
      /has leading tab and trailing space;/,
    ],
    ['double quotes', { apiKey: `"${TEST_KEY}"` }, 'apiKey', /wrapped in quotes/],
    ['single quotes', { apiKey: `'${TEST_KEY}'` }, 'apiKey', /wrapped in quotes/],
    ['one typographic quote', { apiKey: `${TEST_KEY}”` }, 'apiKey', /quote at one end/],
    ['line break inside', { apiKey: `klarna_test_api_abc\ndefghijk` }, 'apiKey', /contains a line break/],
    ['space inside', { apiKey: `klarna_test_api_abc defghijk` }, 'apiKey', /whitespace inside/],
    [
      'legacy username as key',
      { apiKey: 'K123456_abcd12345' },
      'apiKey',
      /legacy Klarna API username \(K123456_…\), not an API key\. Create an API key in the Merchant Portal → Settings → API credentials/,
    ],
    ['legacy PK username as key', { apiKey: 'PK27631_9dfg28uy0p43' }, 'apiKey', /legacy Klarna API username/],
    ['UUID as key', { apiKey: UUID }, 'apiKey', /This is a UUID, which is the username/],
    ['upper-case prefix', { apiKey: 'KLARNA_TEST_API_abcdefghij' }, 'apiKey', /prefix must be lower case/],
    [
      'wrong prefix',
      { apiKey: 'sk_live_abcdefghijklmnop' },
      'apiKey',
      /not a Klarna API key: keys start with klarna_live_api_ \(production\) or klarna_test_api_ \(playground\)/,
    ],
    ['prefix only', { apiKey: 'klarna_test_api_' }, 'apiKey', /incomplete/],
    [
      'username not a UUID',
      { apiKey: TEST_KEY, username: 'merchant-1' },
      'username',
      /must be the UUID shown next to the API key/,
    ],
    [
      'username with whitespace',
      { apiKey: TEST_KEY, username: ` ${UUID}` },
      'username',
      /username has leading space/,
    ],
    [
      'legacy username',
      { apiKey: TEST_KEY, username: 'K123456_abcd12345' },
      'username',
      /legacy Klarna API username .* does not work with an API key/,
    ],
    ['key as username', { apiKey: TEST_KEY, username: TEST_KEY }, 'username', /looks like an API key/],
    ['region us', { apiKey: TEST_KEY, region: 'us' }, 'region', /North America is "na"/],
    ['region US', { apiKey: TEST_KEY, region: 'US' }, 'region', /North America is "na"/],
    [
      'unknown region',
      { apiKey: TEST_KEY, region: 'asia' },
      'region',
      /use eu \(Europe\), na \(North America\) or oc \(Oceania\)/,
    ],
    [
      'test key for production',
      { apiKey: TEST_KEY, environment: 'production' },
      'environment',
      /test key \(klarna_test_api_…\), aimed at the production/,
    ],
    [
      'live key for the playground',
      { apiKey: LIVE_KEY, environment: 'playground' },
      'environment',
      /live key \(klarna_live_api_…\), aimed at the playground/,
    ],
    [
      'unknown environment',
      { apiKey: TEST_KEY, environment: 'staging' },
      'environment',
      /Unknown Klarna environment/,
    ],
    [
      'test key at the production host',
      { apiKey: TEST_KEY, baseUrl: 'https://api.klarna.com' },
      'baseUrl',
      /test key .* aimed at the production \(https:\/\/api\.klarna\.com\)/,
    ],
    [
      'live key at the playground host',
      { apiKey: LIVE_KEY, baseUrl: 'https://api-na.playground.klarna.com/' },
      'baseUrl',
      /live key .* aimed at the playground/,
    ],
    ['base URL not a URL', { apiKey: TEST_KEY, baseUrl: 'api.klarna' }, 'baseUrl', /is not a URL/],
    [
      'plain http to a remote host',
      { apiKey: TEST_KEY, baseUrl: 'http://klarna.example.com' },
      'baseUrl',
      /must use https/,
    ],
    [
      'credentials in base URL',
      { apiKey: TEST_KEY, baseUrl: 'https://u:p@proxy.example.com' },
      'baseUrl',
      /must not contain credentials/,
    ],
    [
      'query in base URL',
      { apiKey: TEST_KEY, baseUrl: 'https://proxy.example.com/?a=1' },
      'baseUrl',
      /query or fragment/,
    ],
  ];

  it.each(cases)('%s', (_name, input, field, message) => {
    const result = validateKlarnaCredentials(input);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.field).toBe(field);
    expect(result.message).toMatch(message);
    // No part of a key may appear in a message.
    expect(result.message).not.toContain('ZmFrZV');
    expect(result.message).not.toContain('abcdefghij');
  });
});

describe('validateKlarnaCredentials: accepted input', () => {
  it('derives environment and region defaults from the key', () => {
    const result = validateKlarnaCredentials({ apiKey: TEST_KEY });
    expect(result).toMatchObject({
      ok: true,
      credentials: {
        environment: 'playground',
        region: 'eu',
        baseUrl: 'https://api.playground.klarna.com',
        customBaseUrl: false,
      },
    });
  });

  it.each([
    [LIVE_KEY, 'eu', 'https://api.klarna.com'],
    [LIVE_KEY, 'na', 'https://api-na.klarna.com'],
    [LIVE_KEY, 'oc', 'https://api-oc.klarna.com'],
    [TEST_KEY, 'na', 'https://api-na.playground.klarna.com'],
    [TEST_KEY, 'OC', 'https://api-oc.playground.klarna.com'],
  ])('%s in %s → %s', (apiKey, region, baseUrl) => {
    const creds = requireKlarnaCredentials({ apiKey, region });
    expect(creds.baseUrl).toBe(baseUrl);
  });

  it('keeps the key as a Secret and lower-cases the username', () => {
    const creds = requireKlarnaCredentials({
      apiKey: new Secret(TEST_KEY),
      username: UUID.toUpperCase(),
      environment: 'test',
    });
    expect(creds.apiKey.reveal()).toBe(TEST_KEY);
    expect(String(creds.apiKey)).not.toContain('ZmFrZV');
    expect(creds.username).toBe(UUID);
    expect(JSON.stringify(creds)).not.toContain('ZmFrZV');
  });

  it('accepts a simulator on localhost: the environment comes from the key', () => {
    const creds = requireKlarnaCredentials({
      apiKey: LIVE_KEY,
      baseUrl: 'http://127.0.0.1:4010/settlements/v1/',
    });
    expect(creds).toMatchObject({
      environment: 'production',
      baseUrl: 'http://127.0.0.1:4010',
      customBaseUrl: true,
    });
  });

  it('takes the region from a Klarna host given as base URL', () => {
    const creds = requireKlarnaCredentials({ apiKey: LIVE_KEY, baseUrl: 'https://api-oc.klarna.com/' });
    expect(creds).toMatchObject({ region: 'oc', baseUrl: 'https://api-oc.klarna.com', customBaseUrl: false });
  });

  it('keeps a proxy path prefix', () => {
    const creds = requireKlarnaCredentials({ apiKey: TEST_KEY, baseUrl: 'https://proxy.example.com/klarna' });
    expect(creds.baseUrl).toBe('https://proxy.example.com/klarna');
  });

  it('requireKlarnaCredentials throws a typed error', () => {
    expect(() => requireKlarnaCredentials({ apiKey: 'nope' })).toThrow(KlarnaCredentialsError);
  });
});

describe('environmentOfKey', () => {
  it.each([
    [TEST_KEY, 'playground'],
    [LIVE_KEY, 'production'],
    ['K123456_abc', undefined],
  ])('%s → %s', (key, env) => {
    expect(environmentOfKey(key)).toBe(env);
  });
});
