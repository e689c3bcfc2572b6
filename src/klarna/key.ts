import { Secret } from '../setup/secret.ts';

// Klarna API credentials: checked before any call so a mistyped or misplaced key fails
// with a message that says what is wrong, instead of an opaque 401 later.

export type KlarnaEnvironment = 'production' | 'playground';
export type KlarnaRegion = 'eu' | 'na' | 'oc';
export const KLARNA_REGIONS: readonly KlarnaRegion[] = ['eu', 'na', 'oc'];
export const KLARNA_ENVIRONMENTS: readonly KlarnaEnvironment[] = ['production', 'playground'];

/** Klarna's API hosts per region and environment (docs.klarna.com/api/api-urls). */
const KLARNA_ORIGINS: Record<KlarnaRegion, Record<KlarnaEnvironment, string>> = {
  eu: { production: 'https://api.klarna.com', playground: 'https://api.playground.klarna.com' },
  na: { production: 'https://api-na.klarna.com', playground: 'https://api-na.playground.klarna.com' },
  oc: { production: 'https://api-oc.klarna.com', playground: 'https://api-oc.playground.klarna.com' },
};

export const SETTLEMENTS_PATH = '/settlements/v1';

export function klarnaOrigin(region: KlarnaRegion, environment: KlarnaEnvironment): string {
  return KLARNA_ORIGINS[region][environment];
}

/** Validated credentials, ready for the client. */
export interface KlarnaCredentials {
  readonly apiKey: Secret;
  /** The UUID shown next to the key in the Merchant Portal; optional. */
  readonly username?: string;
  readonly environment: KlarnaEnvironment;
  readonly region: KlarnaRegion;
  /** Origin the client talks to, without a trailing slash and without /settlements/v1. */
  readonly baseUrl: string;
  /** True when the origin is not one of Klarna's own hosts (a simulator or a proxy). */
  readonly customBaseUrl: boolean;
}

export interface KlarnaCredentialsInput {
  apiKey: string | Secret | undefined;
  username?: string | undefined;
  region?: string | undefined;
  /** What the user says the key is for; must agree with the key's own prefix. */
  environment?: string | undefined;
  baseUrl?: string | undefined;
}

export type KlarnaCredentialsField = 'apiKey' | 'username' | 'region' | 'environment' | 'baseUrl';

export type KlarnaCredentialsResult =
  | { ok: true; credentials: KlarnaCredentials }
  | { ok: false; field: KlarnaCredentialsField; message: string };

const KEY_PREFIX = /^klarna_(live|test)_api_/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
// Legacy usernames are the MID plus a random part: K123456_abcd12345, PK27631_9dfg28uy0p43.
const LEGACY_USERNAME = /^[A-Z]{1,3}\d{3,}_[A-Za-z0-9]+$/;
const WHERE_TO_CREATE = 'Merchant Portal → Settings → API credentials';

/** The environment a key belongs to, from its prefix; undefined when it has none. */
export function environmentOfKey(apiKey: string): KlarnaEnvironment | undefined {
  const m = KEY_PREFIX.exec(apiKey);
  if (!m) return undefined;
  return m[1] === 'live' ? 'production' : 'playground';
}

/**
 * Checks the key, username, region, environment and base URL together. Messages never
 * contain the key or any part of it; a wrong value is described, not echoed.
 */
