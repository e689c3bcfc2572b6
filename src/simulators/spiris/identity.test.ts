import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpirisSimulator, startSpirisSimulator } from './index.ts';
import { api, authorizeUrl, basicAuth, pkcePair, REDIRECT_URI, TODAY, tokenRequest } from './test-helpers.ts';

let sim: SpirisSimulator;

beforeAll(async () => {
  sim = await startSpirisSimulator({ today: TODAY });
});
afterAll(async () => {
  await sim.close();
});

async function codeFor(params: Record<string, string | undefined> = {}): Promise<string> {
  const location = new URL(await sim.approve(authorizeUrl(sim, params)));
  expect(location.searchParams.get('error')).toBeNull();
  return location.searchParams.get('code')!;
}

describe('authorization code flow', () => {
  it('runs the full flow with S256 PKCE and the token works on the API', async () => {
    const { verifier, challenge } = pkcePair();
    const location = new URL(
      await sim.approve(
        authorizeUrl(sim, { code_challenge: challenge, code_challenge_method: 'S256', state: 's1' }),
      ),
    );
    expect(`${location.origin}${location.pathname}`).toBe(REDIRECT_URI);
    expect(location.searchParams.get('state')).toBe('s1');
    const code = location.searchParams.get('code')!;
    expect(code).toBeTruthy();

    const res = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(res.status).toBe(200);
    expect(res.json).toMatchObject({ token_type: 'Bearer', expires_in: 3600 });
    expect(typeof res.json.access_token).toBe('string');
    expect(typeof res.json.refresh_token).toBe('string');
    expect(String(res.json.scope).split(' ')).toContain('ea:accounting');

    const settings = await api(sim, res.json.access_token as string, 'GET', '/companysettings');
    expect(settings.status).toBe(200);
    expect(settings.json.CorporateIdentityNumber).toBe('556677-8899');
  });

  it('supports plain PKCE, form client authentication and no PKCE at all', async () => {
    const verifier = pkcePair().verifier;
    const code = await codeFor({ code_challenge: verifier });
    const res = await tokenRequest(
      sim,
      {
        grant_type: 'authorization_code',
        code,
        redirect_uri: REDIRECT_URI,
        code_verifier: verifier,
        client_id: sim.clientId,
        client_secret: sim.clientSecret,
      },
      { basic: false },
    );
    expect(res.status).toBe(200);

    const noPkce = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code: await codeFor(),
      redirect_uri: REDIRECT_URI,
    });
    expect(noPkce.status).toBe(200);
  });

  it('rejects a wrong verifier, and the code is spent by the failed attempt', async () => {
    const { verifier, challenge } = pkcePair();
    const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
    const bad = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: pkcePair().verifier,
    });
    expect(bad).toEqual({ status: 400, json: { error: 'invalid_grant' } });
    const retry = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
      code_verifier: verifier,
    });
    expect(retry.json.error).toBe('invalid_grant');
  });

  it('rejects a missing verifier when a challenge was sent, and a verifier when none was', async () => {
    const { challenge } = pkcePair();
    const code = await codeFor({ code_challenge: challenge, code_challenge_method: 'S256' });
    const missing = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    expect(missing.json.error).toBe('invalid_grant');

    const unexpected = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code: await codeFor(),
      redirect_uri: REDIRECT_URI,
      code_verifier: pkcePair().verifier,
    });
    expect(unexpected.json.error).toBe('invalid_grant');
  });

  it('codes are single-use, bound to the redirect URI and expire', async () => {
    const code = await codeFor();
    const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI };
    expect((await tokenRequest(sim, form)).status).toBe(200);
    expect(await tokenRequest(sim, form)).toEqual({ status: 400, json: { error: 'invalid_grant' } });

    const other = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code: await codeFor(),
      redirect_uri: 'http://127.0.0.1:9999/other',
    });
    expect(other.json.error).toBe('invalid_grant');

    const late = await codeFor();
    sim.advanceTime(301_000);
    try {
      const res = await tokenRequest(sim, {
        grant_type: 'authorization_code',
        code: late,
        redirect_uri: REDIRECT_URI,
      });
      expect(res.json.error).toBe('invalid_grant');
    } finally {
      sim.setTime(null);
    }
  });

  it('reports authorize errors to the redirect URI, or 400 when the redirect URI is bad', async () => {
    const badScope = new URL(await sim.approve(authorizeUrl(sim, { scope: 'ea:api ea:everything' })));
    expect(badScope.searchParams.get('error')).toBe('invalid_scope');
    expect(badScope.searchParams.get('state')).toBe('xyz');

    const badType = new URL(await sim.approve(authorizeUrl(sim, { response_type: 'token' })));
    expect(badType.searchParams.get('error')).toBe('unsupported_response_type');

    const badMethod = new URL(
      await sim.approve(
        authorizeUrl(sim, { code_challenge: pkcePair().challenge, code_challenge_method: 'S512' }),
      ),
    );
    expect(badMethod.searchParams.get('error')).toBe('invalid_request');

    const shortChallenge = new URL(await sim.approve(authorizeUrl(sim, { code_challenge: 'abc' })));
    expect(shortChallenge.searchParams.get('error')).toBe('invalid_request');

    const denied = new URL(await sim.approve(authorizeUrl(sim, {}), { deny: true }));
    expect(denied.searchParams.get('error')).toBe('access_denied');

    await expect(sim.approve(authorizeUrl(sim, { redirect_uri: 'https://evil.example/cb' }))).rejects.toThrow(
      /400/,
    );
    await expect(sim.approve(authorizeUrl(sim, { client_id: 'nobody' }))).rejects.toThrow(/400/);
  });
});

