import { performance } from 'node:perf_hooks';
import pg from 'pg';
import { openStore, type Store } from '../src/store/db.ts';
import { type Fleet, openFleet, spawnWorker, type WorkerProcess } from '../test/support/fleet.ts';

// Scale-out benchmark: many small merchants booked by 1, 2 and 4 `worker` processes
// sharing the pg-boss queues on one PostgreSQL database, against the simulators (in
// this process). Three scenarios:
//
//   no limit             Spiris' rate limit off, budgets off: what the workers themselves do.
//   limit, no budget     Spiris' 600 requests a minute per endpoint per client on, no
//                        client-side budget: 429s once the minute's quota is gone.
//   limit, per process   the same, each worker with its own in-process budget (what one
//                        serve process uses): fine alone, over the limit together.
//   limit, shared        the budgets shared in PostgreSQL: no 429s however many workers.
//
// The limit is the simulator's fixed one-minute window, so the limited runs last a
// little over a minute to show a whole window (shorter runs would flatter "no budget").
//
//   npm run bench:scale
//   npm run bench:scale -- --integrations 200 --seconds 30 --workers 1,2 --scenarios 1,4
//   BENCH_DATABASE_URL=postgres://user@host/postgres npm run bench:scale

const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
const SPIRIS_LIMIT_PER_MINUTE = 600;

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1]! : fallback;
}

const INTEGRATIONS = Number(arg('integrations', '400'));
const DAYS = Number(arg('days', '3'));
const LIMITED_SECONDS = Number(arg('seconds', '65'));
const WORKER_COUNTS = arg('workers', '1,2,4').split(',').map(Number);

interface Scenario {
  name: string;
  limit: boolean;
  budgets: 'off' | 'local' | 'shared';
}

const ALL_SCENARIOS: Scenario[] = [
  { name: 'no limit', limit: false, budgets: 'off' },
  { name: 'limit, no budget', limit: true, budgets: 'off' },
  { name: 'limit, per process', limit: true, budgets: 'local' },
  { name: 'limit, shared', limit: true, budgets: 'shared' },
];
const SCENARIOS = arg('scenarios', '1,2,3,4')
  .split(',')
  .map((n) => ALL_SCENARIOS[Number(n) - 1]!);

interface RunResult {
  scenario: string;
  workers: number;
  payouts: number;
  booked: number;
  seconds: number;
  spirisRequests: number;
  rateLimited: number;
  busiest: { endpoint: string; total: number; peakPerMinute: number };
}

async function withDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const name = `ks_bench_scale_${process.pid}_${Math.random().toString(36).slice(2, 8)}`;
  const admin = new pg.Client({ connectionString: ADMIN_URL });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(ADMIN_URL);
  url.pathname = `/${name}`;
  try {
    return await fn(url.toString());
  } finally {
    const a = new pg.Client({ connectionString: ADMIN_URL });
    await a.connect();
    await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await a.end();
  }
}

/** The simulator counts its limit per route; ids and query strings do not make a new endpoint. */
function endpointOf(method: string, path: string): string {
  const bare = path.split('?')[0]!.replace(/\/[0-9a-f]{8}-[0-9a-f-]{27,}/gi, '/{id}');
  return `${method} ${bare}`;
}

