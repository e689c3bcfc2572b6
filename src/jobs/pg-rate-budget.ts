import { type Kysely, sql } from 'kysely';
import type { RateBudget } from '../http/rate-budget.ts';
import { sleep as realSleep } from '../http/sleep.ts';
import type { DialectName } from '../store/db.ts';
import type { Database } from '../store/schema.ts';

export interface PgRateBudgetOptions {
  /** Requests that may go at once. */
  capacity: number;
  refillPerSecond: number;
  /** Prefix of every key in rate_buckets, so two upstreams never share a bucket by accident. */
  namespace: string;
  sleep?: (ms: number) => Promise<void>;
}

/**
 * A token bucket per key in PostgreSQL, shared by every worker process and machine, so
 * adding workers adds throughput up to the provider's limit and never past it.
 *
 * Each `take` is one statement: refill by the time elapsed on the database's clock, cap,
 * and subtract the cost, all under the row lock of the upsert. The balance may go below
 * zero: that caller has reserved a turn and waits until the bucket has refilled up to
 * it, so callers are admitted in the order they asked and nobody polls. In any window
 * of t seconds at most `capacity + refillPerSecond × t` requests are admitted, however
 * many processes ask.
 */
export class PgRateBudget implements RateBudget {
  readonly #db: Kysely<Database>;
  readonly #capacity: number;
  readonly #refillPerMs: number;
  readonly #namespace: string;
  readonly #sleep: (ms: number) => Promise<void>;

  constructor(store: { db: Kysely<Database>; dialect: DialectName }, opts: PgRateBudgetOptions) {
    if (store.dialect !== 'postgres') {
      throw new Error('a shared rate budget needs PostgreSQL; on SQLite one process runs syncs');
    }
    if (!(opts.capacity >= 1)) throw new RangeError(`capacity must be at least 1, got ${opts.capacity}`);
    if (!(opts.refillPerSecond > 0)) {
      throw new RangeError(`refillPerSecond must be positive, got ${opts.refillPerSecond}`);
    }
    this.#db = store.db;
    this.#capacity = opts.capacity;
    this.#refillPerMs = opts.refillPerSecond / 1000;
    this.#namespace = opts.namespace;
    this.#sleep = opts.sleep ?? ((ms) => realSleep(ms));
  }

  async take(key: string, cost = 1): Promise<void> {
    if (!(cost > 0)) return;
    // A cost above capacity could never be paid; charge the whole bucket instead.
    const price = Math.min(cost, this.#capacity);
    const tokens = await reserve(this.#db, {
      key: `${this.#namespace}:${key}`,
      capacity: this.#capacity,
      refillPerMs: this.#refillPerMs,
      price,
    });
    if (tokens < 0) await this.#sleep(Math.ceil(-tokens / this.#refillPerMs));
  }
}

/** Spends `price` from the bucket and returns the balance left, negative when the caller must wait. */
export async function reserve(
  db: Kysely<Database>,
  b: { key: string; capacity: number; refillPerMs: number; price: number },
): Promise<number> {
  const { rows } = await sql<{ tokens: number }>`
    insert into rate_buckets as b (key, tokens, updated_ms)
    values (${b.key}, ${b.capacity - b.price}::float8, extract(epoch from clock_timestamp()) * 1000)
    on conflict (key) do update set
      tokens = least(
        ${b.capacity}::float8,
        b.tokens + greatest(0, excluded.updated_ms - b.updated_ms) * ${b.refillPerMs}::float8
      ) - ${b.price}::float8,
      updated_ms = greatest(b.updated_ms, excluded.updated_ms)
    returning tokens`.execute(db);
  return Number(rows[0]!.tokens);
}
