import { randomBytes, randomUUID } from 'node:crypto';
import fs, { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { AesGcmSealer, parseSecretKey } from '../setup/credentials.ts';
import { PREVIEW_EVENT } from '../setup/go-live.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import { parseCredentials } from '../spiris/token-store.ts';
import { getConnection, listConnections, readConnectionSecret } from '../store/connections.repository.ts';
import { listEvents, recordEvent } from '../store/events.repository.ts';
import { findIntegration, listIntegrations } from '../store/integrations.repository.ts';
import { listPayouts } from '../store/payouts.repository.ts';

// The whole guided setup through the CLI, as a merchant runs it: refusals that store
// nothing, Klarna and Spiris connected, the connection test, the go-live gate, key
// rotation and replacement, a revoked key, the audit log and a rotation of the
// encryption key. At the end every secret handed over or minted is searched for in
// the captured logs, in everything printed, and in the database files.

const key = (env: 'live' | 'test') => `klarna_${env}_api_${randomBytes(30).toString('base64url')}`;
const MERCHANT = 'K610001';
const KEYS = { first: key('live'), rotated: key('live'), otherMerchant: key('live'), test: key('test') };
const USERNAME = randomUUID();
const CLIENT = { clientId: 'setup-cli', clientSecret: `cs-${randomBytes(16).toString('hex')}` };
const OTHER_COMPANY = 'b2000000-0000-4000-8000-000000000001';
const SINCE = '2026-01-01';
const UNTIL = '2026-01-03';

let store: TestStore;
let klarna: KlarnaSimulator;
let klarnaRotated: KlarnaSimulator;
let spiris: SpirisSimulator;
let dataDir: string;
let env: NodeJS.ProcessEnv;
/** Everything the CLI printed, and every log line pino wrote. */
const printed: string[] = [];
const logs: string[] = [];
/** Tokens minted for the CLI: none may show up anywhere. */
const minted: string[] = [];

async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(args, { ...env, ...extraEnv }, printed);
}

const spirisArgs = (...extra: string[]) => [
  'connect',
  'spiris',
  '--client-id',
  CLIENT.clientId,
  '--identity-base-url',
  spiris.identityBaseUrl,
  '--api-base-url',
  spiris.apiBaseUrl,
  '--environment',
  'production',
  ...extra,
];

function issue(companyId?: string): string {
  const t = spiris.issueTokens({ clientId: CLIENT.clientId, ...(companyId ? { companyId } : {}) });
  minted.push(t.refreshToken, t.accessToken);
  return t.refreshToken;
}

const preview = async (blocking: number) => {
  const i = (await findIntegration(store.db, 'default'))!;
  await recordEvent(store.db, {
    integrationId: i.id,
    actor: 'cli:tester',
    kind: PREVIEW_EVENT,
    message: 'preview',
    data: { payouts: 3, ready: 3 - blocking, blocking },
  });
};

const integration = async () => (await findIntegration(store.db, 'default'))!;

beforeAll(async () => {
  // pino writes synchronously to fd 2; keep its lines instead of printing them.
  const realWriteSync = fs.writeSync;
  vi.spyOn(fs, 'writeSync').mockImplementation(((fd: number, data: unknown, ...rest: unknown[]) => {
    if (fd !== 2) return (realWriteSync as (...a: unknown[]) => number)(fd, data, ...rest);
    const text = typeof data === 'string' ? data : Buffer.from(data as Uint8Array).toString('utf8');
    logs.push(text);
    return typeof data === 'string' ? Buffer.byteLength(data) : (data as Uint8Array).length;
  }) as typeof fs.writeSync);

  [store, klarna, klarnaRotated, spiris] = await Promise.all([
    openTestStore(),
    startKlarnaSimulator({
      environment: 'production',
      merchants: [{ seed: 61, days: 3, merchantId: MERCHANT, apiKey: KEYS.first, username: USERNAME }],
    }),
    // The same merchant behind a second, newer key.
    startKlarnaSimulator({
      environment: 'production',
      merchants: [{ seed: 61, days: 3, merchantId: MERCHANT, apiKey: KEYS.rotated }],
    }),
    startSpirisSimulator({
      clients: [CLIENT],
      companies: [{}, { id: OTHER_COMPANY, name: 'Annat Bolag AB', corporateIdentityNumber: '559999-0001' }],
    }),
  ]);
  klarna.addMerchant({ seed: 62, days: 3, apiKey: KEYS.otherMerchant });
  dataDir = mkdtempSync(join(tmpdir(), 'ks-setup-cli-'));
  // No KLARNA_SPIRIS_SECRET_KEY: the key file is created on first start and rotated below.
  env = {
    DATABASE_URL: store.target,
    KLARNA_SPIRIS_DATA_DIR: dataDir,
    KLARNA_SPIRIS_LOG_LEVEL: 'trace',
    USER: 'tester',
    SPIRIS_CLIENT_SECRET: CLIENT.clientSecret,
  };
});

