import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { Secret } from '../setup/secret.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import {
  type ConnectionRecord,
  createConnection,
  getConnection,
  readConnectionSecret,
} from '../store/connections.repository.ts';
import { openStore, type Store } from '../store/db.ts';
import { listEvents } from '../store/events.repository.ts';
import { refreshAccessToken, resolveSpirisEndpoints, revokeToken } from './oauth.ts';
import { SpirisClient } from './spiris.client.ts';
import { SpirisInvalidGrantError, SpirisReauthorizationRequiredError } from './spiris.errors.ts';
import {
  NEEDS_REAUTHORIZATION,
  parseCredentials,
  type SpirisConnectionConfig,
  type SpirisCredentials,
  StoredSpirisTokens,
  serializeCredentials,
} from './token-store.ts';

const HOUR = 3600_000;
const key = randomBytes(32);
const sealer = new AesGcmSealer(key);
let store: TestStore;
let sim: SpirisSimulator;

beforeAll(async () => {
  store = await openTestStore();
  sim = await startSpirisSimulator({ today: '2026-06-15' });
});
afterAll(async () => {
  await sim?.close();
  await store?.close();
});
beforeEach(() => sim.clearFaults());

function config(): SpirisConnectionConfig {
  const e = resolveSpirisEndpoints({ identityBaseUrl: sim.identityBaseUrl, apiBaseUrl: sim.apiBaseUrl });
  return {
    authMode: 'refresh_token',
    clientId: sim.clientId,
    scopes: [],
    pkce: true,
    apiBaseUrl: e.apiBaseUrl,
    tokenUrl: e.tokenUrl,
    revocationUrl: e.revocationUrl,
  };
}

async function connection(
  creds?: Partial<SpirisCredentials>,
): Promise<{ conn: ConnectionRecord; issued: { accessToken: string; refreshToken: string } }> {
  const issued = sim.issueTokens();
  const conn = await createConnection(store.db, sealer, {
    kind: 'spiris',
    environment: 'sandbox',
    config: config() as unknown as Record<string, unknown>,
    secret: serializeCredentials({
      clientSecret: new Secret(sim.clientSecret),
      accessToken: new Secret(issued.accessToken),
      refreshToken: new Secret(issued.refreshToken),
      accessTokenExpiresAt: new Date(Date.now() + HOUR).toISOString(),
      ...creds,
    }),
  });
  return { conn, issued };
}

const tokensFor = (s: Store, id: string, aheadMs = 0) =>
  new StoredSpirisTokens({ store: s, sealer, connectionId: id, now: () => new Date(Date.now() + aheadMs) });

async function stored(id: string) {
  const { secret, version } = await readConnectionSecret(store.db, sealer, id);
  return { ...parseCredentials(secret), version };
}

const tokenPosts = () =>
  sim.requestLog.filter((r) => r.method === 'POST' && r.path.includes('/connect/token')).length;

const oauth = () => ({
  tokenUrl: config().tokenUrl!,
  revocationUrl: config().revocationUrl!,
  clientId: sim.clientId,
  clientSecret: new Secret(sim.clientSecret),
});