export function validateKlarnaCredentials(input: KlarnaCredentialsInput): KlarnaCredentialsResult {
  const fail = (field: KlarnaCredentialsField, message: string): KlarnaCredentialsResult => ({
    ok: false,
    field,
    message,
  });
  const key = input.apiKey instanceof Secret ? input.apiKey.reveal() : (input.apiKey ?? '');

  const keyProblem = describeKeyProblem(key);
  if (keyProblem) return fail('apiKey', keyProblem);
  const keyEnvironment = environmentOfKey(key)!;

  let username: string | undefined;
  if (input.username !== undefined && input.username !== '') {
    const problem = describeUsernameProblem(input.username);
    if (problem) return fail('username', problem);
    username = input.username.toLowerCase();
  }

  let region: KlarnaRegion = 'eu';
  if (input.region !== undefined && input.region !== '') {
    const r = input.region.trim().toLowerCase();
    if (r === 'us') {
      return fail(
        'region',
        'Region "us" does not exist at Klarna: North America is "na" (api-na.klarna.com).',
      );
    }
    if (!(KLARNA_REGIONS as readonly string[]).includes(r)) {
      return fail(
        'region',
        `Unknown Klarna region "${input.region}": use eu (Europe), na (North America) or oc (Oceania).`,
      );
    }
    region = r as KlarnaRegion;
  }

  if (input.environment !== undefined && input.environment !== '') {
    const declared = normaliseEnvironment(input.environment);
    if (!declared) {
      return fail(
        'environment',
        `Unknown Klarna environment "${input.environment}": use production (live keys) or playground (test keys).`,
      );
    }
    if (declared !== keyEnvironment)
      return fail('environment', environmentMismatch(keyEnvironment, declared));
  }

  let baseUrl = klarnaOrigin(region, keyEnvironment);
  let customBaseUrl = false;
  if (input.baseUrl !== undefined && input.baseUrl !== '') {
    const parsed = parseBaseUrl(input.baseUrl);
    if (typeof parsed === 'string') return fail('baseUrl', parsed);
    const known = knownKlarnaOrigin(parsed.origin);
    if (known) {
      // A Klarna host decides the environment; a key for the other one would only get 401s.
      if (known.environment !== keyEnvironment) {
        return fail('baseUrl', environmentMismatch(keyEnvironment, known.environment, parsed.origin));
      }
      region = known.region;
    } else {
      customBaseUrl = true;
    }
    baseUrl = parsed.origin + parsed.pathPrefix;
  }

  return {
    ok: true,
    credentials: Object.freeze({
      apiKey: input.apiKey instanceof Secret ? input.apiKey : new Secret(key),
      ...(username ? { username } : {}),
      environment: keyEnvironment,
      region,
      baseUrl,
      customBaseUrl,
    }),
  };
}

/** Like validateKlarnaCredentials, but throws a `KlarnaCredentialsError` on bad input. */
export function requireKlarnaCredentials(input: KlarnaCredentialsInput): KlarnaCredentials {
  const result = validateKlarnaCredentials(input);
  if (!result.ok) throw new KlarnaCredentialsError(result.field, result.message);
  return result.credentials;
}

/** Raised when credentials are malformed before any request is made. */
export class KlarnaCredentialsError extends Error {
  constructor(
    readonly field: KlarnaCredentialsField,
    message: string,
  ) {
    super(message);
    this.name = 'KlarnaCredentialsError';
  }
}

function describeKeyProblem(key: string): string | undefined {
  if (key === '') return 'The Klarna API key is empty.';
  if (key.trim() === '') return 'The Klarna API key consists only of whitespace.';
  const edges = describeEdges(key);
  if (edges) return `The Klarna API key ${edges}; paste the key alone.`;
  if (/[\r\n]/.test(key)) return 'The Klarna API key contains a line break; paste it as a single line.';
  if (/\s/.test(key))
    return 'The Klarna API key contains whitespace inside it; paste it again without spaces.';
  if (LEGACY_USERNAME.test(key)) {
    return (
      'This looks like a legacy Klarna API username (K123456_…), not an API key. ' +
      `Create an API key in the ${WHERE_TO_CREATE} ("Generate new API credentials"); ` +
      'it starts with klarna_live_api_ or klarna_test_api_.'
    );
  }
  if (UUID.test(key)) {
    return (
      'This is a UUID, which is the username shown next to an API key, not the key itself. ' +
      'Pass it as the username and the key (klarna_live_api_… or klarna_test_api_…) as the API key.'
    );
  }
  if (!KEY_PREFIX.test(key)) {
    if (/^klarna_(live|test)_api_/i.test(key)) {
      return 'The Klarna API key prefix must be lower case: klarna_live_api_… or klarna_test_api_….';
    }
    return (
      'This is not a Klarna API key: keys start with klarna_live_api_ (production) or klarna_test_api_ ' +
      `(playground). Create one in the ${WHERE_TO_CREATE}.`
    );
  }
  if (key.replace(KEY_PREFIX, '').length < 8) {
    return 'The Klarna API key is incomplete: only its prefix (or a few characters after it) was given.';
  }
  return undefined;
}

