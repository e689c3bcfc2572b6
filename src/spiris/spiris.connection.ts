import type { Kysely } from 'kysely';
import { type RateBudget, TokenBucketBudget } from '../http/rate-budget.ts';
import type { RetryPolicy } from '../http/retry.ts';
import type { CredentialSealer } from '../setup/credentials.ts';
import { type ConnectionRecord, getConnection } from '../store/connections.repository.ts';
import type { DialectName } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import type { FetchLike } from './oauth.ts';
import { SpirisClient, type SpirisClientOptions } from './spiris.client.ts';
import { SpirisError } from './spiris.errors.ts';
import { parseSpirisConfig, type SpirisConnectionConfig, StoredSpirisTokens } from './token-store.ts';

// Wiring from a stored connection to a ready client; the one place that knows both.

/**
 * Spiris allows 600 requests per minute per client and endpoint. A bucket of 100 that
 * refills 500 per minute never lets more than 600 through in any 60-second window.
 */
export const SPIRIS_BUDGET = Object.freeze({ capacity: 100, refillPerSecond: 500 / 60 });

const sharedBudgets = new Map<string, RateBudget>();

/** One budget per API client id in this process, shared by every connection using it. */
export function sharedSpirisRateBudget(clientId: string): RateBudget {
  let budget = sharedBudgets.get(clientId);
  if (!budget) {
    budget = new TokenBucketBudget(SPIRIS_BUDGET);
    sharedBudgets.set(clientId, budget);
  }
  return budget;
}

export interface SpirisRuntimeOptions {
  fetch?: FetchLike;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  retryPolicy?: RetryPolicy;
  rateBudget?: RateBudget;
  timeoutMs?: number;
  refreshMarginMs?: number;
  onRetry?: SpirisClientOptions['onRetry'];
  /** Who acts, for the event log. */
  actor?: string;
}

export interface SpirisConnectionHandle {
  connection: ConnectionRecord;
  config: SpirisConnectionConfig;
  tokens: StoredSpirisTokens;
  client: SpirisClient;
}

export function spirisClientForConnection(
  store: { db: Kysely<Database>; dialect: DialectName },
  sealer: CredentialSealer,
  connection: ConnectionRecord,
  options: SpirisRuntimeOptions = {},
): SpirisConnectionHandle {
  const config = parseSpirisConfig(connection);
  const tokens = new StoredSpirisTokens({
    store,
    sealer,
    connectionId: connection.id,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: (ms: number) => options.sleep!(ms) } : {}),
    ...(options.refreshMarginMs !== undefined ? { refreshMarginMs: options.refreshMarginMs } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.actor ? { actor: options.actor } : {}),
  });
  const client = new SpirisClient({
    apiBaseUrl: config.apiBaseUrl,
    tokens,
    rateBudget:
      options.rateBudget ?? sharedSpirisRateBudget(config.clientId ?? `connection:${connection.id}`),
    budgetKeyPrefix: `${config.clientId ?? connection.id}:`,
    ...(options.fetch ? { fetch: options.fetch } : {}),
    ...(options.now ? { now: options.now } : {}),
    ...(options.sleep ? { sleep: options.sleep } : {}),
    ...(options.random ? { random: options.random } : {}),
    ...(options.retryPolicy ? { retryPolicy: options.retryPolicy } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
    ...(options.onRetry ? { onRetry: options.onRetry } : {}),
  });
  return { connection, config, tokens, client };
}

export async function openSpirisConnection(
  store: { db: Kysely<Database>; dialect: DialectName },
  sealer: CredentialSealer,
  connectionId: string,
  options: SpirisRuntimeOptions = {},
): Promise<SpirisConnectionHandle> {
  const connection = await getConnection(store.db, connectionId);
  if (!connection) throw new SpirisError(`Spiris connection ${connectionId} does not exist.`);
  return spirisClientForConnection(store, sealer, connection, options);
}
