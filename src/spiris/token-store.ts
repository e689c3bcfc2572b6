import { type Kysely, sql } from 'kysely';
import type { CredentialSealer } from '../setup/credentials.ts';
import { Secret } from '../setup/secret.ts';
import {
  type ConnectionRecord,
  getConnection,
  readConnectionSecret,
  updateConnection,
  writeConnectionSecret,
} from '../store/connections.repository.ts';
import type { DialectName } from '../store/db.ts';
import { recordEvent } from '../store/events.repository.ts';
import { listIntegrations } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { type FetchLike, refreshAccessToken, type TokenSet } from './oauth.ts';
import {
  SpirisError,
  SpirisInvalidClientError,
  SpirisInvalidGrantError,
  SpirisReauthorizationRequiredError,
} from './spiris.errors.ts';
import { type TokenLeaseOptions, withTokenLease } from './token-lease.ts';

// Where Spiris tokens live and how they are renewed. The tokens are one JSON document,
// sealed in connections.secret_sealed; secret_version turns every write into a
// compare-and-set so a rotated refresh token is never overwritten by a stale one.

export const NEEDS_REAUTHORIZATION = 'needs_reauthorization';

/** Refresh this long before expiry, so a request never leaves with a token about to lapse. */
export const DEFAULT_REFRESH_MARGIN_MS = 5 * 60_000;

/** The clear contents of the sealed document, each secret still wrapped. */
export interface SpirisCredentials {
  clientSecret?: Secret;
  accessToken?: Secret;
  refreshToken?: Secret;
  /** ISO time the access token stops working; absent = unknown (treated as expired). */
  accessTokenExpiresAt?: string;
  /** Scopes the identity server granted, as it reported them. */
  grantedScope?: string;
}

/** How the connection was set up; decides whether renewal is possible at all. */
export type SpirisAuthMode = 'authorization_code' | 'refresh_token' | 'access_token';

/** Non-secret settings kept in connections.config_json. */
export interface SpirisConnectionConfig {
  authMode: SpirisAuthMode;
  clientId?: string;
  redirectUri?: string;
  scopes: string[];
  pkce: boolean;
  apiBaseUrl: string;
  authorizeUrl?: string;
  tokenUrl?: string;
  revocationUrl?: string;
  clientAuth?: 'basic' | 'body';
}

export function serializeCredentials(c: SpirisCredentials): Secret {
  // Key order matters a little: the stored hint is the masked tail of this text, so
  // the document ends with a non-secret field and the hint shows nothing of a token.
  const doc = {
    clientSecret: c.clientSecret?.reveal(),
    accessToken: c.accessToken?.reveal(),
    refreshToken: c.refreshToken?.reveal(),
    accessTokenExpiresAt: c.accessTokenExpiresAt,
    grantedScope: c.grantedScope,
    format: 'spiris-tokens-v1',
  };
  return new Secret(JSON.stringify(doc));
}

export function parseCredentials(secret: Secret): SpirisCredentials {
  let doc: Record<string, unknown>;
  try {
    doc = JSON.parse(secret.reveal()) as Record<string, unknown>;
  } catch {
    throw new SpirisError(
      'The stored Spiris credentials are not readable; reconnect with `klarna-spiris connect spiris`.',
    );
  }
  const s = (k: string) =>
    typeof doc[k] === 'string' && doc[k] !== '' ? new Secret(doc[k] as string) : undefined;
  const out: SpirisCredentials = {};
  const clientSecret = s('clientSecret');
  const accessToken = s('accessToken');
  const refreshToken = s('refreshToken');
  if (clientSecret) out.clientSecret = clientSecret;
  if (accessToken) out.accessToken = accessToken;
  if (refreshToken) out.refreshToken = refreshToken;
  if (typeof doc.accessTokenExpiresAt === 'string') out.accessTokenExpiresAt = doc.accessTokenExpiresAt;
  if (typeof doc.grantedScope === 'string') out.grantedScope = doc.grantedScope;
  return out;
}

