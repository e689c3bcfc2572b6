import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { hostname } from 'node:os';
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
  updateConnection,
} from '../store/connections.repository.ts';
import { openStore, type Store } from '../store/db.ts';
import { listEvents, recordEvent } from '../store/events.repository.ts';
import { refreshAccessToken, resolveSpirisEndpoints, revokeToken } from './oauth.ts';
import { SpirisClient } from './spiris.client.ts';
import { SpirisInvalidGrantError, SpirisReauthorizationRequiredError } from './spiris.errors.ts';
import { SpirisTokenLeaseTimeoutError } from './token-lease.ts';
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
  configOverride: Partial<SpirisConnectionConfig> = {},
): Promise<{ conn: ConnectionRecord; issued: { accessToken: string; refreshToken: string } }> {
  const issued = sim.issueTokens();
  const conn = await createConnection(store.db, sealer, {
    kind: 'spiris',
    environment: 'sandbox',
    config: { ...config(), ...configOverride } as unknown as Record<string, unknown>,
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

const tokensFor = (
  s: Store,
  id: string,
  aheadMs = 0,
  more: Partial<ConstructorParameters<typeof StoredSpirisTokens>[0]> = {},
) =>
  new StoredSpirisTokens({
    store: s,
    sealer,
    connectionId: id,
    now: () => new Date(Date.now() + aheadMs),
    ...more,
  });

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

  it('two worker processes refresh at once: the cross-process lock (advisory lock, SQLite lease) lets only one through', async () => {
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

describe('no database lock held across the identity server (SQLite: one connection, one writer)', () => {
  it('other queries, in this process and from another handle, finish while a refresh waits on a slow identity server', async () => {
    const identity = await startHeldIdentityProxy(config().tokenUrl!);
    const second = await openStore(
      store.dialect === 'postgres'
        ? { databaseUrl: store.target, migrate: false }
        : { sqlitePath: store.target, migrate: false },
    );
    try {
      const { conn } = await connection({}, { tokenUrl: identity.url });
      const { conn: other } = await connection();
      let settled = false;
      const refresh = tokensFor(store, conn.id, 2 * HOUR)
        .getAccessToken()
        .finally(() => {
          settled = true;
        });
      await identity.received;

      // Before the fix SQLite held its write transaction here: this process's queries
      // queued behind it until the answer came, and another handle's write failed with
      // SQLITE_BUSY after busy_timeout.
      const started = Date.now();
      expect((await within(1000, getConnection(store.db, other.id)))?.id).toBe(other.id);
      await within(
        1000,
        recordEvent(store.db, { integrationId: null, actor: 'test', kind: 'test.ping', message: 'ping' }),
      );
      await within(1000, updateConnection(second.db, other.id, { externalName: 'written meanwhile' }));
      await within(1000, tokensFor(second, other.id).getAccessToken());
      expect(Date.now() - started).toBeLessThan(1000);
      expect(settled).toBe(false);

      identity.release();
      const token = await refresh;
      const after = await stored(conn.id);
      expect(after.accessToken?.reveal()).toBe(token.reveal());
      expect(after.version).toBe(2);
      expect((await getConnection(store.db, other.id))?.externalName).toBe('written meanwhile');
      if (store.dialect === 'sqlite') {
        expect(await store.db.selectFrom('connection_leases').selectAll().execute()).toEqual([]);
      }
    } finally {
      identity.release();
      await identity.close();
      await second.close();
    }
  });

  it.runIf(process.env.KS_TEST_DB !== 'postgres')(
    'a live lease elsewhere makes a refresher wait, then fail clearly; an expired one is taken over',
    async () => {
      const { conn } = await connection();
      const future = new Date(Date.now() + 60_000).toISOString();
      await store.db
        .insertInto('connection_leases')
        .values({
          connection_id: conn.id,
          holder: 'other-host:4242:beef',
          acquired_at: future,
          expires_at: future,
        })
        .execute();
      const before = tokenPosts();
      const quick = { refreshLease: { waitMs: 300, pollMs: 20 } };
      const err = await tokensFor(store, conn.id, 2 * HOUR, quick)
        .getAccessToken()
        .catch((e) => e);
      expect(err).toBeInstanceOf(SpirisTokenLeaseTimeoutError);
      expect(err.message).toMatch(/Another process \(other-host, pid 4242\).*still holds the refresh lease/);
      expect(err.message).toMatch(/Nothing was booked or lost; try again/);
      expect(tokenPosts()).toBe(before);
      expect((await getConnection(store.db, conn.id))?.status).toBe('active');

      // Its holder died without renewing: once the lease runs out, the next refresher takes it.
      await store.db
        .updateTable('connection_leases')
        .set({ expires_at: new Date(Date.now() - 1).toISOString() })
        .where('connection_id', '=', conn.id)
        .execute();
      await tokensFor(store, conn.id, 2 * HOUR, quick).getAccessToken();
      expect(tokenPosts() - before).toBe(1);
      expect(await store.db.selectFrom('connection_leases').selectAll().execute()).toEqual([]);
    },
  );

  it.runIf(process.env.KS_TEST_DB !== 'postgres')(
    'a lease left by a crashed process on this host is taken over at once',
    async () => {
      const { conn } = await connection();
      const gone = spawnSync(process.execPath, ['-e', '']).pid!;
      const future = new Date(Date.now() + 60_000).toISOString();
      await store.db
        .insertInto('connection_leases')
        .values({
          connection_id: conn.id,
          holder: `${hostname()}:${gone}:dead`,
          acquired_at: future,
          expires_at: future,
        })
        .execute();
      const before = tokenPosts();
      await tokensFor(store, conn.id, 2 * HOUR, {
        refreshLease: { waitMs: 300, pollMs: 20 },
      }).getAccessToken();
      expect(tokenPosts() - before).toBe(1);
    },
  );
});

/** Rejects if `p` takes longer than `ms`: what "promptly" means here. */
function within<T>(ms: number, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still waiting after ${ms} ms`)), ms);
  });
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}

/**
 * A real identity endpoint that holds every token request until released, then passes
 * it on to the simulator: a refresh stays in flight for as long as the test needs.
 */
async function startHeldIdentityProxy(target: string): Promise<{
  url: string;
  received: Promise<void>;
  release: () => void;
  close: () => Promise<void>;
}> {
  let onReceived!: () => void;
  const received = new Promise<void>((resolve) => {
    onReceived = resolve;
  });
  let release!: () => void;
  const released = new Promise<void>((resolve) => {
    release = resolve;
  });
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      onReceived();
      await released;
      const headers: Record<string, string> = {};
      for (const h of ['content-type', 'authorization', 'accept']) {
        const v = req.headers[h];
        if (typeof v === 'string') headers[h] = v;
      }
      const upstream = await fetch(target, {
        method: req.method ?? 'POST',
        headers,
        body: Buffer.concat(chunks),
      });
      res.writeHead(upstream.status, {
        'content-type': upstream.headers.get('content-type') ?? 'application/json',
      });
      res.end(await upstream.text());
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/connect/token`,
    received,
    release,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

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