async function bookedCount(store: Store): Promise<number> {
  const row = await store.db
    .selectFrom('klarna_payouts')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('state', '=', 'booked')
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

async function run(scenario: Scenario, workerCount: number): Promise<RunResult> {
  return withDatabase(async (url) => {
    const store = await openStore({ databaseUrl: url });
    let fleet: Fleet | undefined;
    const workers: WorkerProcess[] = [];
    try {
      fleet = await openFleet(store, {
        integrations: INTEGRATIONS,
        days: DAYS,
        spiris: {
          rateLimitPerMinute: scenario.limit ? SPIRIS_LIMIT_PER_MINUTE : 0,
          requestLogLimit: 10_000_000,
        },
      });
      const payouts = fleet.payouts.size;
      for (let n = 0; n < workerCount; n++) {
        workers.push(
          spawnWorker(url, fleet.secretKey, {
            name: `w${n + 1}`,
            runner: { syncConcurrency: 2, postConcurrency: 4, tickSeconds: 5, pollingIntervalSeconds: 1 },
            budgets: scenario.budgets,
            // The clients' real retry policy: a 429 is waited out as Spiris asks.
            fastRetries: false,
            drainMs: 2_000,
          }),
        );
      }
      await Promise.all(workers.map((w) => w.ready));

      const log = fleet.spiris.requestLog;
      const perSecond = new Map<string, number[]>();
      let seen = 0;
      let rateLimited = 0;
      const started = performance.now();
      const collect = () => {
        const second = Math.floor((performance.now() - started) / 1000);
        for (; seen < log.length; seen++) {
          const entry = log[seen]!;
          if (!entry.path.startsWith('/v2/')) continue;
          if (entry.status === 429) rateLimited++;
          const key = endpointOf(entry.method, entry.path);
          const series = perSecond.get(key) ?? [];
          series[second] = (series[second] ?? 0) + 1;
          perSecond.set(key, series);
        }
      };
      const deadline = started + (scenario.limit ? LIMITED_SECONDS : 300) * 1000;
      let booked = 0;
      while (performance.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        collect();
        booked = await bookedCount(store);
        if (booked === payouts) break;
      }
      const seconds = (performance.now() - started) / 1000;
      collect();

      let busiest = { endpoint: '-', total: 0, peakPerMinute: 0 };
      for (const [endpoint, series] of perSecond) {
        const counts = Array.from(series, (v) => v ?? 0);
        const total = counts.reduce((a, b) => a + b, 0);
        let peak = 0;
        for (let i = 0; i < counts.length; i++) {
          peak = Math.max(
            peak,
            counts.slice(i, i + 60).reduce((a, b) => a + b, 0),
          );
        }
        if (peak > busiest.peakPerMinute) busiest = { endpoint, total, peakPerMinute: peak };
      }
      return {
        scenario: scenario.name,
        workers: workerCount,
        payouts,
        booked,
        seconds,
        spirisRequests: [...perSecond.values()].flat().reduce((a, b) => a + (b ?? 0), 0),
        rateLimited,
        busiest,
      };
    } finally {
      await Promise.all(workers.map((w) => w.stop()));
      await fleet?.close();
      await store.close();
    }
  });
}

const pad = (s: string | number, n: number) => String(s).padStart(n);

async function main(): Promise<void> {
  process.stdout.write(
    `klarna-spiris scale-out benchmark: ${INTEGRATIONS} merchants × ${DAYS} payouts, workers as processes on one PostgreSQL\n` +
      `  Spiris limit when on: ${SPIRIS_LIMIT_PER_MINUTE} requests/min per endpoint per client (simulator, fixed window); limited runs stop after ${LIMITED_SECONDS} s\n` +
      '  Spiris req and the peak count every request, answered or 429\n\n' +
      `  ${'scenario'.padEnd(20)}${pad('workers', 8)}${pad('booked', 12)}${pad('seconds', 9)}${pad('payouts/s', 11)}${pad('Spiris req', 12)}${pad('429s', 7)}  busiest endpoint: peak in any 60 s vs limit\n`,
  );
  for (const scenario of SCENARIOS) {
    for (const w of WORKER_COUNTS) {
      const r = await run(scenario, w);
      const vsLimit = `${r.busiest.peakPerMinute}/min${scenario.limit ? ` (${Math.round((100 * r.busiest.peakPerMinute) / SPIRIS_LIMIT_PER_MINUTE)} % of ${SPIRIS_LIMIT_PER_MINUTE})` : ''}`;
      process.stdout.write(
        `  ${r.scenario.padEnd(20)}${pad(r.workers, 8)}${pad(`${r.booked}/${r.payouts}`, 12)}${pad(r.seconds.toFixed(1), 9)}${pad((r.booked / r.seconds).toFixed(1), 11)}${pad(r.spirisRequests, 12)}${pad(r.rateLimited, 7)}  ${r.busiest.endpoint} ${vsLimit}\n`,
      );
    }
  }
}

await main();