export function parseSpirisConfig(
  conn: Pick<ConnectionRecord, 'id' | 'kind' | 'config'>,
): SpirisConnectionConfig {
  if (conn.kind !== 'spiris') throw new SpirisError(`connection ${conn.id} is not a Spiris connection`);
  const c = conn.config as Partial<SpirisConnectionConfig>;
  if (typeof c.apiBaseUrl !== 'string') {
    throw new SpirisError(
      `Spiris connection ${conn.id} has no API URL; reconnect with \`klarna-spiris connect spiris\`.`,
    );
  }
  return {
    authMode: c.authMode ?? 'authorization_code',
    scopes: Array.isArray(c.scopes) ? c.scopes : [],
    pkce: c.pkce !== false,
    apiBaseUrl: c.apiBaseUrl,
    ...(c.clientId ? { clientId: c.clientId } : {}),
    ...(c.redirectUri ? { redirectUri: c.redirectUri } : {}),
    ...(c.authorizeUrl ? { authorizeUrl: c.authorizeUrl } : {}),
    ...(c.tokenUrl ? { tokenUrl: c.tokenUrl } : {}),
    ...(c.revocationUrl ? { revocationUrl: c.revocationUrl } : {}),
    ...(c.clientAuth ? { clientAuth: c.clientAuth } : {}),
  };
}

/** A token set from the identity server → the stored document, keeping what it did not replace. */
export function credentialsFromTokenSet(
  tokens: TokenSet,
  previous: SpirisCredentials,
  now: Date,
): SpirisCredentials {
  const out: SpirisCredentials = {
    ...previous,
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: new Date(now.getTime() + tokens.expiresIn * 1000).toISOString(),
  };
  // Visma always rotates; should a response ever omit it, the old one is the only one we have.
  if (tokens.refreshToken) out.refreshToken = tokens.refreshToken;
  if (tokens.scope) out.grantedScope = tokens.scope;
  return out;
}

/** What an API client needs: a bearer token, renewed when due or when Spiris rejected `rejected`. */
export interface SpirisTokenSource {
  getAccessToken(opts?: { rejected?: Secret }): Promise<Secret>;
}

/** A fixed token, for one-off scripts and tests. */
export class StaticTokenSource implements SpirisTokenSource {
  constructor(private readonly token: Secret) {}
  getAccessToken(): Promise<Secret> {
    return Promise.resolve(this.token);
  }
}

// ---- locking ------------------------------------------------------------------------

const inProcessLocks = new Map<string, Promise<unknown>>();

/**
 * Runs `fn` while holding the per-connection refresh lock; `fn` does its reads and
 * writes through the handle it is given, and stores the new tokens before it returns.
 * Within a process a promise chain serialises callers, also across several store
 * handles. Across processes, PostgreSQL takes a transaction-scoped advisory lock (a
 * pooled connection waits, nothing else does). SQLite has one connection per process
 * and one writer per file, so a transaction held across the identity server's answer
 * would stall every other query of the service and fail other processes' writes with
 * SQLITE_BUSY; it takes a lease row instead (see withTokenLease) and runs `fn` outside
 * any transaction, each write of it atomic on its own.
 */
export async function withConnectionLock<T>(
  store: { db: Kysely<Database>; dialect: DialectName },
  connectionId: string,
  fn: (db: Kysely<Database>) => Promise<T>,
  lease: TokenLeaseOptions = {},
): Promise<T> {
  const previous = inProcessLocks.get(connectionId) ?? Promise.resolve();
  const run = previous
    .catch(() => undefined)
    .then(() =>
      store.dialect === 'postgres'
        ? store.db.transaction().execute(async (trx) => {
            await sql`select pg_advisory_xact_lock(hashtext(${`klarna-spiris:spiris-token:${connectionId}`}))`.execute(
              trx,
            );
            return fn(trx);
          })
        : withTokenLease(store.db, connectionId, lease, () => fn(store.db)),
    );
  const tail = run.catch(() => undefined);
  inProcessLocks.set(connectionId, tail);
  try {
    return await run;
  } finally {
    if (inProcessLocks.get(connectionId) === tail) inProcessLocks.delete(connectionId);
  }
}

// ---- stored tokens ------------------------------------------------------------------

export interface StoredTokenSourceOptions {
  store: { db: Kysely<Database>; dialect: DialectName };
  sealer: CredentialSealer;
  connectionId: string;
  fetch?: FetchLike;
  now?: () => Date;
  sleep?: (ms: number) => Promise<void>;
  refreshMarginMs?: number;
  timeoutMs?: number;
  /** Who is acting, for the event log (cli, scheduler, …). */
  actor?: string;
  /** Timing of the SQLite refresh lease; the defaults suit production. */
  refreshLease?: TokenLeaseOptions;
}

/**
 * Access tokens from the store, refreshed ahead of expiry under the per-connection
 * lock. Two workers never spend the same refresh token: after taking the lock each
 * re-reads the document, and only a worker that still finds it stale goes to the
 * identity server; the new pair is stored before its access token is handed out.
 */