describe('token endpoint', () => {
  it('accepts only form-encoded bodies', async () => {
    const code = await codeFor();
    const res = await tokenRequest(
      sim,
      {},
      {
        contentType: 'application/json',
        body: JSON.stringify({ grant_type: 'authorization_code', code, redirect_uri: REDIRECT_URI }),
      },
    );
    expect(res).toEqual({ status: 400, json: { error: 'invalid_request' } });
  });

  it('rejects bad client credentials and unknown grant types', async () => {
    const res = await fetch(`${sim.identityBaseUrl}/connect/token`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(sim.clientId, 'wrong'),
      },
      body: 'grant_type=refresh_token&refresh_token=x',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toEqual({ error: 'invalid_client' });

    const grant = await tokenRequest(sim, { grant_type: 'client_credentials' });
    expect(grant.json.error).toBe('unsupported_grant_type');
  });

  it('rotates refresh tokens; a used one gives invalid_grant while the new one still works', async () => {
    const first = sim.issueTokens();
    const r1 = await tokenRequest(sim, { grant_type: 'refresh_token', refresh_token: first.refreshToken });
    expect(r1.status).toBe(200);
    expect(r1.json.refresh_token).not.toBe(first.refreshToken);

    const reuse = await tokenRequest(sim, { grant_type: 'refresh_token', refresh_token: first.refreshToken });
    expect(reuse).toEqual({ status: 400, json: { error: 'invalid_grant' } });

    const r2 = await tokenRequest(sim, {
      grant_type: 'refresh_token',
      refresh_token: r1.json.refresh_token as string,
    });
    expect(r2.status).toBe(200);
    expect((await api(sim, r2.json.access_token as string, 'GET', '/fiscalyears')).status).toBe(200);
  });

  it('issues no refresh token without offline_access', async () => {
    const code = await codeFor({ scope: 'ea:api ea:accounting' });
    const res = await tokenRequest(sim, {
      grant_type: 'authorization_code',
      code,
      redirect_uri: REDIRECT_URI,
    });
    expect(res.status).toBe(200);
    expect(res.json.refresh_token).toBeUndefined();
  });

  it('expired access tokens get 401 with the error envelope', async () => {
    const pair = sim.issueTokens({ accessTokenLifetimeSeconds: 60 });
    expect((await api(sim, pair.accessToken, 'GET', '/fiscalyears')).status).toBe(200);
    sim.advanceTime(61_000);
    try {
      const res = await api(sim, pair.accessToken, 'GET', '/fiscalyears');
      expect(res.status).toBe(401);
      expect(res.json.ErrorCode).toBe(4005);
      expect(res.headers.get('www-authenticate')).toContain('Bearer');
      const refreshed = await tokenRequest(sim, {
        grant_type: 'refresh_token',
        refresh_token: pair.refreshToken,
      });
      expect(refreshed.status).toBe(200);
      expect(refreshed.json.expires_in).toBe(60);
    } finally {
      sim.setTime(null);
    }
    expect((await api(sim, 'not-a-token', 'GET', '/fiscalyears')).status).toBe(401);
  });

  it('revocation of a refresh token ends the grant', async () => {
    const pair = sim.issueTokens();
    const res = await fetch(`${sim.identityBaseUrl}/connect/revocation`, {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        authorization: basicAuth(sim.clientId, sim.clientSecret),
      },
      body: new URLSearchParams({ token: pair.refreshToken, token_type_hint: 'refresh_token' }).toString(),
    });
    expect(res.status).toBe(200);
    const refresh = await tokenRequest(sim, {
      grant_type: 'refresh_token',
      refresh_token: pair.refreshToken,
    });
    expect(refresh.json.error).toBe('invalid_grant');
    expect((await api(sim, pair.accessToken, 'GET', '/fiscalyears')).status).toBe(401);
  });
});

describe('registered clients', () => {
  it('allows only the registered redirect URIs of a configured client', async () => {
    const local = await startSpirisSimulator({
      today: TODAY,
      clients: [{ clientId: 'app', clientSecret: 's3cret', redirectUris: ['https://app.example/cb'] }],
    });
    try {
      expect(local.clientId).toBe('app');
      const ok = new URL(
        await local.approve(authorizeUrl(local, { redirect_uri: 'https://app.example/cb' })),
      );
      expect(ok.searchParams.get('code')).toBeTruthy();
      await expect(local.approve(authorizeUrl(local, {}))).rejects.toThrow(/400/);
    } finally {
      await local.close();
    }
  });
});
