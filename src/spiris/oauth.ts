import { createHash, randomBytes } from 'node:crypto';
import { meteredFetch } from '../http/metered-fetch.ts';
import { networkErrorCode } from '../http/network-error.ts';
import { backoffDelayMs, DEFAULT_RETRY_POLICY, type RetryPolicy } from '../http/retry.ts';
import { sleep as realSleep } from '../http/sleep.ts';
import { Secret } from '../setup/secret.ts';
import {
  SpirisConnectionError,
  SpirisError,
  SpirisOAuthError,
  spirisOAuthErrorFrom,
} from './spiris.errors.ts';

// OAuth 2 authorization-code flow against the Visma Online IdentityServer that
// eAccounting/Spiris uses (not Visma Connect).

export type SpirisEnvironment = 'production' | 'sandbox' | 'sandbox-legacy';

export interface SpirisHostPreset {
  identityBaseUrl: string;
  apiBaseUrl: string;
}

/**
 * Current Visma docs say the sandbox uses the production hosts (a sandbox client and a
 * sandbox Visma Online account keep them apart); older docs and many clients use the
 * *.test.vismaonline.com hosts, kept here as `sandbox-legacy`. Every URL can still be
 * overridden per connection.
 */
export const SPIRIS_HOST_PRESETS: Readonly<Record<SpirisEnvironment, SpirisHostPreset>> = Object.freeze({
  production: {
    identityBaseUrl: 'https://identity.vismaonline.com',
    apiBaseUrl: 'https://eaccountingapi.vismaonline.com/v2',
  },
  sandbox: {
    identityBaseUrl: 'https://identity.vismaonline.com',
    apiBaseUrl: 'https://eaccountingapi.vismaonline.com/v2',
  },
  'sandbox-legacy': {
    identityBaseUrl: 'https://identity-sandbox.test.vismaonline.com',
    apiBaseUrl: 'https://eaccountingapi-sandbox.test.vismaonline.com/v2',
  },
});

export function isSpirisEnvironment(value: string): value is SpirisEnvironment {
  return Object.hasOwn(SPIRIS_HOST_PRESETS, value);
}

/**
 * ea:api and offline_access are required (no refresh token without the latter);
 * companysettings needs a sales scope and bankaccounts a purchase scope, read-only is enough.
 */
export const DEFAULT_SPIRIS_SCOPES: readonly string[] = Object.freeze([
  'ea:api',
  'offline_access',
  'ea:accounting',
  'ea:sales_readonly',
  'ea:purchase_readonly',
]);

/**
 * The eAccounting service id Visma recommends in acr_values together with
 * prompt=select_account, so the user is asked which company to connect.
 */
export const EACCOUNTING_ACR_VALUES = 'service:44643EB1-3F76-4C1C-A672-402AE8085934';

export interface SpirisEndpoints {
  authorizeUrl: string;
  tokenUrl: string;
  revocationUrl: string;
  apiBaseUrl: string;
}

export interface EndpointOverrides {
  environment?: SpirisEnvironment;
  identityBaseUrl?: string;
  apiBaseUrl?: string;
  authorizeUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
}

export function resolveSpirisEndpoints(o: EndpointOverrides = {}): SpirisEndpoints {
  const preset = SPIRIS_HOST_PRESETS[o.environment ?? 'production'];
  const identity = trimSlash(o.identityBaseUrl ?? preset.identityBaseUrl);
  return {
    authorizeUrl: o.authorizeUrl ?? `${identity}/connect/authorize`,
    tokenUrl: o.tokenUrl ?? `${identity}/connect/token`,
    revocationUrl: o.revocationUrl ?? `${identity}/connect/revocation`,
    apiBaseUrl: trimSlash(o.apiBaseUrl ?? preset.apiBaseUrl),
  };
}

/** "ea:api, offline_access ea:accounting" → deduplicated list, order kept. */
export function parseScopes(input: string | readonly string[] | undefined): string[] {
  if (input === undefined) return [...DEFAULT_SPIRIS_SCOPES];
  const parts = (typeof input === 'string' ? [input] : input).flatMap((s) => s.split(/[\s,]+/));
  return [...new Set(parts.filter((s) => s !== ''))];
}

export interface PkcePair {
  verifier: string;
  challenge: string;
  method: 'S256';
}

/** RFC 7636: a 43-character verifier from 32 random bytes, challenge = base64url(sha256(verifier)). */
export function createPkcePair(bytes: Buffer = randomBytes(32)): PkcePair {
  const verifier = bytes.toString('base64url');
  return { verifier, challenge: pkceChallenge(verifier), method: 'S256' };
}