export class StoredSpirisTokens implements SpirisTokenSource {
  readonly #o: StoredTokenSourceOptions;
  readonly #now: () => Date;
  readonly #margin: number;
  #cached: { token: Secret; expiresAt: number } | undefined;

  constructor(options: StoredTokenSourceOptions) {
    this.#o = options;
    this.#now = options.now ?? (() => new Date());
    this.#margin = options.refreshMarginMs ?? DEFAULT_REFRESH_MARGIN_MS;
  }

  get connectionId(): string {
    return this.#o.connectionId;
  }

  async getAccessToken(opts: { rejected?: Secret } = {}): Promise<Secret> {
    const rejected = opts.rejected;
    const c = this.#cached;
    if (c && this.#fresh(c.expiresAt) && !sameSecret(c.token, rejected)) return c.token;
    this.#cached = undefined;

    const { db } = this.#o.store;
    const conn = await this.#connection(db);
    const { secret } = await readConnectionSecret(db, this.#o.sealer, conn.id);
    const creds = parseCredentials(secret);
    const usable = this.#usable(creds, rejected);
    if (usable) return usable;
    if (!creds.refreshToken) return this.#accessTokenOnly(db, conn, creds, rejected);
    return this.#refresh(conn, rejected);
  }

  /** Renews now, whatever the expiry says: for checking a connection end to end, or after rotating the client secret. */
  async refreshNow(): Promise<Secret> {
    const conn = await this.#connection(this.#o.store.db);
    this.#cached = undefined;
    return this.#refresh(conn, undefined, true);
  }

  async #connection(db: Kysely<Database>): Promise<ConnectionRecord> {
    const conn = await getConnection(db, this.#o.connectionId);
    if (!conn) throw new SpirisError(`Spiris connection ${this.#o.connectionId} does not exist.`);
    if (conn.status === NEEDS_REAUTHORIZATION) {
      throw new SpirisReauthorizationRequiredError(
        conn.id,
        conn.statusReason ??
          'The Spiris connection needs to be authorized again: run `klarna-spiris connect spiris`.',
      );
    }
    return conn;
  }

  #fresh(expiresAt: number): boolean {
    return expiresAt - this.#margin > this.#now().getTime();
  }

  #usable(creds: SpirisCredentials, rejected: Secret | undefined): Secret | undefined {
    if (!creds.accessToken || !creds.accessTokenExpiresAt) return undefined;
    const expiresAt = Date.parse(creds.accessTokenExpiresAt);
    if (!Number.isFinite(expiresAt) || !this.#fresh(expiresAt)) return undefined;
    if (sameSecret(creds.accessToken, rejected)) return undefined;
    this.#cached = { token: creds.accessToken, expiresAt };
    return creds.accessToken;
  }

  async #accessTokenOnly(
    db: Kysely<Database>,
    conn: ConnectionRecord,
    creds: SpirisCredentials,
    rejected: Secret | undefined,
  ): Promise<Secret> {
    const outcome = this.#accessTokenOnlyOutcome(creds, rejected);
    if ('token' in outcome) return outcome.token;
    await this.#markNeedsReauthorization(db, conn.id, outcome.reason, outcome.cause);
    throw new SpirisReauthorizationRequiredError(conn.id, outcome.reason);
  }

