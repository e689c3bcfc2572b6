import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Capture, runCli } from '../../test/support/cli.ts';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { AesGcmSealer } from '../setup/credentials.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import { parseCredentials } from '../spiris/token-store.ts';
import { getConnection, readConnectionSecret } from '../store/connections.repository.ts';
import { findIntegration } from '../store/integrations.repository.ts';
import { main } from './main.ts';

// The CLI end to end against the Spiris simulator: connect through the browser flow
// (authorize URL → approve → local callback), read the chart, post a voucher with a
// PDF, read it back. Every byte the CLI prints is kept and searched for secrets.

const OTHER_COMPANY_ID = '7d1f2c3b-8a9e-4f60-9b1a-2c3d4e5f6a7b';
const secretKey = randomBytes(32);

let store: TestStore;
let sim: SpirisSimulator;
let dir: string;
let env: NodeJS.ProcessEnv;
const printed: string[] = [];
/** Tokens handed to the CLI by environment; they must not be echoed either. */
const handedOver: string[] = [];

async function run(args: string[], extraEnv: NodeJS.ProcessEnv = {}) {
  return runCli(args, { ...env, ...extraEnv }, printed);
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });
}

/** Runs `connect spiris` the way a merchant would, with the simulator playing the browser. */
async function connectViaBrowser(extraArgs: string[] = [], approve: { companyId?: string } = {}) {
  const port = await freePort();
  const stdout = new Capture(printed);
  const stderr = new Capture(printed);
  const done = main(
    [
      'connect',
      'spiris',
      '--client-id',
      sim.clientId,
      '--identity-base-url',
      sim.identityBaseUrl,
      '--api-base-url',
      sim.apiBaseUrl,
      '--environment',
      'sandbox',
      '--redirect-uri',
      `http://127.0.0.1:${port}/callback`,
      '--timeout',
      '20',
      '--json',
      ...extraArgs,
    ],
    { ...env, SPIRIS_CLIENT_SECRET: sim.clientSecret },
    stdout,
    stderr,
  );
  const authorizeUrl = await waitFor(() => {
    const first = stdout.text.split('\n')[0];
    return first ? (JSON.parse(first) as { authorizeUrl: string }).authorizeUrl : undefined;
  });
  const redirect = await sim.approve(authorizeUrl, approve);
  const page = await fetch(redirect);
  const code = await done;
  const rest = stdout.text.slice(stdout.text.indexOf('\n') + 1);
  return { code, authorizeUrl, callbackStatus: page.status, stdout: rest, stderr: stderr.text };
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs = 10_000): Promise<T> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const v = probe();
    if (v !== undefined) return v;
    if (Date.now() > until) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

beforeAll(async () => {
  store = await openTestStore();
  sim = await startSpirisSimulator({
    today: '2026-06-15',
    companies: [{}, { id: OTHER_COMPANY_ID, name: 'Annat Bolag AB', corporateIdentityNumber: '559999-0001' }],
  });
  dir = mkdtempSync(join(tmpdir(), 'ks-cli-'));
  env = {
    KLARNA_SPIRIS_DATA_DIR: dir,
    KLARNA_SPIRIS_SECRET_KEY: secretKey.toString('base64'),
    KLARNA_SPIRIS_LOG_LEVEL: 'silent',
    // A SQLite file path works here too, so both engines use the test's own store.
    DATABASE_URL: store.target,
  };
});

