import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TEST_OPTIONS } from '../admin/admin-test-kit.ts';
import { verifyPassword } from '../admin/auth/password.ts';
import { buildServer } from '../admin/server.ts';
import { type App, createApp } from '../app.ts';
import { main } from '../cli/main.ts';
import { loadConfig } from '../config.ts';
import { getAdminCredential } from '../store/admin.repository.ts';
import { openStore } from '../store/db.ts';
import { applyAdminPasswordFromEnv, startService, waitForShutdownSignal } from './serve.ts';
import { loadServiceConfig } from './service-config.ts';

let dir: string;
let app: App;
const env = () => ({ KLARNA_SPIRIS_DATA_DIR: dir, KLARNA_SPIRIS_LOG_LEVEL: 'silent' });

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ks-serve-'));
  app = await createApp(loadConfig(env()));
});
afterAll(async () => {
  await app?.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('serve runtime', () => {
  it('reads port and host from flags over env over defaults', () => {
    expect(loadServiceConfig({})).toMatchObject({
      port: 8080,
      host: 'localhost',
      cookieSecure: 'auto',
      trustProxy: false,
    });
    const c = loadServiceConfig(
      { KLARNA_SPIRIS_PORT: '9000', KLARNA_SPIRIS_TRUST_PROXY: '1' },
      { host: '0.0.0.0' },
    );
    expect(c).toMatchObject({ port: 9000, host: '0.0.0.0', trustProxy: 1 });
    expect(loadServiceConfig({ KLARNA_SPIRIS_PORT: '9000' }, { port: 0 }).port).toBe(0);
    expect(() =>
      loadServiceConfig({ KLARNA_SPIRIS_PORT: 'x', KLARNA_SPIRIS_COOKIE_SECURE: 'maybe' }),
    ).toThrow(/KLARNA_SPIRIS_PORT.*KLARNA_SPIRIS_COOKIE_SECURE/);
  });

  it('applies KLARNA_SPIRIS_ADMIN_PASSWORD once, and again only when it changes', async () => {
    const config = loadServiceConfig({ KLARNA_SPIRIS_ADMIN_PASSWORD: 'lösenord från miljön' });
    expect(String(config.adminPassword)).toBe('[redacted]');
    expect(JSON.stringify({ config })).not.toContain('miljön');
    expect(await applyAdminPasswordFromEnv(app, config)).toBe('set');
    expect(await applyAdminPasswordFromEnv(app, config)).toBe('unchanged');
    const stored = await getAdminCredential(app.store.db);
    expect(await verifyPassword('lösenord från miljön', stored!.passwordHash)).toBe(true);
    await expect(
      applyAdminPasswordFromEnv(app, loadServiceConfig({ KLARNA_SPIRIS_ADMIN_PASSWORD: 'kort' })),
    ).rejects.toThrow(/too short/);
  });

  it('listens, runs serve hooks around the server, and closes in order', async () => {
    const order: string[] = [];
    const service = await startService(app, loadServiceConfig({}, { port: 0, host: '127.0.0.1' }), {
      adminOptions: FAST_TEST_OPTIONS,
      hooks: [
        async () => {
          order.push('hook started');
          return {
            plugins: [(server) => void server.get('/demo-ping', async () => ({ pong: true }))],
            stop: async () => void order.push('hook stopped'),
          };
        },
      ],
    });
    expect(service.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(`${service.url}/healthz`)).json()).toEqual({ status: 'ok' });
    expect(await (await fetch(`${service.url}/demo-ping`)).json()).toEqual({ pong: true });
    await service.close();
    order.push('closed');
    expect(order).toEqual(['hook started', 'hook stopped', 'closed']);
    await expect(fetch(`${service.url}/healthz`)).rejects.toThrow();
  });

  it('answers /healthz with 503 once the store is unreachable', async () => {
    const store = await openStore({ sqlitePath: join(dir, 'gone.sqlite') });
    const gone = await createApp(loadConfig(env()), { store, logger: pino({ level: 'silent' }) });
    const server = await buildServer({ app: gone, options: FAST_TEST_OPTIONS });
    expect((await server.inject('/healthz')).statusCode).toBe(200);
    await store.close();
    const res = await server.inject('/healthz');
    expect(res.statusCode).toBe(503);
    expect(res.json()).toEqual({ status: 'unavailable' });
    await server.close();
  });

  it('waits for SIGTERM, and forces on a second signal', async () => {
    let forced = 0;
    const waiting = waitForShutdownSignal(() => forced++);
    process.emit('SIGTERM', 'SIGTERM');
    expect(await waiting).toBe('SIGTERM');
    process.emit('SIGINT', 'SIGINT');
    expect(forced).toBe(1);
    // Consumes the last once-listener so nothing of ours stays on the process.
    process.emit('SIGTERM', 'SIGTERM');
    expect(forced).toBe(2);
  });
});

describe('admin CLI', () => {
  const sink = () => {
    const chunks: string[] = [];
    const stream = {
      write(s: string) {
        chunks.push(s);
        return true;
      },
    } as unknown as NodeJS.WritableStream;
    return { stream, text: () => chunks.join('') };
  };
  const run = async (...argv: string[]) => {
    const out = sink();
    const err = sink();
    const code = await main(argv, env(), out.stream, err.stream);
    return { code, out: out.text(), err: err.text() };
  };

  it('creates a token printed once, lists it masked, and revokes it by name', async () => {
    const created = await run('admin', 'token', 'create', 'monitoring');
    expect(created.code).toBe(0);
    const token = created.out.trim();
    expect(token).toMatch(/^ks_[A-Za-z0-9_-]{43}$/);
    expect(created.err).toMatch(/cannot be shown again/);
    const listed = await run('admin', 'token', 'list');
    expect(listed.out).toContain(`monitoring  ks_…${token.slice(-4)}  active`);
    expect(listed.out).not.toContain(token);
    expect((await run('admin', 'token', 'revoke', 'monitoring')).out).toMatch(/^Revoked monitoring/);
    expect((await run('admin', 'token', 'revoke', 'monitoring')).code).toBe(1);
  });
});