  #accessTokenOnlyOutcome(creds: SpirisCredentials, rejected: Secret | undefined): LockOutcome {
    const expiresAt = creds.accessTokenExpiresAt ? Date.parse(creds.accessTokenExpiresAt) : Number.NaN;
    const expired = !Number.isFinite(expiresAt) || expiresAt <= this.#now().getTime();
    if (creds.accessToken && !expired && !sameSecret(creds.accessToken, rejected)) {
      // Inside the refresh margin but still valid: nothing can renew it, so use what is left.
      return { token: creds.accessToken };
    }
    const when = creds.accessTokenExpiresAt ? ` at ${creds.accessTokenExpiresAt}` : '';
    const what = rejected
      ? 'Spiris rejected the access token this connection was set up with'
      : `The access token this connection was set up with expired${when}`;
    return {
      reason:
        `${what}, and it cannot be renewed (no refresh token was given). ` +
        'Nothing was booked or lost. Reconnect with `klarna-spiris connect spiris` to authorize again.',
      cause: 'access_token_expired',
    };
  }

  async #refresh(conn: ConnectionRecord, rejected: Secret | undefined, force = false): Promise<Secret> {
    const config = parseSpirisConfig(conn);
    // The lock callback returns instead of throwing for "needs re-authorization": on
    // PostgreSQL a throw would roll back the transaction it runs in, and the status
    // change must outlive it.
    const outcome = await withConnectionLock(
      this.#o.store,
      conn.id,
      async (db): Promise<LockOutcome> => {
        const { secret, version } = await readConnectionSecret(db, this.#o.sealer, conn.id);
        const creds = parseCredentials(secret);
        // Another worker may have refreshed while we waited for the lock.
        const already = force ? undefined : this.#usable(creds, rejected);
        if (already) return { token: already };
        if (!creds.refreshToken) return this.#accessTokenOnlyOutcome(creds, rejected);
        if (!config.tokenUrl || !config.clientId) {
          throw new SpirisError(
            `Spiris connection ${conn.id} has no token URL or client id to refresh with; reconnect with \`klarna-spiris connect spiris\`.`,
          );
        }

        let tokens: TokenSet;
        try {
          tokens = await refreshAccessToken(
            {
              tokenUrl: config.tokenUrl,
              clientId: config.clientId,
              clientSecret: creds.clientSecret,
              ...(this.#o.fetch ? { fetch: this.#o.fetch } : {}),
              ...(this.#o.sleep ? { sleep: this.#o.sleep } : {}),
              ...(this.#o.timeoutMs ? { timeoutMs: this.#o.timeoutMs } : {}),
              ...(config.clientAuth ? { clientAuth: config.clientAuth } : {}),
            },
            creds.refreshToken,
          );
        } catch (err) {
          if (err instanceof SpirisInvalidGrantError || err instanceof SpirisInvalidClientError) {
            // A worker outside our lock (one that took over a lease it found expired, or
            // an older version without the lease) may have won the race and stored the
            // next pair; if so the connection is fine.
            const again = await readConnectionSecret(db, this.#o.sealer, conn.id);
            if (again.version !== version) {
              const theirs = this.#usable(parseCredentials(again.secret), rejected);
              if (theirs) return { token: theirs };
            }
            const reason =
              err instanceof SpirisInvalidGrantError
                ? "Spiris no longer accepts this connection's refresh token (invalid_grant: it expired, was revoked in Visma, or was already used). " +
                  'Nothing was booked or lost. Reconnect with `klarna-spiris connect spiris` to authorize again.'
                : 'The Visma identity server no longer accepts the client id and secret of this connection (invalid_client). ' +
                  'Nothing was booked or lost. Reconnect with `klarna-spiris connect spiris` using the current client credentials.';
            return { reason, cause: err.error };
          }
          throw err;
        }

        const next = credentialsFromTokenSet(tokens, creds, this.#now());
        const stored = await writeConnectionSecret(
          db,
          this.#o.sealer,
          conn.id,
          serializeCredentials(next),
          version,
        );
        if (!stored) {
          // Only a writer that bypassed the lock gets here; its document is newer than ours.
          const again = await readConnectionSecret(db, this.#o.sealer, conn.id);
          const theirs = this.#usable(parseCredentials(again.secret), undefined);
          if (theirs) return { token: theirs };
          throw new SpirisError(
            `The Spiris tokens of connection ${conn.id} were changed by another process during a refresh; try again.`,
          );
        }
        return { token: next.accessToken!, expiresAt: Date.parse(next.accessTokenExpiresAt!) };
      },
      this.#o.refreshLease,
    );
    if ('token' in outcome) {
      if (outcome.expiresAt !== undefined)
        this.#cached = { token: outcome.token, expiresAt: outcome.expiresAt };
      return outcome.token;
    }
    await this.#markNeedsReauthorization(this.#o.store.db, conn.id, outcome.reason, outcome.cause);
    throw new SpirisReauthorizationRequiredError(conn.id, outcome.reason);
  }

  async #markNeedsReauthorization(
    db: Kysely<Database>,
    id: string,
    reason: string,
    cause: string,
  ): Promise<void> {
    await updateConnection(db, id, { status: NEEDS_REAUTHORIZATION, statusReason: reason });
    const integrations = (await listIntegrations(db)).filter((i) => i.spirisConnectionId === id);
    const targets = integrations.length > 0 ? integrations.map((i) => i.id) : [null];
    for (const integrationId of targets) {
      await recordEvent(db, {
        integrationId,
        actor: this.#o.actor ?? 'system',
        kind: 'spiris.needs_reauthorization',
        message: reason,
        data: { connectionId: id, cause },
      });
    }
  }
}

type LockOutcome = { token: Secret; expiresAt?: number } | { reason: string; cause: string };

function sameSecret(a: Secret | undefined, b: Secret | undefined): boolean {
  return !!a && !!b && a.reveal() === b.reveal();
}
