import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { listConnections } from '../store/connections.repository.ts';
import { listEvents } from '../store/events.repository.ts';
import { findIntegration } from '../store/integrations.repository.ts';
import { listPayouts } from '../store/payouts.repository.ts';

let store: TestStore;
let sim: KlarnaSimulator;
let dataDir: string;
let env: NodeJS.ProcessEnv;
const SINCE = '2026-01-01';
const UNTIL = '2026-01-10';

async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(args, { ...env, ...extraEnv });
}

beforeAll(async () => {
  [store, sim] = await Promise.all([
    openTestStore(),
    startKlarnaSimulator({
      merchants: [
        { seed: 31, days: 10 },
        { seed: 32, days: 3 },
      ],
    }),
  ]);
  dataDir = mkdtempSync(join(tmpdir(), 'ks-cli-'));
  env = {
    DATABASE_URL: store.target,
    KLARNA_SPIRIS_DATA_DIR: dataDir,
    KLARNA_SPIRIS_SECRET_KEY: randomBytes(32).toString('base64'),
    KLARNA_SPIRIS_LOG_LEVEL: 'silent',
  };
});
afterAll(async () => {
  await Promise.all([store?.close(), sim?.close()]);
  rmSync(dataDir, { recursive: true, force: true });
});

const merchant = () => sim.merchants[0]!;
const key = () => merchant().credentials.apiKey;
const keyBody = () => key().slice('klarna_test_api_'.length);