export function pkceChallenge(verifier: string): string {
  return createHash('sha256').update(verifier, 'ascii').digest('base64url');
}

/** Unguessable, so a callback cannot be forged from another site (CSRF). */
export function generateState(): string {
  return randomBytes(24).toString('base64url');
}

export interface AuthorizeUrlInput {
  authorizeUrl: string;
  clientId: string;
  redirectUri: string;
  scopes: readonly string[];
  state: string;
  codeChallenge?: string;
  /** Default select_account: without it Visma silently reuses the user's last company. */
  prompt?: string | null;
  /** Default EACCOUNTING_ACR_VALUES; null leaves it out. */
  acrValues?: string | null;
}

export function buildAuthorizeUrl(input: AuthorizeUrlInput): string {
  const url = new URL(input.authorizeUrl);
  const p = url.searchParams;
  p.set('client_id', input.clientId);
  p.set('redirect_uri', input.redirectUri);
  p.set('response_type', 'code');
  p.set('scope', input.scopes.join(' '));
  p.set('state', input.state);
  const prompt = input.prompt === undefined ? 'select_account' : input.prompt;
  if (prompt) p.set('prompt', prompt);
  const acr = input.acrValues === undefined ? EACCOUNTING_ACR_VALUES : input.acrValues;
  if (acr) p.set('acr_values', acr);
  if (input.codeChallenge) {
    p.set('code_challenge', input.codeChallenge);
    p.set('code_challenge_method', 'S256');
  }
  return url.toString();
}

/** Raised when the browser comes back without a usable code. */
export class SpirisAuthorizationCallbackError extends SpirisError {
  constructor(message: string) {
    super(message);
    this.name = 'SpirisAuthorizationCallbackError';
  }
}

/** Reads code and state off the redirect; refuses a state we did not issue. */
export function parseAuthorizationCallback(url: string | URL, expectedState: string): { code: string } {
  const u = typeof url === 'string' ? new URL(url) : url;
  const error = u.searchParams.get('error');
  if (error) {
    const description = u.searchParams.get('error_description');
    const declined = error === 'access_denied' ? 'the user declined access in Visma' : error;
    throw new SpirisAuthorizationCallbackError(
      `Authorization did not complete: ${declined}${description ? ` (${description})` : ''}.`,
    );
  }
  const state = u.searchParams.get('state');
  if (state !== expectedState) {
    throw new SpirisAuthorizationCallbackError(
      'The callback carried a different state than the one sent: it does not belong to this connect attempt, so it was ignored.',
    );
  }
  const code = u.searchParams.get('code');
  if (!code) throw new SpirisAuthorizationCallbackError('The callback carried no authorization code.');
  return { code };
}

// ---- token endpoint ---------------------------------------------------------------

export type FetchLike = (input: string | URL, init?: RequestInit) => Promise<Response>;

export interface OAuthClientOptions {
  tokenUrl: string;
  revocationUrl?: string;
  clientId: string;
  clientSecret: Secret | undefined;
  fetch?: FetchLike;
  timeoutMs?: number;
  /** HTTP Basic (RFC 6749 §2.3.1, the documented way) or client_id/client_secret form fields. */
  clientAuth?: 'basic' | 'body';
  retryPolicy?: RetryPolicy;
  sleep?: (ms: number) => Promise<void>;
}

export interface TokenSet {
  accessToken: Secret;
  refreshToken: Secret | undefined;
  /** Seconds, from expires_in; Visma issues one-hour access tokens. */
  expiresIn: number;
  scope: string | undefined;
  tokenType: string;
}

export function exchangeAuthorizationCode(
  opts: OAuthClientOptions,
  input: { code: string; redirectUri: string; codeVerifier?: string },
): Promise<TokenSet> {
  const form = new URLSearchParams({
    grant_type: 'authorization_code',
    code: input.code,
    redirect_uri: input.redirectUri,
  });
  if (input.codeVerifier) form.set('code_verifier', input.codeVerifier);
  return tokenRequest(opts, form);
}

/**
 * Trades a refresh token for a new pair. Visma rotates refresh tokens and each one
 * works once: the caller must store the returned refresh token before anything else.
 */
export function refreshAccessToken(opts: OAuthClientOptions, refreshToken: Secret): Promise<TokenSet> {
  const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: refreshToken.reveal() });
  return tokenRequest(opts, form);
}

