import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { Secret } from '../setup/secret.ts';
import {
  basicAuth,
  buildAuthorizeUrl,
  createPkcePair,
  DEFAULT_SPIRIS_SCOPES,
  exchangeAuthorizationCode,
  parseAuthorizationCallback,
  parseScopes,
  pkceChallenge,
  refreshAccessToken,
  resolveSpirisEndpoints,
} from './oauth.ts';
import { SpirisConnectionError, SpirisInvalidGrantError } from './spiris.errors.ts';

describe('endpoints', () => {
  it('uses the Visma Online identity server and the eAccounting API by default', () => {
    expect(resolveSpirisEndpoints()).toEqual({
      authorizeUrl: 'https://identity.vismaonline.com/connect/authorize',
      tokenUrl: 'https://identity.vismaonline.com/connect/token',
      revocationUrl: 'https://identity.vismaonline.com/connect/revocation',
      apiBaseUrl: 'https://eaccountingapi.vismaonline.com/v2',
    });
  });

  it('knows the legacy sandbox hosts and lets every URL be overridden', () => {
    expect(resolveSpirisEndpoints({ environment: 'sandbox-legacy' }).tokenUrl).toBe(
      'https://identity-sandbox.test.vismaonline.com/connect/token',
    );
    const e = resolveSpirisEndpoints({
      identityBaseUrl: 'http://127.0.0.1:9/identity/',
      apiBaseUrl: 'http://127.0.0.1:9/v2/',
      tokenUrl: 'http://other/token',
    });
    expect(e.authorizeUrl).toBe('http://127.0.0.1:9/identity/connect/authorize');
    expect(e.tokenUrl).toBe('http://other/token');
    expect(e.apiBaseUrl).toBe('http://127.0.0.1:9/v2');
  });
});

describe('scopes', () => {
  it('defaults to what a settlement integration needs', () => {
    expect(parseScopes(undefined)).toEqual([
      'ea:api',
      'offline_access',
      'ea:accounting',
      'ea:sales_readonly',
      'ea:purchase_readonly',
    ]);
    expect(DEFAULT_SPIRIS_SCOPES).toContain('offline_access');
  });

  it('splits on spaces and commas and drops duplicates', () => {
    expect(parseScopes('ea:api, offline_access  ea:api ea:sales')).toEqual([
      'ea:api',
      'offline_access',
      'ea:sales',
    ]);
    expect(parseScopes(['ea:api offline_access', 'ea:accounting'])).toEqual([
      'ea:api',
      'offline_access',
      'ea:accounting',
    ]);
  });
});

