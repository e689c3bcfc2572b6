import { createHash, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Reply } from './reply.ts';

// Behaviour modelled on the Visma Online IdentityServer (identity.vismaonline.com):
// authorization code with optional PKCE, form-encoded token requests, refresh tokens that
// rotate on every use and cannot be used twice, and an RFC 7009 revocation endpoint.

export interface ClientRegistration {
  clientId: string;
  clientSecret: string;
  redirectUris?: string[];
}

export const KNOWN_SCOPES = new Set([
  'ea:api',
  'offline_access',
  'ea:sales',
  'ea:sales_readonly',
  'ea:accounting',
  'ea:accounting_readonly',
  'ea:purchase',
  'ea:purchase_readonly',
  'vls:api',
]);

export const DEFAULT_ISSUED_SCOPES = ['ea:api', 'offline_access', 'ea:accounting', 'ea:sales', 'ea:purchase'];

const AUTHORIZATION_CODE_LIFETIME_MS = 300_000;

interface AuthCode {
  clientId: string;
  redirectUri: string;
  scopes: string[];
  companyId: string;
  codeChallenge?: string;
  codeChallengeMethod?: 'S256' | 'plain';
  expiresAt: number;
}

export interface AccessTokenRecord {
  clientId: string;
  scopes: string[];
  companyId: string;
  expiresAt: number;
  familyId: string;
  revoked: boolean;
}

interface RefreshTokenRecord {
  clientId: string;
  scopes: string[];
  companyId: string;
  expiresAt: number;
  familyId: string;
  accessTokenLifetimeSeconds: number;
  consumed: boolean;
  revoked: boolean;
}

export interface TokenPair {
  accessToken: string;
  refreshToken: string;
  expiresIn: number;
}

interface MintResult {
  accessToken: string;
  refreshToken: string | null;
  expiresIn: number;
}

export interface IdentityOptions {
  clients: ClientRegistration[];
  accessTokenLifetimeSeconds: number;
  refreshTokenLifetimeSeconds: number;
  now: () => number;
  companyIds: () => string[];
}

function tokenError(status: number, error: string, description?: string): Reply {
  const body: Record<string, string> = { error };
  if (description) body.error_description = description;
  return {
    status,
    headers: {
      'content-type': 'application/json; charset=utf-8',
      'cache-control': 'no-store',
      pragma: 'no-cache',
    },
    body: JSON.stringify(body),
  };
}

