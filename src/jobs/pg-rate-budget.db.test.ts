import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { openStore, type Store } from '../store/db.ts';
import { PgRateBudget, reserve } from './pg-rate-budget.ts';

// The budget two "workers" share: two store handles (two connection pools, as two
// processes would have) draw from the same row, and together never go faster than the
// bucket allows.

const onPostgres = process.env.KS_TEST_DB === 'postgres';

describe.skipIf(!onPostgres)('PgRateBudget (skipped on SQLite: a shared budget lives in PostgreSQL)', () => {
  let store: TestStore;
  let other: Store;

  beforeAll(async () => {
    store = await openTestStore();
    other = await openStore({ databaseUrl: store.target, migrate: false });
  });
  afterAll(async () => {
    await other?.close();
    await store?.close();
  });

  it('spends, goes negative for a reserved turn, and refills by elapsed time up to the capacity', async () => {
    // Refilling one token in 10 s: the milliseconds between these calls do not count.
    const slow = { key: 'unit:spend', capacity: 3, refillPerMs: 0.0001, price: 1 };
    expect(await reserve(store.db, slow)).toBeCloseTo(2, 1);
    expect(await reserve(store.db, slow)).toBeCloseTo(1, 1);
    expect(await reserve(store.db, slow)).toBeCloseTo(0, 1);
    expect(await reserve(store.db, slow)).toBeCloseTo(-1, 1);
    // Ten a second: 300 ms refills 3 tokens, however the calls are timed, but never past the cap.
    const fast = { key: 'unit:refill', capacity: 3, refillPerMs: 0.01, price: 3 };
    expect(await reserve(store.db, fast)).toBeCloseTo(0, 0);
    await new Promise((r) => setTimeout(r, 600));
    expect(await reserve(store.db, { ...fast, price: 1 })).toBeCloseTo(2, 1);
  });

  it('two processes drawing from one bucket together stay within capacity + rate × time', async () => {
    const opts = { capacity: 5, refillPerSecond: 20, namespace: 'shared-test' };
    const budgets = [new PgRateBudget(store, opts), new PgRateBudget(other, opts)];
    const started = Date.now();
    const admitted: number[] = [];
    await Promise.all(
      Array.from({ length: 45 }, (_, i) =>
        budgets[i % 2]!.take('merchant:K1').then(() => admitted.push(Date.now() - started)),
      ),
    );
    admitted.sort((a, b) => a - b);
    // 5 at once, then 40 at 20 a second: about 2 s, whoever asks.
    expect(admitted.at(-1)!).toBeGreaterThanOrEqual(1_800);
    expect(admitted.at(-1)!).toBeLessThan(4_000);
    // In every window from the start, no more than the bucket allows (50 ms of slack for timers).
    admitted.forEach((t, i) => {
      expect(i + 1, `admission ${i + 1} at ${t} ms`).toBeLessThanOrEqual(
        5 + Math.floor(((t + 50) / 1000) * 20) + 1,
      );
    });
    // Another key has its own bucket: no wait.
    const t0 = Date.now();
    await budgets[0]!.take('merchant:K2');
    expect(Date.now() - t0).toBeLessThan(500);
  });

  it('refuses a SQLite store', () => {
    expect(
      () =>
        new PgRateBudget(
          { db: store.db, dialect: 'sqlite' },
          { capacity: 1, refillPerSecond: 1, namespace: 'x' },
        ),
    ).toThrow(/PostgreSQL/);
  });
});