/** RFC 7009 revocation; Visma answers 200 even for unknown tokens. */
export async function revokeToken(
  opts: OAuthClientOptions,
  token: Secret,
  hint: 'refresh_token' | 'access_token' = 'refresh_token',
): Promise<void> {
  if (!opts.revocationUrl) throw new Error('no revocation URL configured');
  const form = new URLSearchParams({ token: token.reveal(), token_type_hint: hint });
  const res = await postForm(opts, opts.revocationUrl, form);
  if (!res.ok) {
    const body = await readJson(res);
    throw spirisOAuthErrorFrom(res.status, body);
  }
}

async function tokenRequest(opts: OAuthClientOptions, form: URLSearchParams): Promise<TokenSet> {
  const policy = opts.retryPolicy ?? DEFAULT_RETRY_POLICY;
  const sleep = opts.sleep ?? ((ms: number) => realSleep(ms));
  // Repeating a token request is safe even though it is a POST: if the first one was
  // applied, the repeat uses a spent code/refresh token and gets invalid_grant, the
  // same result as not repeating; if it was not applied, the repeat succeeds.
  const attempts = Math.min(policy.maxRetries, 2) + 1;
  for (let attempt = 1; ; attempt++) {
    let res: Response;
    try {
      res = await postForm(opts, opts.tokenUrl, form);
    } catch (err) {
      const code = networkErrorCode(err);
      if (attempt < attempts) {
        await sleep(backoffDelayMs(attempt, policy));
        continue;
      }
      throw new SpirisConnectionError(
        `Could not reach the Visma identity server at ${originOf(opts.tokenUrl)} (${code}).`,
        code,
        { cause: err },
      );
    }
    const body = await readJson(res);
    if (res.status >= 500 && attempt < attempts) {
      await sleep(backoffDelayMs(attempt, policy));
      continue;
    }
    if (!res.ok) throw spirisOAuthErrorFrom(res.status, body);
    return parseTokenResponse(body, res.status);
  }
}

export function parseTokenResponse(body: unknown, status = 200): TokenSet {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  if (typeof b.access_token !== 'string' || b.access_token === '') {
    throw new SpirisOAuthError(
      'invalid_response',
      undefined,
      status,
      'The Visma identity server answered without an access token.',
    );
  }
  const expiresIn = Number(b.expires_in);
  return {
    accessToken: new Secret(b.access_token),
    refreshToken:
      typeof b.refresh_token === 'string' && b.refresh_token !== '' ? new Secret(b.refresh_token) : undefined,
    // A missing expires_in is treated as Visma's usual one hour.
    expiresIn: Number.isFinite(expiresIn) && expiresIn > 0 ? expiresIn : 3600,
    scope: typeof b.scope === 'string' ? b.scope : undefined,
    tokenType: typeof b.token_type === 'string' ? b.token_type : 'Bearer',
  };
}

async function postForm(opts: OAuthClientOptions, url: string, form: URLSearchParams): Promise<Response> {
  const doFetch = meteredFetch('spiris', opts.fetch ?? fetch);
  const headers: Record<string, string> = {
    // Visma's identity server accepts only form encoding on /connect/token.
    'content-type': 'application/x-www-form-urlencoded',
    accept: 'application/json',
  };
  const body = new URLSearchParams(form);
  if ((opts.clientAuth ?? 'basic') === 'basic') {
    headers.authorization = basicAuth(opts.clientId, opts.clientSecret);
  } else {
    body.set('client_id', opts.clientId);
    if (opts.clientSecret) body.set('client_secret', opts.clientSecret.reveal());
  }
  return doFetch(url, {
    method: 'POST',
    headers,
    body: body.toString(),
    signal: AbortSignal.timeout(opts.timeoutMs ?? 30_000),
  });
}

/** RFC 6749 §2.3.1: id and secret are form-encoded before base64. */
export function basicAuth(clientId: string, clientSecret: Secret | undefined): string {
  const enc = (s: string) => encodeURIComponent(s).replace(/%20/g, '+');
  const pair = `${enc(clientId)}:${enc(clientSecret?.reveal() ?? '')}`;
  return `Basic ${Buffer.from(pair, 'utf8').toString('base64')}`;
}

async function readJson(res: Response): Promise<unknown> {
  const text = await res.text().catch(() => '');
  if (!text) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function trimSlash(s: string): string {
  return s.replace(/\/+$/, '');
}

function originOf(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return url;
  }
}