describe('StoredSpirisTokens', () => {
  it('uses the stored token while fresh, without touching the identity server', async () => {
    const { conn, issued } = await connection();
    const before = tokenPosts();
    const t = await tokensFor(store, conn.id).getAccessToken();
    expect(t.reveal()).toBe(issued.accessToken);
    expect(tokenPosts()).toBe(before);
  });

  it('refreshes inside the 5-minute margin and stores the rotated pair before using it', async () => {
    const { conn, issued } = await connection();
    const t = await tokensFor(store, conn.id, HOUR - 4 * 60_000).getAccessToken();
    expect(t.reveal()).not.toBe(issued.accessToken);
    const after = await stored(conn.id);
    expect(after.version).toBe(2);
    expect(after.accessToken?.reveal()).toBe(t.reveal());
    expect(after.refreshToken?.reveal()).not.toBe(issued.refreshToken);
    // The issued refresh token is spent; the stored one is the only live one.
    await expect(refreshAccessToken(oauth(), new Secret(issued.refreshToken))).rejects.toBeInstanceOf(
      SpirisInvalidGrantError,
    );
    const api = new SpirisClient({
      apiBaseUrl: sim.apiBaseUrl,
      tokens: tokensFor(store, conn.id, HOUR - 4 * 60_000),
    });
    expect((await api.getCompanySettings()).Name).toBe('Testbolaget Nordic AB');
  });

  it('two workers on separate store handles refresh at once: one refresh, no token burnt', async () => {
    const { conn } = await connection();
    const second = await openStore(
      store.dialect === 'postgres'
        ? { databaseUrl: store.target, migrate: false }
        : { sqlitePath: store.target, migrate: false },
    );
    try {
      // A slow identity server keeps the first refresh in flight while the second worker asks.
      sim.injectFault({ kind: 'slow', delayMs: 300, pathIncludes: '/connect/token' });
      const before = tokenPosts();
      const [a, b] = await Promise.all([
        tokensFor(store, conn.id, 2 * HOUR).getAccessToken(),
        tokensFor(second, conn.id, 2 * HOUR).getAccessToken(),
      ]);
      expect(a.reveal()).toBe(b.reveal());
      expect(tokenPosts() - before).toBe(1);
      expect((await getConnection(store.db, conn.id))?.status).toBe('active');
      // The chain is intact: the stored refresh token still works.
      const next = await tokensFor(store, conn.id, 4 * HOUR).getAccessToken();
      expect(next.reveal()).not.toBe(a.reveal());
    } finally {
      await second.close();
    }
  });

  it('two worker processes refresh at once: the database lock lets only one through', async () => {
    const { conn } = await connection();
    sim.injectFault({ kind: 'slow', delayMs: 400, pathIncludes: '/connect/token' });
    const before = tokenPosts();
    const workers = [startWorker(conn.id), startWorker(conn.id)];
    try {
      await Promise.all(workers.map((w) => w.ready));
      for (const w of workers) w.child.stdin!.write('go\n');
      const results = await Promise.all(workers.map((w) => w.result));
      expect(results.map((r) => r.ok)).toEqual([true, true]);
      expect(results[0]!.fingerprint).toBe(results[1]!.fingerprint);
      expect(tokenPosts() - before).toBe(1);
      expect((await getConnection(store.db, conn.id))?.status).toBe('active');
    } finally {
      for (const w of workers) w.child.kill();
    }
  }, 60_000);

  it('a reused refresh token puts the connection in needs_reauthorization with a clear message, then fails fast', async () => {
    const { conn, issued } = await connection();
    // Someone else (an old copy of the credentials) spends the refresh token.
    await refreshAccessToken(oauth(), new Secret(issued.refreshToken));

    const err = await tokensFor(store, conn.id, 2 * HOUR)
      .getAccessToken()
      .catch((e) => e);
    expect(err).toBeInstanceOf(SpirisReauthorizationRequiredError);
    expect(err.message).toMatch(/already used/);
    expect(err.message).toMatch(/Nothing was booked or lost/);
    expect(err.message).toMatch(/klarna-spiris connect spiris/);

    const after = await getConnection(store.db, conn.id);
    expect(after?.status).toBe(NEEDS_REAUTHORIZATION);
    expect(after?.statusReason).toBe(err.message);
    const events = await listEvents(store.db, { kindPrefix: 'spiris.needs_reauthorization' });
    expect(events.some((e) => (e.data as { connectionId?: string }).connectionId === conn.id)).toBe(true);
    // The tokens are kept (nothing else lost), and the next call does not go out at all.
    expect((await stored(conn.id)).refreshToken?.reveal()).toBe(issued.refreshToken);
    const count = sim.requestCount;
    await expect(tokensFor(store, conn.id).getAccessToken()).rejects.toThrow(/already used/);
    expect(sim.requestCount).toBe(count);
  });

  it('an access-token-only connection works until expiry, then asks for re-authorization with the time', async () => {
    const issued = sim.issueTokens();
    const expiresAt = new Date(Date.now() + 30 * 60_000).toISOString();
    const conn = await createConnection(store.db, sealer, {
      kind: 'spiris',
      environment: 'sandbox',
      config: { ...config(), authMode: 'access_token' } as unknown as Record<string, unknown>,
      secret: serializeCredentials({
        accessToken: new Secret(issued.accessToken),
        accessTokenExpiresAt: expiresAt,
      }),
    });
    // Inside the refresh margin is fine: there is nothing to refresh with.
    expect((await tokensFor(store, conn.id, 28 * 60_000).getAccessToken()).reveal()).toBe(issued.accessToken);
    const err = await tokensFor(store, conn.id, 31 * 60_000)
      .getAccessToken()
      .catch((e) => e);
    expect(err).toBeInstanceOf(SpirisReauthorizationRequiredError);
    expect(err.message).toContain(`expired at ${expiresAt}`);
    expect(err.message).toMatch(/cannot be renewed/);
    expect((await getConnection(store.db, conn.id))?.status).toBe(NEEDS_REAUTHORIZATION);
  });

  it('renews once when Spiris rejects a token that looked valid (401), then repeats the request', async () => {
    const { conn, issued } = await connection();
    await revokeToken(oauth(), new Secret(issued.accessToken), 'access_token');
    const api = new SpirisClient({ apiBaseUrl: sim.apiBaseUrl, tokens: tokensFor(store, conn.id) });
    expect((await api.getCompanySettings()).Name).toBe('Testbolaget Nordic AB');
    expect((await stored(conn.id)).accessToken?.reveal()).not.toBe(issued.accessToken);
  });
});

function startWorker(connectionId: string): {
  child: ChildProcess;
  ready: Promise<void>;
  result: Promise<{ ok: boolean; fingerprint?: string; message?: string }>;
} {
  const script = fileURLToPath(new URL('./testing/refresh-worker.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: {
      ...process.env,
      WORKER_DB_TARGET: store.target,
      WORKER_SECRET_KEY: key.toString('base64'),
      WORKER_CONNECTION_ID: connectionId,
      WORKER_CLOCK_AHEAD_MS: String(2 * HOUR),
    },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let out = '';
  let err = '';
  let onReady!: () => void;
  const ready = new Promise<void>((resolve) => {
    onReady = resolve;
  });
  const result = new Promise<{ ok: boolean; fingerprint?: string; message?: string }>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('ready\n')) onReady();
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line) resolve(JSON.parse(line));
    });
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
    });
    child.on('exit', (code) => {
      if (!out.split('\n').some((l) => l.startsWith('{'))) reject(new Error(`worker exited ${code}: ${err}`));
    });
  });
  return { child, ready: Promise.race([ready, result.then(() => undefined)]), result };
}