function describeUsernameProblem(username: string): string | undefined {
  const edges = describeEdges(username);
  if (edges) return `The Klarna username ${edges}; paste the UUID alone.`;
  if (KEY_PREFIX.test(username)) {
    return 'The Klarna username looks like an API key. The username is the UUID shown next to the key; the key goes in the API key.';
  }
  if (LEGACY_USERNAME.test(username)) {
    return (
      'This is a legacy Klarna API username (K123456_…), which does not work with an API key. ' +
      'Use the UUID shown next to the key in the Merchant Portal, or leave the username out.'
    );
  }
  if (!UUID.test(username)) {
    return (
      'The Klarna username must be the UUID shown next to the API key in the Merchant Portal ' +
      '(like 0b6f5e8c-1d2a-4c3b-9e8f-7a6b5c4d3e2f), or be left out.'
    );
  }
  return undefined;
}

/** Names what surrounds a pasted value: quotes, spaces, tabs, line breaks. */
function describeEdges(value: string): string | undefined {
  const quote = /^(["'`“”‘’]).*\1$|^["'`“”‘’]|["'`“”‘’]$/s.exec(value);
  if (quote) return 'is wrapped in quotes or has a quote at one end';
  const leading = /^\s+/.exec(value)?.[0];
  const trailing = /\s+$/.exec(value)?.[0];
  if (!leading && !trailing) return undefined;
  const parts: string[] = [];
  if (leading) parts.push(`leading ${nameWhitespace(leading)}`);
  if (trailing) parts.push(`trailing ${nameWhitespace(trailing)}`);
  return `has ${parts.join(' and ')}`;
}

function nameWhitespace(ws: string): string {
  const kinds = new Set<string>();
  for (const ch of ws) {
    if (ch === '\n' || ch === '\r') kinds.add('line break');
    else if (ch === '\t') kinds.add('tab');
    else kinds.add('space');
  }
  return [...kinds].join('/');
}

function normaliseEnvironment(value: string): KlarnaEnvironment | undefined {
  const v = value.trim().toLowerCase();
  if (v === 'production' || v === 'live' || v === 'prod') return 'production';
  if (v === 'playground' || v === 'test') return 'playground';
  return undefined;
}

function environmentMismatch(keyEnv: KlarnaEnvironment, target: KlarnaEnvironment, origin?: string): string {
  const keyKind =
    keyEnv === 'production' ? 'a live key (klarna_live_api_…)' : 'a test key (klarna_test_api_…)';
  const where = origin ? `${target} (${origin})` : target;
  const fix =
    keyEnv === 'production'
      ? 'Use a klarna_test_api_ key for the playground, or point at production.'
      : 'Use a klarna_live_api_ key for production, or point at the playground.';
  return `This is ${keyKind}, aimed at the ${where}; Klarna refuses keys from the other environment. ${fix}`;
}

function knownKlarnaOrigin(
  origin: string,
): { region: KlarnaRegion; environment: KlarnaEnvironment } | undefined {
  for (const region of KLARNA_REGIONS) {
    for (const environment of KLARNA_ENVIRONMENTS) {
      if (KLARNA_ORIGINS[region][environment] === origin) return { region, environment };
    }
  }
  return undefined;
}

function parseBaseUrl(value: string): { origin: string; pathPrefix: string } | string {
  if (value.trim() !== value) return 'The Klarna base URL has surrounding whitespace.';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return `The Klarna base URL "${value}" is not a URL (expected e.g. https://api.klarna.com).`;
  }
  if (url.username || url.password) return 'The Klarna base URL must not contain credentials.';
  if (url.search || url.hash) return 'The Klarna base URL must not contain a query or fragment.';
  const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
    // The key travels in every request; only a local simulator may go without TLS.
    return 'The Klarna base URL must use https:// (plain http is allowed only for localhost).';
  }
  // Accept the origin with or without the API path, since both appear in Klarna's docs.
  let path = url.pathname.replace(/\/+$/, '');
  if (path.endsWith(SETTLEMENTS_PATH)) path = path.slice(0, -SETTLEMENTS_PATH.length);
  return { origin: url.origin, pathPrefix: path };
}
