import pino from 'pino';
import type { RateBudget } from '../../src/http/rate-budget.ts';
import { UNLIMITED_BUDGET } from '../../src/http/rate-budget.ts';
import { QueueRunner, type QueueRunnerOptions, sharedRateBudgets } from '../../src/jobs/runner.ts';
import { AesGcmSealer } from '../../src/setup/credentials.ts';
import { openStore } from '../../src/store/db.ts';
import type { SyncDeps, SyncHookPoint } from '../../src/sync/sync-context.ts';
import { FAST_RETRIES } from './integration-fixture.ts';

// One queue worker in a process of its own, as `klarna-spiris worker` runs it, with the
// knobs tests and the scale benchmark need: the moved clock, fast retries, short job
// expiry, budgets shared / per process / off, and KS_CRASH_AT to SIGKILL itself at a
// point of the posting path (the KS_CRASH_NTH time it gets there). Prints one JSON line
// when it takes jobs, one when it stopped after SIGTERM.

const env = process.env;
const target = env.KS_WORKER_DB!;
const store = await openStore({ databaseUrl: target, migrate: false });
const sealer = new AesGcmSealer(Buffer.from(env.KS_WORKER_KEY!, 'base64'));
const offset = env.KS_WORKER_NOW ? Date.parse(env.KS_WORKER_NOW) - Date.now() : 0;
const crashAt = env.KS_CRASH_AT as SyncHookPoint | undefined;
const nth = Number(env.KS_CRASH_NTH ?? '1');
const fast = env.KS_WORKER_FAST_RETRIES === '1';
const budgets = env.KS_WORKER_BUDGETS ?? 'off';
const logger = pino(
  { level: env.KS_WORKER_LOG ?? 'warn', base: { worker: env.KS_WORKER_NAME ?? process.pid } },
  pino.destination({ fd: 2, sync: true }),
);
let seen = 0;

let spirisBudget: RateBudget | undefined;
let klarnaBudget: RateBudget | ((e: 'production' | 'playground') => RateBudget) | undefined;
if (budgets === 'shared') {
  const shared = sharedRateBudgets(store);
  spirisBudget = shared.spiris;
  klarnaBudget = shared.klarna;
} else if (budgets === 'off') {
  spirisBudget = UNLIMITED_BUDGET;
  klarnaBudget = UNLIMITED_BUDGET;
}
// 'local': the clients' own per-process defaults, as one process would run alone.

const deps: SyncDeps = {
  store,
  sealer,
  actor: 'worker',
  logger: logger.child({ component: 'sync' }),
  now: () => new Date(Date.now() + offset),
  ...(env.KS_WORKER_LEASE_TTL_MS ? { leaseTtlMs: Number(env.KS_WORKER_LEASE_TTL_MS) } : {}),
  klarnaOptions: {
    ...(klarnaBudget ? { rateBudget: klarnaBudget } : {}),
    ...(fast ? { retryPolicy: FAST_RETRIES } : {}),
  },
  spirisOptions: {
    ...(spirisBudget ? { rateBudget: spirisBudget } : {}),
    ...(fast ? { retryPolicy: FAST_RETRIES, sleep: async () => {} } : {}),
    ...(env.KS_WORKER_REFRESH_MARGIN_MS ? { refreshMarginMs: Number(env.KS_WORKER_REFRESH_MARGIN_MS) } : {}),
  },
  hooks: {
    at(point, info) {
      if (point === crashAt && ++seen === nth) {
        // Pipes are written synchronously on Linux, so this line is out before the kill.
        process.stdout.write(
          `${JSON.stringify({ crash: point, paymentReference: info.paymentReference })}\n`,
        );
        process.kill(process.pid, 'SIGKILL');
      }
    },
  },
};

const options = JSON.parse(env.KS_WORKER_OPTIONS ?? '{}') as Partial<QueueRunnerOptions>;
const runner = new QueueRunner({
  ...options,
  connectionString: target,
  deps,
  logger: logger.child({ component: 'worker' }),
});
await runner.start();
process.stdout.write(`${JSON.stringify({ ready: process.pid })}\n`);

// The parent holds our stdin: when it dies without stopping us (a test run killed
// midway), the pipe closes and we go too, rather than polling a dropped database forever.
process.stdin.resume();
process.stdin.once('end', () => process.exit(1));

process.once('SIGTERM', () => {
  void runner
    .stop({ drainMs: Number(env.KS_WORKER_DRAIN_MS ?? '10000') })
    .then(() => store.close())
    .then(() => {
      process.stdout.write(`${JSON.stringify({ stopped: process.pid })}\n`);
      process.exit(0);
    });
});
