import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { UNLIMITED_BUDGET } from '../src/http/rate-budget.ts';
import { requireKlarnaCredentials } from '../src/klarna/key.ts';
import { klarnaConnectionConfig } from '../src/klarna/klarna.connection.ts';
import { AesGcmSealer } from '../src/setup/credentials.ts';
import { Secret } from '../src/setup/secret.ts';
import { benchmarkMerchantSpec, type MerchantSpec } from '../src/simulators/klarna/index.ts';
import { resolveSpirisEndpoints } from '../src/spiris/oauth.ts';
import { serializeCredentials } from '../src/spiris/token-store.ts';
import { listBookingPayouts } from '../src/store/booking.repository.ts';
import { createConnection } from '../src/store/connections.repository.ts';
import { openStore } from '../src/store/db.ts';
import { createIntegration, updateIntegration } from '../src/store/integrations.repository.ts';
import { syncIntegration } from '../src/sync/sync.service.ts';

// The benchmark: one generated merchant (365 payouts, ~1,000,000 transactions, one
// payout of 50,000) synced through the real HTTP simulators into a SQLite store, from
// an empty database to every voucher booked with its report. The simulators run in a
// child process so the memory figure is the syncing process alone; rate limits are off
// on both sides so the figure is our work, not the providers' quotas.
//
//   npm run bench                      full size
//   npm run bench -- --payouts 40      quick run (the 50,000-line payout is kept)
//   BENCH_SCALE=0.1 npm run bench      the same, as a fraction of 365

interface SimInfo {
  klarnaUrl: string;
  apiKey: string;
  username: string;
  merchantId: string;
  payouts: string[];
  transactionCount: number;
  largestPayout: number;
  spirisApiBaseUrl: string;
  spirisIdentityBaseUrl: string;
  spirisClientId: string;
  spirisClientSecret: string;
  accessToken: string;
  refreshToken: string;
  checkAccessToken: string;
  /** Klarna's settlement_amount per payment_reference, in öre. */
  settlements: Record<string, number>;
}

interface ListedVoucher {
  VoucherText: string;
  Rows: { AccountNumber: number; DebitAmount?: number; CreditAmount?: number }[];
}

/**
 * What an accountant would check in Spiris afterwards, read back over its API: one
 * voucher per payout, each balanced, its bank row (1930) equal to Klarna's
 * settlement_amount. Problems are returned, not thrown, so the figures still print.
 */
async function checkBooks(info: SimInfo, skipped: ReadonlySet<string>): Promise<string[]> {
  const vouchers: ListedVoucher[] = [];
  for (let page = 1; ; page++) {
    const res = await fetch(`${info.spirisApiBaseUrl}/vouchers?$page=${page}&$pagesize=500`, {
      headers: { authorization: `Bearer ${info.checkAccessToken}`, accept: 'application/json' },
    });
    if (!res.ok) return [`reading vouchers back failed: HTTP ${res.status}`];
    const body = (await res.json()) as { Data: ListedVoucher[]; Meta: { TotalNumberOfPages: number } };
    vouchers.push(...body.Data);
    if (page >= body.Meta.TotalNumberOfPages) break;
  }
  const öre = (n: number | undefined) => Math.round((n ?? 0) * 100);
  const problems: string[] = [];
  for (const [ref, settlement] of Object.entries(info.settlements)) {
    const mine = vouchers.filter((v) => v.VoucherText.includes(ref));
    const expected = skipped.has(ref) ? 0 : 1;
    if (mine.length !== expected) {
      problems.push(`${ref}: ${mine.length} vouchers, expected ${expected}`);
      continue;
    }
    for (const v of mine) {
      const debit = v.Rows.reduce((sum, r) => sum + öre(r.DebitAmount), 0);
      const credit = v.Rows.reduce((sum, r) => sum + öre(r.CreditAmount), 0);
      if (debit !== credit) problems.push(`${ref}: debit ${debit} ≠ credit ${credit} öre`);
      const bank = v.Rows.filter((r) => r.AccountNumber === 1930).reduce(
        (sum, r) => sum + öre(r.DebitAmount) - öre(r.CreditAmount),
        0,
      );
      if (bank !== settlement)
        problems.push(`${ref}: bank row ${bank} ≠ settlement_amount ${settlement} öre`);
    }
  }
  return problems;
}