function page(status: number, text: string): Reply {
  return { status, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: text };
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

function isLoopbackHttp(uri: string): boolean {
  try {
    const u = new URL(uri);
    return u.protocol === 'http:' && (u.hostname === 'localhost' || u.hostname === '127.0.0.1') && !u.hash;
  } catch {
    return false;
  }
}

export class IdentityServer {
  private readonly codes = new Map<string, AuthCode>();
  private readonly accessTokens = new Map<string, AccessTokenRecord>();
  private readonly refreshTokens = new Map<string, RefreshTokenRecord>();

  constructor(private readonly opts: IdentityOptions) {}

  get clients(): ClientRegistration[] {
    return this.opts.clients;
  }

  private client(id: string | null | undefined): ClientRegistration | undefined {
    return id ? this.opts.clients.find((c) => c.clientId === id) : undefined;
  }

  private redirectAllowed(client: ClientRegistration, uri: string): boolean {
    if (client.redirectUris && client.redirectUris.length > 0) return client.redirectUris.includes(uri);
    return isLoopbackHttp(uri);
  }

  /** GET /connect/authorize. There is no login page: the default user consents at once. */
  authorize(params: URLSearchParams): Reply {
    const client = this.client(params.get('client_id'));
    if (!client) return page(400, 'invalid_request: unknown client_id');
    const redirectUri = params.get('redirect_uri');
    if (!redirectUri || !this.redirectAllowed(client, redirectUri)) {
      return page(400, 'invalid_request: redirect_uri is missing or not registered for this client');
    }
    const state = params.get('state');
    const fail = (error: string, description: string): Reply => {
      const target = new URL(redirectUri);
      target.searchParams.set('error', error);
      target.searchParams.set('error_description', description);
      if (state !== null) target.searchParams.set('state', state);
      return { status: 302, headers: { location: target.toString() }, body: '' };
    };

    const responseType = params.get('response_type');
    if (!responseType) return fail('invalid_request', 'response_type is missing');
    if (responseType !== 'code')
      return fail('unsupported_response_type', 'only response_type=code is supported');

    const scopeParam = params.get('scope');
    if (!scopeParam?.trim()) return fail('invalid_scope', 'scope is missing');
    const scopes = scopeParam.trim().split(/\s+/);
    const unknown = scopes.filter((s) => !KNOWN_SCOPES.has(s));
    if (unknown.length > 0) return fail('invalid_scope', `unknown scope: ${unknown.join(' ')}`);

    const challenge = params.get('code_challenge') ?? undefined;
    const methodParam = params.get('code_challenge_method') ?? undefined;
    let method: 'S256' | 'plain' | undefined;
    if (challenge !== undefined) {
      method = (methodParam ?? 'plain') as 'S256' | 'plain';
      if (method !== 'S256' && method !== 'plain') {
        return fail('invalid_request', 'code_challenge_method not supported');
      }
      if (challenge.length < 43 || challenge.length > 128 || !/^[A-Za-z0-9\-._~]+$/.test(challenge)) {
        return fail('invalid_request', 'invalid code_challenge');
      }
    } else if (methodParam !== undefined) {
      return fail('invalid_request', 'code_challenge is missing');
    }

    if (params.get('sim_deny') === '1') return fail('access_denied', 'the user denied the request');

    const companies = this.opts.companyIds();
    const companyId = params.get('sim_company_id') ?? companies[0]!;
    if (!companies.includes(companyId))
      return fail('access_denied', 'the user has no access to that company');

    const code = randomBytes(32).toString('hex').toUpperCase();
    this.codes.set(code, {
      clientId: client.clientId,
      redirectUri,
      scopes,
      companyId,
      ...(challenge !== undefined ? { codeChallenge: challenge, codeChallengeMethod: method } : {}),
      expiresAt: this.opts.now() + AUTHORIZATION_CODE_LIFETIME_MS,
    });
    const target = new URL(redirectUri);
    target.searchParams.set('code', code);
    target.searchParams.set('scope', scopes.join(' '));
    if (state !== null) target.searchParams.set('state', state);
    target.searchParams.set('session_state', randomBytes(16).toString('base64url'));
    return { status: 302, headers: { location: target.toString() }, body: '' };
  }

  private authenticateClient(
    authorization: string | undefined,
    form: URLSearchParams,
  ): ClientRegistration | undefined {
    let id: string | null = null;
    let secret: string | null = null;
    if (authorization?.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon < 0) return undefined;
      // RFC 6749 §2.3.1: both parts are form-urlencoded before being joined.
      try {
        id = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
        secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
      } catch {
        return undefined;
      }
    } else {
      id = form.get('client_id');
      secret = form.get('client_secret');
    }
    const client = this.client(id);
    if (!client || secret === null || !safeEqual(secret, client.clientSecret)) return undefined;
    return client;
  }

  /** POST /connect/token with an already-checked form body. */
  token(authorization: string | undefined, form: URLSearchParams): Reply {
    const client = this.authenticateClient(authorization, form);
    if (!client) return tokenError(400, 'invalid_client');
    const grantType = form.get('grant_type');
    if (!grantType) return tokenError(400, 'invalid_request', 'grant_type is missing');
    if (grantType === 'authorization_code') return this.redeemCode(client, form);
    if (grantType === 'refresh_token') return this.redeemRefreshToken(client, form);
    return tokenError(400, 'unsupported_grant_type');
  }

  private redeemCode(client: ClientRegistration, form: URLSearchParams): Reply {
    const codeValue = form.get('code');
    if (!codeValue) return tokenError(400, 'invalid_request', 'code is missing');
    const code = this.codes.get(codeValue);
    if (!code) return tokenError(400, 'invalid_grant');
    // The code is spent by any redemption attempt, successful or not.
    this.codes.delete(codeValue);
    if (code.expiresAt <= this.opts.now()) return tokenError(400, 'invalid_grant');
    if (code.clientId !== client.clientId) return tokenError(400, 'invalid_grant');
    if (form.get('redirect_uri') !== code.redirectUri) return tokenError(400, 'invalid_grant');

    const verifier = form.get('code_verifier');
    if (code.codeChallenge !== undefined) {
      if (
        !verifier ||
        verifier.length < 43 ||
        verifier.length > 128 ||
        !/^[A-Za-z0-9\-._~]+$/.test(verifier)
      ) {
        return tokenError(400, 'invalid_grant');
      }
      const transformed =
        code.codeChallengeMethod === 'S256'
          ? createHash('sha256').update(verifier).digest('base64url')
          : verifier;
      if (!safeEqual(transformed, code.codeChallenge)) return tokenError(400, 'invalid_grant');
    } else if (verifier) {
      // A verifier without a challenge points at a PKCE downgrade; refuse it.
      return tokenError(400, 'invalid_grant');
    }
    return this.tokenResponse(
      this.mint(
        client.clientId,
        code.scopes,
        code.companyId,
        this.opts.accessTokenLifetimeSeconds,
        randomUUID(),
      ),
      code.scopes,
    );
  }

  private redeemRefreshToken(client: ClientRegistration, form: URLSearchParams): Reply {
    const value = form.get('refresh_token');
    if (!value) return tokenError(400, 'invalid_request', 'refresh_token is missing');
    const rec = this.refreshTokens.get(value);
    if (!rec || rec.consumed || rec.revoked || rec.expiresAt <= this.opts.now()) {
      return tokenError(400, 'invalid_grant');
    }
    if (rec.clientId !== client.clientId) return tokenError(400, 'invalid_grant');
    let scopes = rec.scopes;
    const requested = form.get('scope');
    if (requested?.trim()) {
      const wanted = requested.trim().split(/\s+/);
      if (!wanted.every((s) => rec.scopes.includes(s))) return tokenError(400, 'invalid_scope');
      scopes = wanted;
    }
    rec.consumed = true;
    return this.tokenResponse(
      this.mint(client.clientId, scopes, rec.companyId, rec.accessTokenLifetimeSeconds, rec.familyId),
      scopes,
    );
  }

  private tokenResponse(pair: MintResult, scopes: string[]): Reply {
    const body: Record<string, unknown> = {
      access_token: pair.accessToken,
      expires_in: pair.expiresIn,
      token_type: 'Bearer',
    };
    if (pair.refreshToken) body.refresh_token = pair.refreshToken;
    body.scope = scopes.join(' ');
    return {
      status: 200,
      headers: {
        'content-type': 'application/json; charset=utf-8',
        'cache-control': 'no-store',
        pragma: 'no-cache',
      },
      body: JSON.stringify(body),
    };
  }

  private mint(
    clientId: string,
    scopes: string[],
    companyId: string,
    lifetimeSeconds: number,
    familyId: string,
  ): MintResult {
    const now = this.opts.now();
    const accessToken = randomBytes(32).toString('base64url');
    this.accessTokens.set(accessToken, {
      clientId,
      scopes,
      companyId,
      expiresAt: now + lifetimeSeconds * 1000,
      familyId,
      revoked: false,
    });
    let refreshToken: string | null = null;
    if (scopes.includes('offline_access')) {
      refreshToken = randomBytes(32).toString('hex').toUpperCase();
      this.refreshTokens.set(refreshToken, {
        clientId,
        scopes,
        companyId,
        expiresAt: now + this.opts.refreshTokenLifetimeSeconds * 1000,
        familyId,
        accessTokenLifetimeSeconds: lifetimeSeconds,
        consumed: false,
        revoked: false,
      });
    }
    return { accessToken, refreshToken, expiresIn: lifetimeSeconds };
  }

  /** Issues a pair without a user round trip, like credentials handed over by a system owner. */
  issue(opts: {
    clientId?: string;
    scopes?: string[];
    companyId?: string;
    accessTokenLifetimeSeconds?: number;
  }): TokenPair {
    const clientId = opts.clientId ?? this.opts.clients[0]!.clientId;
    if (!this.client(clientId)) throw new Error(`unknown client ${clientId}`);
    const companies = this.opts.companyIds();
    const companyId = opts.companyId ?? companies[0]!;
    if (!companies.includes(companyId)) throw new Error(`unknown company ${companyId}`);
    const scopes = opts.scopes ?? DEFAULT_ISSUED_SCOPES;
    const pair = this.mint(
      clientId,
      scopes,
      companyId,
      opts.accessTokenLifetimeSeconds ?? this.opts.accessTokenLifetimeSeconds,
      randomUUID(),
    );
    if (!pair.refreshToken)
      throw new Error('issueTokens needs the offline_access scope to mint a refresh token');
    return { accessToken: pair.accessToken, refreshToken: pair.refreshToken, expiresIn: pair.expiresIn };
  }

  /** POST /connect/revocation (RFC 7009). */
  revoke(authorization: string | undefined, form: URLSearchParams): Reply {
    const client = this.authenticateClient(authorization, form);
    if (!client) return tokenError(401, 'invalid_client');
    const token = form.get('token');
    if (!token) return tokenError(400, 'invalid_request', 'token is missing');
    const hint = form.get('token_type_hint');
    if (hint && hint !== 'access_token' && hint !== 'refresh_token')
      return tokenError(400, 'unsupported_token_type');

    const refresh = this.refreshTokens.get(token);
    if (refresh && refresh.clientId === client.clientId) {
      // Revoking a refresh token ends the whole grant, access tokens included.
      for (const r of this.refreshTokens.values()) if (r.familyId === refresh.familyId) r.revoked = true;
      for (const a of this.accessTokens.values()) if (a.familyId === refresh.familyId) a.revoked = true;
    }
    const access = this.accessTokens.get(token);
    if (access && access.clientId === client.clientId) access.revoked = true;
    return { status: 200, headers: {}, body: '' };
  }

  /** Looks up a bearer token; undefined when unknown, revoked or expired. */
  lookup(token: string): AccessTokenRecord | undefined {
    const rec = this.accessTokens.get(token);
    if (!rec || rec.revoked || rec.expiresAt <= this.opts.now()) return undefined;
    return rec;
  }
}