afterAll(async () => {
  vi.restoreAllMocks();
  await Promise.all([store?.close(), klarna?.close(), klarnaRotated?.close(), spiris?.close()]);
  if (dataDir) rmSync(dataDir, { recursive: true, force: true });
});

describe('klarna-spiris setup, end to end', () => {
  it('prints the guide in English, Swedish and as data', async () => {
    const en = await run(['setup', 'guide', '--lang', 'en']);
    expect(en.code).toBe(0);
    expect(en.stdout).toMatch(/1\.5 Paste the key/);
    expect(en.stdout).toMatch(/2\.5 Verify outside production first/);
    expect((await run(['setup', 'guide'], { LANG: 'sv_SE.UTF-8' })).stdout).toMatch(/^1\. Anslut Klarna/);
    const data = JSON.parse((await run(['setup', 'guide', '--json'])).stdout);
    expect(data[0].steps[0].title).toEqual({ en: 'Get the API credentials', sv: 'Hämta API-uppgifterna' });
  });

  it.each<[string, { args?: string[]; env?: NodeJS.ProcessEnv }, RegExp]>([
    ['a malformed key', { args: ['--api-key', 'sk_live_51Habc'] }, /This is not a Klarna API key/],
    [
      'a key with a space in it',
      { args: ['--api-key', `${KEYS.first.slice(0, 20)} ${KEYS.first.slice(20)}`] },
      /contains whitespace inside it/,
    ],
    ['a key pasted with a newline', { env: { KLARNA_API_KEY: `${KEYS.first}\n` } }, /trailing line break/],
  ])('refuses %s and stores nothing', async (_name, input, message) => {
    const r = await run(
      ['klarna', 'connect', '--base-url', klarna.url, ...(input.args ?? [])],
      input.env ?? {},
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).toMatch(/Nothing was saved\./);
    expect(await listConnections(store.db)).toEqual([]);
    expect(await listIntegrations(store.db)).toEqual([]);
  });

  it('connects Klarna, printing the key only masked, warning about the command line and idle keys', async () => {
    const r = await run([
      'klarna',
      'connect',
      '--base-url',
      klarna.url,
      '--username',
      USERNAME,
      '--api-key',
      KEYS.first,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      'warning: --api-key puts the secret on the command line, where it ends up in shell history and process lists; prefer --api-key-stdin, KLARNA_API_KEY or the interactive prompt.\n',
    );
    expect(r.stdout).toMatch(/production \(eu\), key klarna_live_api_…\S{3} at http/);
    expect(r.stdout).toMatch(/Klarna disables API keys left unused for two months/);
    const payouts = await run(['klarna', 'payouts', '--since', SINCE, '--until', UNTIL, '--json']);
    expect(payouts.code).toBe(0);
    expect(JSON.parse(payouts.stdout).payoutsNew).toBe(3);
  });

  it('refuses a Spiris token for another company than --org-number, and stores nothing', async () => {
    const r = await run(spirisArgs('--org-number', '559999-0001'), { SPIRIS_REFRESH_TOKEN: issue() });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /these credentials open Testbolaget Nordic AB \(556677-8899\), but --org-number says the company is 559999-0001\. Nothing was stored\./,
    );
    expect((await listConnections(store.db)).filter((c) => c.kind === 'spiris')).toEqual([]);
    expect(await listEvents(store.db, { kindPrefix: 'spiris.' })).toEqual([]);
    expect((await run(spirisArgs('--org-number', '12'))).stderr).toMatch(
      /"12" is not an organisation number/,
    );
    const pasted = await run(spirisArgs(), { SPIRIS_REFRESH_TOKEN: `${issue()}\n` });
    expect(pasted.code).toBe(2);
    expect(pasted.stderr).toMatch(
      /The Spiris refresh token has a line break before or after it; paste it alone\. Nothing was stored\./,
    );
    expect((await listConnections(store.db)).filter((c) => c.kind === 'spiris')).toEqual([]);
  });

  it('connects the production company pinned to its org number, and refuses a token for another one', async () => {
    const ok = await run(spirisArgs('--org-number', '5566778899', '--json'), {
      SPIRIS_REFRESH_TOKEN: issue(),
    });
    expect(ok.stderr).toBe('');
    expect(ok.code).toBe(0);
    const result = JSON.parse(ok.stdout);
    expect(result).toMatchObject({
      environment: 'production',
      organisationNumber: '556677-8899',
      authMode: 'refresh_token',
    });
    const conn = await getConnection(store.db, result.connectionId);
    expect(conn?.config).toMatchObject({ expectedOrgNumber: '556677-8899', authMode: 'refresh_token' });

    const before = await listConnections(store.db);
    const refused = await run(spirisArgs(), { SPIRIS_REFRESH_TOKEN: issue(OTHER_COMPANY) });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /open Annat Bolag AB \(559999-0001\), but integration "default" books into Testbolaget Nordic AB \(556677-8899\)\. Nothing was stored\./,
    );
    expect(await listConnections(store.db)).toEqual(before);
  });

  it('tests both sides, one line per check', async () => {
    const r = await run(['test']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^Connection test of "default" at /);
    expect(r.stdout).toMatch(/pass {2}klarna\.authentication +Klarna accepted the key klarna_live_api_…/);
    expect(r.stdout).toMatch(/pass {2}klarna\.merchant +Merchant K610001\./);
    expect(r.stdout).toMatch(/pass {2}spiris\.company +Testbolaget Nordic AB \(556677-8899\)\./);
    expect(r.stdout).toMatch(
      /pass {2}spiris\.environment +Production company: until the integration is live/,
    );
    expect(r.stdout).toMatch(/Result: 14 pass, 0 warn, 0 fail\./);
    const json = JSON.parse((await run(['test', '--json'])).stdout);
    expect(json).toMatchObject({ ok: true, integrationName: 'default' });
  });

  it('refuses live without a preview and a confirmation, and with a blocking preview', async () => {
    await run(['mode', 'test']);
    const status = await run(['mode']);
    expect(status.stdout).toMatch(/is in test mode\.\nTo go live:/);
    expect(status.stdout).toMatch(/MISS {2}preview +No preview has been run\./);

    const noConfirm = await run(['mode', 'live']);
    expect(noConfirm.code).toBe(1);
    expect(noConfirm.stdout).toMatch(/stays in test mode/);
    expect(noConfirm.stdout).toMatch(/MISS {2}confirmation/);
    expect(noConfirm.stdout).toMatch(/ok {4}klarna_live_key/);
    expect(noConfirm.stderr).toMatch(/Not switched to live: 2 condition\(s\) not met/);

    await preview(2);
    const blocking = await run(['mode', 'live', '--confirm', '--json']);
    expect(blocking.code).toBe(1);
    const out = JSON.parse(blocking.stdout);
    expect(out.goLive.checks.filter((c: { ok: boolean }) => !c.ok).map((c: { id: string }) => c.id)).toEqual([
      'preview',
    ]);
    expect((await integration()).mode).toBe('test');
  });

  it('goes live with a clean preview and the confirmation', async () => {
    await preview(0);
    const r = await run(['mode', 'live', '--confirm']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'Integration "default": test → live. Vouchers are now booked into the production books.\n',
    );
    expect((await integration()).mode).toBe('live');
  });

  it('refuses a test key and a Spiris sandbox for the live integration, and stores nothing', async () => {
    const before = await listConnections(store.db);
    const r = await run(['klarna', 'connect', '--base-url', klarna.url], { KLARNA_API_KEY: KEYS.test });
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/is live and books into your production books, so it takes only a live key/);
    const sandbox = await run(spirisArgs('--environment', 'sandbox'), { SPIRIS_REFRESH_TOKEN: issue() });
    expect(sandbox.code).toBe(2);
    expect(sandbox.stderr).toMatch(
      /is live .* takes only a production Spiris connection, not sandbox\. Nothing was stored\./,
    );
    expect(await listConnections(store.db)).toEqual(before);
  });

  it('rotates the key of the same merchant without losing payouts, settings or live mode', async () => {
    const i = await integration();
    const payoutsBefore = await listPayouts(store.db, { integrationId: i.id });
    const r = await run(['klarna', 'connect', '--base-url', klarnaRotated.url], {
      KLARNA_API_KEY: KEYS.rotated,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Replaced key klarna_live_api_…\S{3}; payouts, vouchers and the mapping are kept\./,
    );
    const after = await integration();
    expect(after.mode).toBe('live');
    expect(after.settings).toEqual(i.settings);
    expect(after.klarnaConnectionId).not.toBe(i.klarnaConnectionId);
    expect((await getConnection(store.db, i.klarnaConnectionId!))?.status).toBe('replaced');
    expect(await listPayouts(store.db, { integrationId: i.id })).toEqual(payoutsBefore);
  });

  it('refuses a key of another merchant unless confirmed, then leaves live for test', async () => {
    const refused = await run(['klarna', 'connect', '--base-url', klarna.url], {
      KLARNA_API_KEY: KEYS.otherMerchant,
    });
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(
      /belongs to Klarna merchant K\d+, but integration "default" has so far fetched payouts of merchant K610001/,
    );
    expect(refused.stderr).toMatch(/--confirm-merchant-change/);
    expect((await integration()).mode).toBe('live');

    const confirmed = await run(
      ['klarna', 'connect', '--base-url', klarna.url, '--confirm-merchant-change'],
      {
        KLARNA_API_KEY: KEYS.otherMerchant,
      },
    );
    expect(confirmed.code).toBe(0);
    expect(confirmed.stderr).toMatch(/warning: Merchant changed from K610001 to K\d+ \(confirmed\)/);
    expect(confirmed.stderr).toMatch(/was live and is now in test mode/);
    expect((await integration()).mode).toBe('test');
  });

  it('pauses the integration when Klarna revokes the key, and resumes on a new key', async () => {
    klarna.revokeKey(KEYS.otherMerchant);
    const r = await run(['klarna', 'payouts', '--since', SINCE, '--until', UNTIL]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/The integration is paused until a new key is connected\./);
    expect(await integration()).toMatchObject({
      status: 'paused',
      statusReason: expect.stringContaining(
        'key revoked or disabled: create a new one in the Merchant Portal under Settings → API credentials',
      ),
    });
    const test = await run(['test']);
    expect(test.code).toBe(1);
    expect(test.stdout).toMatch(
      /FAIL {2}klarna\.authentication +Klarna refused the key .* \(401\): key revoked or disabled/,
    );
    expect(test.stderr).toMatch(/check\(s\) failed/);

    const back = await run(['klarna', 'connect', '--base-url', klarnaRotated.url], {
      KLARNA_API_KEY: KEYS.rotated,
    });
    expect(back.code).toBe(0);
    expect(await integration()).toMatchObject({ status: 'ok', statusReason: null });
  });

  it('shows who changed what in the audit log', async () => {
    const r = await run(['audit', '--json', '--limit', '200']);
    expect(r.code).toBe(0);
    const events = JSON.parse(r.stdout) as Array<{ kind: string; actor: string; data: unknown }>;
    const kinds = events.map((e) => e.kind);
    for (const k of [
      'klarna.connected',
      'spiris.connected',
      'connection_test.completed',
      'mode.change_refused',
      'mode.changed',
      'integration.paused',
      'integration.resumed',
    ]) {
      expect(kinds).toContain(k);
    }
    expect(
      events.find((e) => e.kind === 'mode.changed' && (e.data as { to: string }).to === 'live')?.actor,
    ).toBe('cli:tester');
    const human = await run(['audit', '--integration', 'default', '--limit', '3']);
    expect(human.stdout.trim().split('\n')).toHaveLength(3);
    expect((await run(['audit', '--limit', '0'])).code).toBe(2);
  });

  it('rotates the encryption key; everything still opens and the test still passes', async () => {
    const keyFile = join(dataDir, 'secret.key');
    const oldKey = parseSecretKey(readFileSync(keyFile, 'utf8'));
    const r = await run(['secrets', 'rotate-key', '--json']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ mode: 'file', resumed: false });
    expect(out.resealed).toBe((await listConnections(store.db)).length);
    const newKey = parseSecretKey(readFileSync(keyFile, 'utf8'));
    expect(newKey.equals(oldKey)).toBe(false);
    expect(existsSync(`${keyFile}.old`)).toBe(false);
    minted.push(oldKey.toString('base64'), newKey.toString('base64'));
    const test = await run(['test']);
    expect(test.code).toBe(0);
    const [rotated] = await listEvents(store.db, { kindPrefix: 'secrets.' });
    expect(rotated).toMatchObject({ actor: 'cli:tester', kind: 'secrets.key_rotated' });
  });

  it('refuses to start after an interrupted rotation until `secrets rotate-key` finishes it', async () => {
    const keyFile = join(dataDir, 'secret.key');
    const current = readFileSync(keyFile, 'utf8');
    // A crash before the commit: a new key on disk that the database never used.
    writeFileSync(`${keyFile}.new`, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    // The app refuses to start: it could not know which key seals new credentials.
    await expect(createApp(loadConfig(env))).rejects.toThrow(
      /A change of the secret key was interrupted .* run `klarna-spiris secrets rotate-key` to finish it/,
    );
    const resumed = await run(['secrets', 'rotate-key']);
    expect(resumed.code).toBe(0);
    expect(resumed.stdout).toMatch(/Finished an interrupted rotation/);
    expect(resumed.stdout).toMatch(/had not changed the stored secrets; the current key stays/);
    expect(readFileSync(keyFile, 'utf8')).toBe(current);
    expect((await run(['test'])).code).toBe(0);
  });

  it('never lets a secret reach the logs, the output or the database files', async () => {
    // The tokens the store holds now: rotated many times since they were minted.
    const sealer = new AesGcmSealer(parseSecretKey(readFileSync(join(dataDir, 'secret.key'), 'utf8')));
    const stored: string[] = [];
    for (const c of await listConnections(store.db)) {
      const s = (await readConnectionSecret(store.db, sealer, c.id)).secret;
      if (c.kind === 'klarna') stored.push(s.reveal());
      else {
        const creds = parseCredentials(s);
        for (const t of [creds.accessToken, creds.refreshToken, creds.clientSecret])
          if (t) stored.push(t.reveal());
      }
    }
    const secrets = [...new Set([...Object.values(KEYS), CLIENT.clientSecret, ...minted, ...stored])];
    expect(secrets.length).toBeGreaterThan(10);
    // Searching for the part after the public prefix, which is all that makes a key secret.
    const needles = secrets.map((s) => s.replace(/^klarna_(live|test)_api_/, ''));

    expect(logs.length).toBeGreaterThan(0);
    expect(logs.join('')).toMatch(/klarna request/);
    const haystacks: Array<[string, string]> = [
      ['logs', logs.join('')],
      ['output', printed.join('')],
      ['database', await databaseText()],
    ];
    for (const [where, text] of haystacks) {
      for (const n of needles) {
        if (text.includes(n)) throw new Error(`a secret (…${n.slice(-4)}) was found in the ${where}`);
      }
    }
  });
});

/** Every byte the database keeps: the SQLite file and its WAL, or every PostgreSQL table as text. */
async function databaseText(): Promise<string> {
  if (store.dialect === 'sqlite') {
    // The open test store keeps the WAL file, where recent writes live before a checkpoint.
    expect(existsSync(`${store.target}-wal`)).toBe(true);
    const files = [store.target, `${store.target}-wal`, `${store.target}-journal`].filter((f) =>
      existsSync(f),
    );
    return files.map((f) => readFileSync(f).toString('latin1')).join('\n');
  }
  const client = new pg.Client({ connectionString: store.target });
  await client.connect();
  try {
    const tables = await client.query<{ table_name: string }>(
      "select table_name from information_schema.tables where table_schema = 'public' and table_type = 'BASE TABLE'",
    );
    const parts: string[] = [];
    for (const { table_name } of tables.rows) {
      const rows = await client.query(`select t::text as row from "${table_name}" t`);
      parts.push(...rows.rows.map((r: { row: string }) => r.row));
    }
    expect(parts.join('')).toContain('Testbolaget Nordic AB');
    return parts.join('\n');
  } finally {
    await client.end();
  }
}