function merchantSpec(): MerchantSpec {
  const full = benchmarkMerchantSpec();
  const arg = process.argv.indexOf('--payouts');
  const scale = process.env.BENCH_SCALE ? Number(process.env.BENCH_SCALE) : undefined;
  const payouts =
    arg >= 0 ? Number(process.argv[arg + 1]) : scale !== undefined ? Math.round(365 * scale) : full.days!;
  if (!Number.isInteger(payouts) || payouts < 2) throw new Error('--payouts must be a whole number ≥ 2');
  if (payouts === full.days) return full;
  // A smaller run keeps the one big payout: flat memory over payout size is the point.
  return { ...full, days: payouts, largePayouts: [{ index: Math.floor(payouts / 2), transactions: 50_000 }] };
}

function startSimulators(
  spec: MerchantSpec,
): Promise<{ child: ChildProcess; info: SimInfo; lines: AsyncIterator<string> }> {
  const script = fileURLToPath(new URL('./sim-server.ts', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', script], {
    env: { ...process.env, BENCH_MERCHANT_SPEC: JSON.stringify(spec) },
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  return lines.next().then((first) => {
    if (first.done) throw new Error('the simulator process ended before it was ready');
    return { child, info: JSON.parse(first.value) as SimInfo, lines };
  });
}

/** fetch that counts requests per host, for requests-per-payout. */
function countingFetch(counter: { n: number; byKey: Map<string, number> }): typeof fetch {
  return (input, init) => {
    counter.n += 1;
    const url = new URL(String(input));
    const key = `${init?.method ?? 'GET'} ${url.pathname.replace(/\/[0-9a-f-]{36}(?=\/|$)/g, '/{id}')}`;
    counter.byKey.set(key, (counter.byKey.get(key) ?? 0) + 1);
    return fetch(input, init);
  };
}

/**
 * The floor: the same transaction pages fetched once, raw, and only JSON.parse timed.
 * Nothing is kept, so this phase's memory does not leak into anything. The time spent
 * fetching is reported beside it, as a second reference: the simulator serving these
 * pages (on the same machine) is work every sync waits for too.
 */
async function jsonParseFloor(
  info: SimInfo,
): Promise<{ parseMs: number; fetchMs: number; bytes: number; pages: number }> {
  const auth = `Basic ${Buffer.from(`${info.username}:${info.apiKey}`).toString('base64')}`;
  let parseMs = 0;
  let bytes = 0;
  let pages = 0;
  const started = performance.now();
  for (const ref of info.payouts) {
    for (let offset = 0; ; ) {
      const url = `${info.klarnaUrl}/settlements/v1/transactions?payment_reference=${encodeURIComponent(ref)}&offset=${offset}&size=500`;
      const res = await fetch(url, { headers: { authorization: auth, accept: 'application/json' } });
      const text = await res.text();
      bytes += Buffer.byteLength(text);
      pages += 1;
      const t0 = performance.now();
      const page = JSON.parse(text) as { transactions: unknown[]; pagination: { total?: number } };
      parseMs += performance.now() - t0;
      offset += page.transactions.length;
      if (page.transactions.length === 0 || offset >= (page.pagination.total ?? 0)) break;
    }
  }
  return { parseMs, fetchMs: performance.now() - started - parseMs, bytes, pages };
}

const mb = (n: number) => `${(n / 1024 / 1024).toFixed(0)} MB`;
const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const int = (n: number) => n.toLocaleString('en-US');

async function main(): Promise<void> {
  const spec = merchantSpec();
  const dir = mkdtempSync(join(tmpdir(), 'ks-bench-'));
  const { child, info, lines } = await startSimulators(spec);
  const store = await openStore({ sqlitePath: join(dir, 'bench.sqlite') });
  try {
    const sealer = new AesGcmSealer(randomBytes(32));
    const credentials = requireKlarnaCredentials({
      apiKey: info.apiKey,
      username: info.username,
      baseUrl: info.klarnaUrl,
    });
    const klarnaConnection = await createConnection(store.db, sealer, {
      kind: 'klarna',
      environment: credentials.environment,
      config: { ...klarnaConnectionConfig(credentials) },
      secret: credentials.apiKey,
      externalId: info.merchantId,
    });
    const endpoints = resolveSpirisEndpoints({
      identityBaseUrl: info.spirisIdentityBaseUrl,
      apiBaseUrl: info.spirisApiBaseUrl,
    });
    const spirisConnection = await createConnection(store.db, sealer, {
      kind: 'spiris',
      environment: 'sandbox',
      config: {
        authMode: 'refresh_token',
        clientId: info.spirisClientId,
        scopes: [],
        pkce: true,
        apiBaseUrl: endpoints.apiBaseUrl,
        tokenUrl: endpoints.tokenUrl,
      },
      secret: serializeCredentials({
        clientSecret: new Secret(info.spirisClientSecret),
        accessToken: new Secret(info.accessToken),
        refreshToken: new Secret(info.refreshToken),
        accessTokenExpiresAt: new Date(Date.now() + 3600_000).toISOString(),
      }),
    });
    const integration = await createIntegration(store.db, { name: 'bench' });
    await updateIntegration(store.db, integration.id, {
      mode: 'test',
      klarnaConnectionId: klarnaConnection.id,
      spirisConnectionId: spirisConnection.id,
      settings: { catchUpSince: '2026-01-01' },
    });

    const klarnaCount = { n: 0, byKey: new Map<string, number>() };
    const spirisCount = { n: 0, byKey: new Map<string, number>() };
    const offset = Date.parse('2027-01-05T10:00:00Z') - Date.now();

    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => {
      peak = Math.max(peak, process.memoryUsage().rss);
    }, 20);
    const started = performance.now();
    const phases: Record<string, number> = {};
    const result = await syncIntegration(
      {
        store,
        sealer,
        actor: 'bench',
        now: () => new Date(Date.now() + offset),
        klarnaOptions: { rateBudget: UNLIMITED_BUDGET, fetch: countingFetch(klarnaCount) },
        spirisOptions: { rateBudget: UNLIMITED_BUDGET, fetch: countingFetch(spirisCount) },
      },
      {
        integrationId: integration.id,
        onProgress: (e) => {
          phases[e.phase] ??= performance.now();
        },
      },
    );
    const wallMs = performance.now() - started;
    clearInterval(sampler);
    peak = Math.max(peak, process.memoryUsage().rss);

    const stored = await listBookingPayouts(store.db, { integrationId: integration.id });
    const booked = stored.filter((p) => p.state === 'booked').length;
    const attached = stored.filter((p) => p.attachmentState === 'attached').length;
    const transactions = result.import?.transactionsStored ?? 0;
    if (result.error || result.needsAttention.length > 0 || result.failed.length > 0) {
      throw new Error(
        `the benchmark sync did not book everything: ${JSON.stringify({ error: result.error, needsAttention: result.needsAttention.slice(0, 3), failed: result.failed.slice(0, 3) })}`,
      );
    }

    // A second sync over the same window must find nothing to do.
    const rerunKlarna = { n: 0, byKey: new Map<string, number>() };
    const rerunSpiris = { n: 0, byKey: new Map<string, number>() };
    const rerunStarted = performance.now();
    const rerun = await syncIntegration(
      {
        store,
        sealer,
        actor: 'bench',
        now: () => new Date(Date.now() + offset),
        klarnaOptions: { rateBudget: UNLIMITED_BUDGET, fetch: countingFetch(rerunKlarna) },
        spirisOptions: { rateBudget: UNLIMITED_BUDGET, fetch: countingFetch(rerunSpiris) },
      },
      { integrationId: integration.id },
    );
    const rerunMs = performance.now() - rerunStarted;
    const rerunWrites = [...rerunSpiris.byKey]
      .filter(([k]) => k.startsWith('POST'))
      .reduce((n, [, v]) => n + v, 0);
    const problems = await checkBooks(info, new Set(result.skipped.map((p) => p.paymentReference)));
    if (rerun.booked.length > 0 || rerunWrites > 0) {
      problems.push(`the re-run booked ${rerun.booked.length} payouts with ${rerunWrites} Spiris writes`);
    }

    const floor = await jsonParseFloor(info);
    const dbBytes = statSync(join(dir, 'bench.sqlite')).size;
    const voucherPosts = spirisCount.byKey.get('POST /v2/vouchers') ?? 0;
    const payouts = info.payouts.length;

    const report = [
      'klarna-spiris benchmark: one merchant synced from an empty store, simulators in a child process, rate limits off',
      `  merchant             ${int(payouts)} payouts, ${int(info.transactionCount)} transactions (largest payout ${int(info.largestPayout)})`,
      `  booked               ${int(booked)} vouchers (${int(result.skipped.length)} skipped: nothing to book), ${int(attached)} with the PDF linked`,
      `  sync wall time       ${s(wallMs)}`,
      `  phases               fetch+store ${s((phases.plan ?? started) - started)}, check ${s((phases.post ?? phases.plan ?? started) - (phases.plan ?? started))}, post+attach ${s(started + wallMs - (phases.post ?? started + wallMs))}`,
      `  transactions/s       ${int(Math.round(transactions / (wallMs / 1000)))}`,
      `  peak RSS             ${mb(peak)} (at start ${mb(baseline)}; target < 300 MB)`,
      `  Klarna requests      ${int(klarnaCount.n)} = ${(klarnaCount.n / payouts).toFixed(2)} per payout (${int(klarnaCount.byKey.get('GET /settlements/v1/transactions') ?? 0)} transaction pages, ${int(klarnaCount.byKey.get('GET /settlements/v1/reports/payout') ?? 0)} PDFs)`,
      `  Spiris requests      ${int(spirisCount.n)} = ${(spirisCount.n / payouts).toFixed(2)} per payout; writes per booked payout: ${(voucherPosts / booked).toFixed(2)} voucher + ${((spirisCount.byKey.get('POST /v2/attachments') ?? 0) / booked).toFixed(2)} upload + ${((spirisCount.byKey.get('POST /v2/attachmentlinks') ?? 0) / booked).toFixed(2)} link`,
      `  JSON.parse floor     ${s(floor.parseMs)}: JSON.parse alone over the ${mb(floor.bytes)} of all ${int(floor.pages)} transaction pages, already in memory`,
      `  fetch+parse floor    ${s(floor.parseMs + floor.fetchMs)}: the same pages fetched from the simulator one after another and parsed, nothing else (fetching took ${s(floor.fetchMs)})`,
      `  sync / floor         ${(wallMs / floor.parseMs).toFixed(1)}× the JSON.parse floor (target ≤ 3×); ${(wallMs / (floor.parseMs + floor.fetchMs)).toFixed(1)}× the fetch+parse floor`,
      `  SQLite file          ${mb(dbBytes)}`,
      `  re-run               ${s(rerunMs)}: ${int(rerun.booked.length)} booked, ${int(rerunWrites)} Spiris writes, ${int(rerunKlarna.n)} Klarna and ${int(rerunSpiris.n)} Spiris requests`,
      `  books in Spiris      ${problems.length === 0 ? `one voucher per payout, every one balanced, bank row = settlement_amount (${int(Object.keys(info.settlements).length)} payouts read back)` : `${problems.length} PROBLEMS`}`,
      ...problems.slice(0, 10).map((p) => `    ${p}`),
    ];
    process.stdout.write(`${report.join('\n')}\n`);
    // Speed depends on the machine; wrong books do not.
    if (problems.length > 0) process.exitCode = 1;
  } finally {
    await store.close();
    child.stdin?.end();
    const last = await lines.next().catch(() => ({ done: true, value: '' }));
    if (!last.done && process.env.BENCH_VERBOSE) process.stdout.write(`  simulators: ${last.value}\n`);
    child.kill();
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