describe('PKCE', () => {
  it('matches the RFC 7636 appendix B example', () => {
    expect(pkceChallenge('dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk')).toBe(
      'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    );
  });

  it('makes a 43-character verifier and its S256 challenge', () => {
    const p = createPkcePair();
    expect(p.verifier).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(p.challenge).toBe(createHash('sha256').update(p.verifier).digest('base64url'));
    expect(p.method).toBe('S256');
    expect(createPkcePair().verifier).not.toBe(p.verifier);
  });
});

describe('buildAuthorizeUrl', () => {
  it('asks for the company, carries state and the PKCE challenge', () => {
    const url = new URL(
      buildAuthorizeUrl({
        authorizeUrl: 'https://identity.vismaonline.com/connect/authorize',
        clientId: 'my-client',
        redirectUri: 'http://localhost:8976/callback',
        scopes: DEFAULT_SPIRIS_SCOPES,
        state: 'st4te',
        codeChallenge: 'chall',
      }),
    );
    const p = url.searchParams;
    expect(url.origin + url.pathname).toBe('https://identity.vismaonline.com/connect/authorize');
    expect(p.get('client_id')).toBe('my-client');
    expect(p.get('redirect_uri')).toBe('http://localhost:8976/callback');
    expect(p.get('response_type')).toBe('code');
    expect(p.get('scope')).toBe('ea:api offline_access ea:accounting ea:sales_readonly ea:purchase_readonly');
    expect(p.get('state')).toBe('st4te');
    expect(p.get('prompt')).toBe('select_account');
    expect(p.get('acr_values')).toBe('service:44643EB1-3F76-4C1C-A672-402AE8085934');
    expect(p.get('code_challenge')).toBe('chall');
    expect(p.get('code_challenge_method')).toBe('S256');
  });

  it('leaves PKCE, prompt and acr_values out when asked', () => {
    const p = new URL(
      buildAuthorizeUrl({
        authorizeUrl: 'http://x/connect/authorize',
        clientId: 'c',
        redirectUri: 'http://localhost/cb',
        scopes: ['ea:api'],
        state: 's',
        prompt: null,
        acrValues: null,
      }),
    ).searchParams;
    expect(p.has('code_challenge')).toBe(false);
    expect(p.has('prompt')).toBe(false);
    expect(p.has('acr_values')).toBe(false);
  });
});

describe('parseAuthorizationCallback', () => {
  it('returns the code when the state matches', () => {
    expect(parseAuthorizationCallback('http://localhost/cb?code=abc&state=s1', 's1')).toEqual({
      code: 'abc',
    });
  });
  it('refuses a foreign state', () => {
    expect(() => parseAuthorizationCallback('http://localhost/cb?code=abc&state=evil', 's1')).toThrow(
      /different state/,
    );
  });
  it('explains a declined consent', () => {
    expect(() =>
      parseAuthorizationCallback('http://localhost/cb?error=access_denied&state=s1', 's1'),
    ).toThrow(/declined/);
  });
});

describe('token requests', () => {
  function recorder(responses: Array<() => Response | Promise<Response>>) {
    const calls: { url: string; init: RequestInit }[] = [];
    const fetch = async (url: string | URL, init?: RequestInit) => {
      calls.push({ url: String(url), init: init ?? {} });
      const next = responses.shift();
      if (!next) throw new Error('unexpected call');
      return next();
    };
    return { calls, fetch };
  }
  const json = (status: number, body: unknown) =>
    new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });

  it('form-encodes the code exchange and authenticates with HTTP Basic', async () => {
    const r = recorder([
      () => json(200, { access_token: 'at', refresh_token: 'rt', expires_in: 3600, token_type: 'Bearer' }),
    ]);
    const tokens = await exchangeAuthorizationCode(
      {
        tokenUrl: 'http://id/connect/token',
        clientId: 'c id',
        clientSecret: new Secret('s&cret'),
        fetch: r.fetch,
      },
      { code: 'the-code', redirectUri: 'http://localhost/cb', codeVerifier: 'ver' },
    );
    expect(tokens.accessToken.reveal()).toBe('at');
    expect(tokens.refreshToken?.reveal()).toBe('rt');
    const init = r.calls[0]!.init;
    const headers = init.headers as Record<string, string>;
    expect(headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(headers.authorization).toBe(basicAuth('c id', new Secret('s&cret')));
    expect(Buffer.from(headers.authorization!.slice(6), 'base64').toString()).toBe('c+id:s%26cret');
    const form = new URLSearchParams(String(init.body));
    expect(Object.fromEntries(form)).toEqual({
      grant_type: 'authorization_code',
      code: 'the-code',
      redirect_uri: 'http://localhost/cb',
      code_verifier: 'ver',
    });
  });

  it('can send the client credentials as form fields instead', async () => {
    const r = recorder([() => json(200, { access_token: 'at', expires_in: 10 })]);
    await refreshAccessToken(
      {
        tokenUrl: 'http://id/t',
        clientId: 'c',
        clientSecret: new Secret('s'),
        clientAuth: 'body',
        fetch: r.fetch,
      },
      new Secret('old-rt'),
    );
    const form = new URLSearchParams(String(r.calls[0]!.init.body));
    expect(form.get('client_id')).toBe('c');
    expect(form.get('client_secret')).toBe('s');
    expect(form.get('refresh_token')).toBe('old-rt');
  });

  it('throws SpirisInvalidGrantError for a spent refresh token, without retrying', async () => {
    const r = recorder([() => json(400, { error: 'invalid_grant' })]);
    await expect(
      refreshAccessToken(
        { tokenUrl: 'http://id/t', clientId: 'c', clientSecret: new Secret('s'), fetch: r.fetch },
        new Secret('rt'),
      ),
    ).rejects.toBeInstanceOf(SpirisInvalidGrantError);
    expect(r.calls).toHaveLength(1);
  });

  it('retries a 5xx or a dropped connection a couple of times, then gives up', async () => {
    const waits: number[] = [];
    const drop = () =>
      Promise.reject(Object.assign(new TypeError('fetch failed'), { cause: { code: 'ECONNRESET' } }));
    const r = recorder([() => json(503, {}), drop, () => json(200, { access_token: 'ok', expires_in: 60 })]);
    const t = await refreshAccessToken(
      {
        tokenUrl: 'http://id/t',
        clientId: 'c',
        clientSecret: new Secret('s'),
        fetch: r.fetch,
        sleep: async (ms) => void waits.push(ms),
      },
      new Secret('rt'),
    );
    expect(t.accessToken.reveal()).toBe('ok');
    expect(waits).toHaveLength(2);

    const r2 = recorder([drop, drop, drop]);
    const err = await refreshAccessToken(
      {
        tokenUrl: 'http://id/t',
        clientId: 'c',
        clientSecret: new Secret('s'),
        fetch: r2.fetch,
        sleep: async () => {},
      },
      new Secret('super-secret-refresh'),
    ).catch((e) => e);
    expect(err).toBeInstanceOf(SpirisConnectionError);
    expect(String(err.message)).not.toContain('super-secret-refresh');
  });
});
