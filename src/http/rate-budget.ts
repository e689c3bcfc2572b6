import { sleep as realSleep } from './sleep.ts';

/** Client-side request budget: `take` resolves when the request may go. */
export interface RateBudget {
  take(key: string, cost?: number): Promise<void>;
}

interface Bucket {
  tokens: number;
  updatedAt: number;
  /** Serialises waiters per key so a burst is released in arrival order. */
  queue: Promise<void>;
}

/**
 * A token bucket per key (merchant or API key): `capacity` requests may go at once,
 * then `refillPerSecond`. Staying under the provider's limit is cheaper than
 * collecting 429s and backing off.
 */
export class TokenBucketBudget implements RateBudget {
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #now: () => number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #buckets = new Map<string, Bucket>();

  constructor(opts: {
    capacity: number;
    refillPerSecond: number;
    now?: () => number;
    sleep?: (ms: number) => Promise<void>;
  }) {
    if (!(opts.capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${opts.capacity}`);
    if (!(opts.refillPerSecond > 0)) {
      throw new RangeError(`refillPerSecond must be positive, got ${opts.refillPerSecond}`);
    }
    this.#capacity = opts.capacity;
    this.#refillPerMs = opts.refillPerSecond / 1000;
    this.#now = opts.now ?? Date.now;
    this.#sleep = opts.sleep ?? ((ms) => realSleep(ms));
  }

  take(key: string, cost = 1): Promise<void> {
    if (!(cost > 0)) return Promise.resolve();
    // A cost above capacity could never be paid; charge the whole bucket instead.
    const price = Math.min(cost, this.#capacity);
    let bucket = this.#buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.#capacity, updatedAt: this.#now(), queue: Promise.resolve() };
      this.#buckets.set(key, bucket);
    }
    const b = bucket;
    const turn = b.queue.then(async () => {
      for (;;) {
        this.#refill(b);
        if (b.tokens >= price) {
          b.tokens -= price;
          return;
        }
        await this.#sleep(Math.ceil((price - b.tokens) / this.#refillPerMs));
      }
    });
    b.queue = turn.catch(() => undefined);
    return turn;
  }

  #refill(b: Bucket): void {
    const now = this.#now();
    const elapsed = Math.max(0, now - b.updatedAt);
    b.tokens = Math.min(this.#capacity, b.tokens + elapsed * this.#refillPerMs);
    b.updatedAt = now;
  }
}

export const UNLIMITED_BUDGET: RateBudget = Object.freeze({
  take: () => Promise.resolve(),
});
