import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import SqliteDatabase from 'better-sqlite3';
import { Kysely, Migrator, PostgresDialect, SqliteDialect } from 'kysely';
import pg from 'pg';
import { migrationProvider } from './migrations/index.ts';
import type { Database } from './schema.ts';

export type DialectName = 'sqlite' | 'postgres';

export interface Store {
  readonly db: Kysely<Database>;
  readonly dialect: DialectName;
  /** Where the data lives, with any password removed, for log lines and status output. */
  readonly location: string;
  close(): Promise<void>;
}

export interface StoreOptions {
  /** postgres://… selects PostgreSQL; anything else is a SQLite file path. */
  databaseUrl?: string;
  sqlitePath?: string;
  /** Run pending migrations on open (default true). */
  migrate?: boolean;
  /** Called when PostgreSQL drops an idle pooled connection; the pool recovers by itself. */
  onPoolError?: (err: Error) => void;
}

export const DEFAULT_SQLITE_PATH = './data/klarna-spiris.sqlite';

export function isPostgresUrl(url: string | undefined): url is string {
  return !!url && /^postgres(ql)?:\/\//i.test(url);
}

export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

// int8 comes back from pg as a string; money is integer minor units, and a value
// beyond 2^53 would be a corrupted amount, so fail loudly instead of rounding.
function parseInt8(value: string): number {
  const n = Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`integer out of safe range: ${value}`);
  return n;
}

// The better-sqlite3 handle behind a SQLite store, for the few bulk paths that need
// cached prepared statements; everything else goes through Kysely.
const nativeHandles = new WeakMap<Kysely<Database>, SqliteDatabase.Database>();

/** The SQLite handle of a store's Kysely instance, or undefined (PostgreSQL, or a transaction). */
export function nativeSqlite(db: Kysely<Database>): SqliteDatabase.Database | undefined {
  return nativeHandles.get(db);
}

export async function openStore(options: StoreOptions = {}): Promise<Store> {
  const url = options.databaseUrl;
  let store: Store;
  if (isPostgresUrl(url)) {
    const pool = new pg.Pool({
      connectionString: url,
      max: 10,
      types: {
        getTypeParser: ((oid: number, format?: 'text' | 'binary') =>
          oid === 20
            ? parseInt8
            : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
      },
    });
    // An idle client dropped by the server (restart, failover, DROP DATABASE … FORCE)
    // emits on the pool; unhandled, that would crash the process. The next query simply
    // gets a fresh connection, so noting it is enough.
    pool.on('error', (err) => {
      options.onPoolError?.(err);
    });
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) });
    store = { db, dialect: 'postgres', location: redactUrl(url), close: () => db.destroy() };
  } else {
    const path = options.sqlitePath ?? url ?? DEFAULT_SQLITE_PATH;
    if (path !== ':memory:') mkdirSync(dirname(path), { recursive: true });
    const sqlite = new SqliteDatabase(path);
    sqlite.pragma('journal_mode = WAL');
    // Every commit reaches the disk before it returns: a voucher intent lost to a power
    // failure after its POST could book the voucher twice. (SQLite's default, stated
    // because the import lowers it for its own writes only; see withImportDurability.)
    sqlite.pragma('synchronous = FULL');
    sqlite.pragma('foreign_keys = ON');
    sqlite.pragma('busy_timeout = 5000');
    const db = new Kysely<Database>({ dialect: new SqliteDialect({ database: sqlite }) });
    nativeHandles.set(db, sqlite);
    store = { db, dialect: 'sqlite', location: path, close: () => db.destroy() };
  }
  if (options.migrate !== false) await migrateToLatest(store);
  return store;
}

export async function migrateToLatest(store: Store): Promise<string[]> {
  const migrator = new Migrator({ db: store.db, provider: migrationProvider(store.dialect) });
  const { error, results } = await migrator.migrateToLatest();
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown';
    throw new Error(`database migration ${failed} failed: ${(error as Error).message ?? String(error)}`);
  }
  return (results ?? []).filter((r) => r.status === 'Success').map((r) => r.migrationName);
}
