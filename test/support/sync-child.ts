import { UNLIMITED_BUDGET } from '../../src/http/rate-budget.ts';
import { AesGcmSealer } from '../../src/setup/credentials.ts';
import { openStore } from '../../src/store/db.ts';
import { reversePayout } from '../../src/sync/reverse.service.ts';
import { syncIntegration } from '../../src/sync/sync.service.ts';
import type { SyncDeps, SyncHookPoint } from '../../src/sync/sync-context.ts';

// A sync (or reverse) in a process of its own, for the crash tests: it opens its own
// store handle on the test's database and, when KS_CRASH_AT names a point of the posting
// path, kills itself with SIGKILL the KS_CRASH_NTH time it gets there. No clean-up runs,
// no finally block, no transaction is rolled back politely: the restart has to cope.

const target = process.env.KS_CHILD_DB!;
const store = await openStore(
  /^postgres/.test(target) ? { databaseUrl: target, migrate: false } : { sqlitePath: target, migrate: false },
);
const sealer = new AesGcmSealer(Buffer.from(process.env.KS_CHILD_KEY!, 'base64'));
const offset = Date.parse(process.env.KS_CHILD_TODAY!) - Date.now();
const crashAt = process.env.KS_CRASH_AT as SyncHookPoint | undefined;
const nth = Number(process.env.KS_CRASH_NTH ?? '1');
let seen = 0;

const deps: SyncDeps = {
  store,
  sealer,
  actor: 'child',
  now: () => new Date(Date.now() + offset),
  klarnaOptions: { rateBudget: UNLIMITED_BUDGET },
  spirisOptions: { rateBudget: UNLIMITED_BUDGET, sleep: async () => {} },
  hooks: {
    at(point) {
      if (point === crashAt && ++seen === nth) process.kill(process.pid, 'SIGKILL');
    },
  },
};

const integrationId = process.env.KS_CHILD_INTEGRATION!;
if (process.env.KS_CHILD_COMMAND === 'reverse') {
  const r = await reversePayout(deps, { integrationId, paymentReference: process.env.KS_CHILD_REFERENCE! });
  process.stdout.write(`${JSON.stringify({ reversal: r.reversal, state: r.payout.state })}\n`);
} else {
  const r = await syncIntegration(deps, { integrationId });
  process.stdout.write(
    `${JSON.stringify({ booked: r.booked.length, needsAttention: r.needsAttention.length, error: r.error })}\n`,
  );
}
await store.close();
