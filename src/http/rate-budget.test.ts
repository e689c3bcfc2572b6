import { describe, expect, it } from 'vitest';
import { TokenBucketBudget, UNLIMITED_BUDGET } from './rate-budget.ts';

function fakeClock() {
  let t = 0;
  const sleeps: number[] = [];
  return {
    now: () => t,
    sleep: async (ms: number) => {
      sleeps.push(ms);
      t += ms;
    },
    sleeps,
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe('TokenBucketBudget', () => {
  it('lets a burst up to capacity through, then paces at the refill rate', async () => {
    const clock = fakeClock();
    const budget = new TokenBucketBudget({
      capacity: 3,
      refillPerSecond: 10,
      now: clock.now,
      sleep: clock.sleep,
    });
    for (let i = 0; i < 3; i++) await budget.take('m1');
    expect(clock.sleeps).toEqual([]);
    await budget.take('m1');
    expect(clock.sleeps).toEqual([100]);
    await budget.take('m1');
    expect(clock.now()).toBe(200);
  });

  it('keeps keys apart', async () => {
    const clock = fakeClock();
    const budget = new TokenBucketBudget({
      capacity: 1,
      refillPerSecond: 1,
      now: clock.now,
      sleep: clock.sleep,
    });
    await budget.take('a');
    await budget.take('b');
    expect(clock.sleeps).toEqual([]);
    await budget.take('a');
    expect(clock.sleeps).toEqual([1000]);
  });

  it('refills while idle but never above capacity', async () => {
    const clock = fakeClock();
    const budget = new TokenBucketBudget({
      capacity: 2,
      refillPerSecond: 1,
      now: clock.now,
      sleep: clock.sleep,
    });
    await budget.take('k');
    await budget.take('k');
    clock.advance(60_000);
    await budget.take('k');
    await budget.take('k');
    expect(clock.sleeps).toEqual([]);
    await budget.take('k');
    expect(clock.sleeps).toEqual([1000]);
  });

  it('serves concurrent takers in order without overdrawing', async () => {
    const clock = fakeClock();
    const budget = new TokenBucketBudget({
      capacity: 1,
      refillPerSecond: 2,
      now: clock.now,
      sleep: clock.sleep,
    });
    const order: number[] = [];
    await Promise.all([0, 1, 2, 3].map((i) => budget.take('k').then(() => order.push(i))));
    expect(order).toEqual([0, 1, 2, 3]);
    expect(clock.now()).toBe(1500);
  });

  it('charges a cost above capacity as a full bucket', async () => {
    const clock = fakeClock();
    const budget = new TokenBucketBudget({
      capacity: 2,
      refillPerSecond: 1,
      now: clock.now,
      sleep: clock.sleep,
    });
    await budget.take('k', 5);
    await budget.take('k');
    expect(clock.sleeps).toEqual([1000]);
  });

  it('rejects nonsense configuration', () => {
    expect(() => new TokenBucketBudget({ capacity: 0, refillPerSecond: 1 })).toThrow(/capacity/);
    expect(() => new TokenBucketBudget({ capacity: 1, refillPerSecond: 0 })).toThrow(/refillPerSecond/);
  });
});

describe('UNLIMITED_BUDGET', () => {
  it('never waits', async () => {
    await expect(UNLIMITED_BUDGET.take('x', 1000)).resolves.toBeUndefined();
  });
});