describe('klarna connect: refused input stores nothing', () => {
  it.each([
    [
      'a trailing newline',
      () => ['--api-key', `${key()}\n`],
      /API key has trailing line break; paste the key alone\. Nothing was saved\./,
    ],
    ['quotes', () => ['--api-key', `"${key()}"`], /wrapped in quotes.*Nothing was saved/],
    [
      'a legacy username',
      () => ['--api-key', 'K123456_abcd12345'],
      /legacy Klarna API username .* Merchant Portal → Settings → API credentials/,
    ],
    ['region us', () => ['--api-key', key(), '--region', 'us'], /North America is "na"/],
    ['a username that is no UUID', () => ['--api-key', key(), '--username', 'shop'], /must be the UUID/],
    [
      'a test key for production',
      () => ['--api-key', key(), '--environment', 'production'],
      /test key .* aimed at the production/,
    ],
    [
      'no key at all',
      () => [],
      /No Klarna API key: pass --api-key, --api-key-stdin, or set KLARNA_API_KEY\. Nothing was saved\./,
    ],
  ])('%s', async (_name, args, message) => {
    const r = await run(['klarna', 'connect', '--base-url', sim.url, ...args()]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    expect(r.stderr + r.stdout).not.toContain(keyBody());
    expect(await listConnections(store.db)).toEqual([]);
  });

  it('a key Klarna refuses (401) is not stored either', async () => {
    const r = await run([
      'klarna',
      'connect',
      '--base-url',
      sim.url,
      '--api-key',
      'klarna_test_api_dW5rbm93bi1rZXktZm9yLWNsaS10ZXN0',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/key revoked or disabled, or wrong environment: .* Nothing was saved\./);
    expect(r.stderr).not.toContain('dW5rbm93bi1rZXkt');
    expect(await listConnections(store.db)).toEqual([]);
  });
});

describe('klarna connect, payouts, payout', () => {
  it('connects with the key from KLARNA_API_KEY, prints it only masked, and creates the default integration', async () => {
    const r = await run(
      ['klarna', 'connect', '--base-url', sim.url, '--username', merchant().credentials.username, '--json'],
      { KLARNA_API_KEY: key() },
    );
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).not.toContain(keyBody());
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({
      integration: { name: 'default' },
      connection: {
        kind: 'klarna',
        environment: 'playground',
        region: 'eu',
        baseUrl: sim.url,
        merchantId: merchant().merchantId,
        verified: true,
      },
    });
    expect(out.connection.secretHint).toMatch(/^klarna_test_api_…/);
    const integration = await findIntegration(store.db, 'default');
    expect(integration?.klarnaConnectionId).toBe(out.connection.id);
    const events = await listEvents(store.db, { integrationId: integration!.id });
    expect(events[0]).toMatchObject({ kind: 'klarna.connected' });
    expect(JSON.stringify(events)).not.toContain(keyBody());
  });

  it('payouts --json stores the window and a second run stores nothing new', async () => {
    const first = await run(['klarna', 'payouts', '--since', SINCE, '--until', UNTIL, '--json']);
    expect(first.stderr).toBe('');
    expect(first.code).toBe(0);
    const a = JSON.parse(first.stdout);
    const expected = merchant().payouts.filter((p) => p.payout_date.slice(0, 10) <= UNTIL);
    expect(a).toMatchObject({
      since: SINCE,
      until: UNTIL,
      payoutsSeen: expected.length,
      payoutsNew: expected.length,
      notReconciled: 0,
      failed: 0,
    });
    expect(a.transactionsStored).toBe(
      expected.reduce((n, p) => n + merchant().transactionCountFor(p.payment_reference), 0),
    );

    const second = JSON.parse(
      (await run(['klarna', 'payouts', '--since', SINCE, '--until', UNTIL, '--json'])).stdout,
    );
    expect(second).toMatchObject({
      payoutsNew: 0,
      transactionsStored: 0,
      payoutsFetched: 0,
      reconciled: expected.length,
    });
    const integration = await findIntegration(store.db, 'default');
    expect(await listPayouts(store.db, { integrationId: integration!.id })).toHaveLength(expected.length);
  });

  it('payouts prints a human summary', async () => {
    const r = await run(['klarna', 'payouts', '--since', SINCE, '--until', SINCE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(
      /Klarna payouts 2026-01-01 to 2026-01-01 for "default": 1 payout\(s\), 0 new, 0 changed\./,
    );
    expect(r.stdout).toMatch(/2026-01-01 {2}\S+ +\d+\.\d{2} SEK {2}unchanged reconciled/);
  });

  it('payout REF shows the checks', async () => {
    const ref = merchant().payouts[0]!.payment_reference;
    const r = await run(['klarna', 'payout', ref]);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok {3}sale_amount/);
    expect(r.stdout).toMatch(/ok {3}settlement identity/);
    const json = JSON.parse((await run(['klarna', 'payout', ref, '--json'])).stdout);
    expect(json.payout).toMatchObject({ paymentReference: ref, reconciled: true });
    expect(json.payout.reconciliation.identity.termsUsed).toContain('+deposit_amount');
  });

  it('an unknown payout, integration or date is a precise error', async () => {
    expect(await run(['klarna', 'payout', 'NOPE0000'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(
        /Klarna found nothing at GET \/settlements\/v1\/payouts\/NOPE0000 \(404\)/,
      ),
    });
    expect(await run(['klarna', 'payouts', '--since', SINCE, '--integration', 'shop-2'])).toMatchObject({
      code: 1,
      stderr: expect.stringMatching(/No integration named "shop-2"/),
    });
    expect(await run(['klarna', 'payouts', '--since', '2026-13-01'])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/--since must be a date like 2026-03-01/),
    });
    expect(await run(['klarna', 'payouts', '--since', UNTIL, '--until', SINCE])).toMatchObject({
      code: 2,
      stderr: expect.stringMatching(/is after --until/),
    });
  });

  it('a revoked key surfaces as an authentication error with what to do', async () => {
    const other = sim.merchants[1]!;
    const connected = await run([
      'klarna',
      'connect',
      '--integration',
      'second',
      '--base-url',
      sim.url,
      '--api-key',
      other.credentials.apiKey,
    ]);
    expect(connected.code).toBe(0);
    expect(connected.stdout).toMatch(/Tip: add --username/);
    sim.revokeKey(other.credentials.apiKey);
    const r = await run(['klarna', 'payouts', '--since', SINCE, '--integration', 'second']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/key revoked or disabled, or wrong environment/);
    expect(r.stderr).not.toContain(other.credentials.apiKey.slice(16));
  });
});

describe('the real bin as a subprocess', () => {
  function bin(args: string[], input?: string): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = execFile(
        process.execPath,
        ['bin/klarna-spiris.js', ...args],
        { env: { ...process.env, ...env }, cwd: join(import.meta.dirname, '../..'), timeout: 30_000 },
        (err, stdout, stderr) =>
          resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
      );
      if (input !== undefined) child.stdin?.end(input);
      else child.stdin?.end();
    });
  }

  it('connects with --api-key-stdin and fetches payouts as JSON', async () => {
    const third = sim.addMerchant({ seed: 33, days: 4 });
    const connect = await bin(
      ['klarna', 'connect', '--integration', 'third', '--base-url', sim.url, '--api-key-stdin', '--json'],
      `${third.credentials.apiKey}\n`,
    );
    expect(connect.stderr).toBe('');
    expect(connect.code).toBe(0);
    expect(connect.stdout).not.toContain(third.credentials.apiKey);
    expect(JSON.parse(connect.stdout).connection.merchantId).toBe(third.merchantId);

    const r = await bin([
      'klarna',
      'payouts',
      '--since',
      SINCE,
      '--until',
      '2026-01-04',
      '--integration',
      'third',
      '--json',
    ]);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ payoutsSeen: 4, payoutsNew: 4, reconciled: 4, notReconciled: 0, failed: 0 });
    expect(out.transactionsStored).toBe(third.transactionCount);
  });
});