afterAll(async () => {
  await sim?.close();
  await store?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe('klarna-spiris connect spiris + spiris commands', () => {
  let connectionId: string;

  it('connects through the browser flow and stores the tokens sealed', async () => {
    const r = await connectViaBrowser();
    expect(r.stderr).not.toMatch(/error/);
    expect(r.code).toBe(0);
    expect(r.callbackStatus).toBe(200);

    const u = new URL(r.authorizeUrl);
    expect(u.searchParams.get('prompt')).toBe('select_account');
    expect(u.searchParams.get('code_challenge_method')).toBe('S256');
    expect(u.searchParams.get('scope')).toBe(
      'ea:api offline_access ea:accounting ea:sales_readonly ea:purchase_readonly',
    );

    const result = JSON.parse(r.stdout);
    expect(result).toMatchObject({
      integrationName: 'default',
      companyName: 'Testbolaget Nordic AB',
      organisationNumber: '556677-8899',
      status: 'active',
      canRefresh: true,
      authMode: 'authorization_code',
    });
    connectionId = result.connectionId;

    const conn = await getConnection(store.db, connectionId);
    expect(conn).toMatchObject({
      kind: 'spiris',
      externalId: '556677-8899',
      externalName: 'Testbolaget Nordic AB',
    });
    expect((await findIntegration(store.db, 'default'))?.spirisConnectionId).toBe(connectionId);
    const sealer = new AesGcmSealer(secretKey);
    const creds = parseCredentials((await readConnectionSecret(store.db, sealer, connectionId)).secret);
    expect(creds.refreshToken).toBeDefined();
    // Sealed at rest: the raw column holds none of the tokens.
    const raw = await store.db
      .selectFrom('connections')
      .select(['secret_sealed', 'secret_hint'])
      .where('id', '=', connectionId)
      .executeTakeFirstOrThrow();
    expect(raw.secret_sealed).not.toContain(creds.accessToken!.reveal());
    expect(raw.secret_hint).not.toContain(creds.refreshToken!.reveal().slice(-3));
  });

  it('lists the chart of accounts and the fiscal years', async () => {
    const accounts = await run(['spiris', 'accounts', '--date', '2026-06-10', '--json']);
    expect(accounts.code).toBe(0);
    const numbers = (JSON.parse(accounts.stdout) as { Number: string }[]).map((a) => a.Number);
    expect(numbers).toEqual(expect.arrayContaining(['1580', '1930', '2640', '6064']));

    const human = await run(['spiris', 'accounts', '--date', '2026-06-10']);
    expect(human.stdout).toMatch(/1930\s+Företagskonto/);

    const years = await run(['spiris', 'fiscal-years']);
    expect(years.stdout).toMatch(/2025-01-01\s+2025-12-31\s+yes/);
    const company = await run(['spiris', 'company']);
    expect(company.stdout).toMatch(/Testbolaget Nordic AB \(556677-8899\)/);
    const vat = await run(['spiris', 'vatcodes', '--json']);
    expect(JSON.parse(vat.stdout).length).toBeGreaterThan(0);
  });

  it('posts a balanced voucher with a PDF attached and linked, then reads it back', async () => {
    const voucherFile = join(dir, 'voucher.json');
    const pdfFile = join(dir, 'klarna report 2026-06-10.pdf');
    writeFileSync(
      voucherFile,
      JSON.stringify({
        date: '2026-06-10',
        text: 'Klarna utbetalning ref K1234567',
        rows: [
          { account: 1930, debit: '9712.50', text: 'Klarna payout K1234567' },
          { account: 6064, debit: 230, text: 'Klarna avgifter' },
          { account: 2640, debit: '57.50', text: 'Ingående moms Klarna avgift' },
          { account: 1580, credit: '10000.00', text: 'Avräkning Klarna K1234567' },
        ],
      }),
    );
    writeFileSync(pdfFile, '%PDF-1.7\n1 0 obj <<>> endobj\n%%EOF\n');

    const created = await run([
      'spiris',
      'voucher',
      'create',
      '--file',
      voucherFile,
      '--attach',
      pdfFile,
      '--json',
    ]);
    expect(created.stderr).toBe('');
    expect(created.code).toBe(0);
    const v = JSON.parse(created.stdout);
    expect(v.attachmentLinked).toBe(true);
    expect(
      v.rows.map((r: { debitMinor: number; creditMinor: number }) => [r.debitMinor, r.creditMinor]),
    ).toEqual([
      [971_250, 0],
      [23_000, 0],
      [5_750, 0],
      [0, 1_000_000],
    ]);
    const simVoucher = sim.vouchers.find((x) => x.Id === v.id)!;
    expect(simVoucher.attachmentIds).toEqual([v.attachmentId]);
    expect(sim.attachments.find((a) => a.id === v.attachmentId)).toMatchObject({
      documentId: v.id,
      contentType: 'application/pdf',
      fileName: 'klarna-report-2026-06-10.pdf',
    });

    const got = await run(['spiris', 'voucher', 'get', v.id, '--date', '2026-06-10']);
    expect(got.code).toBe(0);
    expect(got.stdout).toMatch(/1930\s+9712\.50/);
    expect(got.stdout).toMatch(/1580\s+10000\.00/);
    expect(got.stdout).toContain(v.attachmentId);

    const listed = await run(['spiris', 'voucher', 'list', '--date', '2026-06-10', '--json']);
    expect(JSON.parse(listed.stdout).map((x: { id: string }) => x.id)).toContain(v.id);
  });

  it('shows the explanation when Spiris refuses a voucher', async () => {
    const file = join(dir, 'locked.json');
    writeFileSync(
      file,
      JSON.stringify({
        VoucherDate: '2025-11-03',
        VoucherText: 'In a closed year',
        Rows: [
          { AccountNumber: 1930, DebitAmount: 1, CreditAmount: 0 },
          { AccountNumber: 1580, DebitAmount: 0, CreditAmount: 1 },
        ],
      }),
    );
    const r = await run(['spiris', 'voucher', 'create', '--file', file]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/4038/);
    expect(r.stderr).toMatch(/closed \(locked\)/);

    writeFileSync(
      file,
      JSON.stringify({ date: '2026-06-10', text: 'x', rows: [{ account: 1930, debit: '1.005' }] }),
    );
    const bad = await run(['spiris', 'voucher', 'create', '--file', file]);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/more than two decimals/);
  });

  it('refuses to switch the integration to another company unless confirmed', async () => {
    const refused = await connectViaBrowser([], { companyId: OTHER_COMPANY_ID });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/Annat Bolag AB \(559999-0001\)/);
    expect(refused.stderr).toMatch(/Testbolaget Nordic AB \(556677-8899\)/);
    expect(refused.stderr).toMatch(/--yes/);
    expect((await findIntegration(store.db, 'default'))?.spirisConnectionId).toBe(connectionId);

    const confirmed = await connectViaBrowser(['--yes'], { companyId: OTHER_COMPANY_ID });
    expect(confirmed.code).toBe(0);
    const result = JSON.parse(confirmed.stdout);
    expect(result).toMatchObject({
      companyName: 'Annat Bolag AB',
      companyChanged: true,
      previousConnectionId: connectionId,
    });
    expect((await getConnection(store.db, connectionId))?.status).toBe('replaced');

    // Back to the first company for the rest of the file.
    const back = await connectViaBrowser(['--confirm-company-change']);
    expect(back.code).toBe(0);
    connectionId = JSON.parse(back.stdout).connectionId;
  });

  it('connects from an issued refresh token (spent and rotated at once) and from a bare access token', async () => {
    const issued = sim.issueTokens();
    handedOver.push(issued.refreshToken, issued.accessToken);
    const viaRefresh = await run(
      [
        'connect',
        'spiris',
        '--client-id',
        sim.clientId,
        '--identity-base-url',
        sim.identityBaseUrl,
        '--api-base-url',
        sim.apiBaseUrl,
        '--integration',
        'issued',
        '--json',
      ],
      { SPIRIS_CLIENT_SECRET: sim.clientSecret, SPIRIS_REFRESH_TOKEN: issued.refreshToken },
    );
    expect(viaRefresh.stderr).toBe('');
    expect(viaRefresh.code).toBe(0);
    const r = JSON.parse(viaRefresh.stdout);
    expect(r).toMatchObject({
      integrationName: 'issued',
      authMode: 'refresh_token',
      canRefresh: true,
      status: 'active',
    });
    const creds = parseCredentials(
      (await readConnectionSecret(store.db, new AesGcmSealer(secretKey), r.connectionId)).secret,
    );
    expect(creds.refreshToken?.reveal()).not.toBe(issued.refreshToken);

    const bare = sim.issueTokens();
    handedOver.push(bare.accessToken);
    const viaAccess = await run(
      [
        'connect',
        'spiris',
        '--api-base-url',
        sim.apiBaseUrl,
        '--integration',
        'bare',
        '--access-token-expires-at',
        '2099-01-01T00:00:00Z',
      ],
      { SPIRIS_ACCESS_TOKEN: bare.accessToken },
    );
    expect(viaAccess.code).toBe(0);
    expect(viaAccess.stdout).toMatch(/works until 2099-01-01T00:00:00.000Z and cannot be renewed/);
    const conn = await getConnection(
      store.db,
      (await findIntegration(store.db, 'bare'))!.spirisConnectionId!,
    );
    expect(conn?.status).toBe('access_token_only');
    expect(conn?.statusReason).toMatch(/2099-01-01T00:00:00.000Z/);
  });

  it('reports a spent refresh token as needs re-authorization with what to do', async () => {
    const issued = sim.issueTokens();
    handedOver.push(issued.refreshToken);
    const first = await run(
      [
        'connect',
        'spiris',
        '--client-id',
        sim.clientId,
        '--identity-base-url',
        sim.identityBaseUrl,
        '--api-base-url',
        sim.apiBaseUrl,
        '--integration',
        'reused',
        '--json',
      ],
      { SPIRIS_CLIENT_SECRET: sim.clientSecret, SPIRIS_REFRESH_TOKEN: issued.refreshToken },
    );
    expect(first.code).toBe(0);
    // The same issued token again: Visma refresh tokens work once.
    const again = await run(
      [
        'connect',
        'spiris',
        '--client-id',
        sim.clientId,
        '--identity-base-url',
        sim.identityBaseUrl,
        '--api-base-url',
        sim.apiBaseUrl,
        '--integration',
        'reused2',
      ],
      { SPIRIS_CLIENT_SECRET: sim.clientSecret, SPIRIS_REFRESH_TOKEN: issued.refreshToken },
    );
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/invalid_grant/);
    expect(again.stderr).toMatch(/Reconnect with `klarna-spiris connect spiris`/);
  });

  it('never prints a secret', async () => {
    const sealer = new AesGcmSealer(secretKey);
    const rows = await store.db.selectFrom('connections').select('id').where('kind', '=', 'spiris').execute();
    const secrets = [sim.clientSecret, secretKey.toString('base64'), ...handedOver];
    for (const { id } of rows) {
      const c = parseCredentials((await readConnectionSecret(store.db, sealer, id)).secret);
      for (const s of [c.accessToken, c.refreshToken, c.clientSecret]) if (s) secrets.push(s.reveal());
    }
    expect(secrets.length).toBeGreaterThan(6);
    const all = printed.join('');
    expect(all.length).toBeGreaterThan(1000);
    for (const s of secrets) expect(all).not.toContain(s);
  });
});
