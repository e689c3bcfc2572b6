import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { openStore, type Store } from '../../src/store/db.ts';

export interface TestStore extends Store {
  /** The SQLite file, or the PostgreSQL database URL, so tests can inspect what was written. */
  readonly target: string;
}

/**
 * A fresh, migrated store for one test file: a SQLite file in a temp folder, or a
 * PostgreSQL database of its own when the suite runs with KS_TEST_DB=postgres.
 * `migrate: false` leaves it empty, for tests of a migration itself.
 */
export async function openTestStore(opts: { migrate?: boolean } = {}): Promise<TestStore> {
  const migrate = opts.migrate ?? true;
  if (process.env.KS_TEST_DB === 'postgres') {
    const adminUrl = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';
    const name = `ks_test_${process.pid}_${Math.random().toString(36).slice(2, 10)}`;
    const admin = new pg.Client({ connectionString: adminUrl });
    await admin.connect();
    await admin.query(`CREATE DATABASE ${name}`);
    await admin.end();
    const url = new URL(adminUrl);
    url.pathname = `/${name}`;
    const store = await openStore({ databaseUrl: url.toString(), migrate });
    return {
      ...store,
      target: url.toString(),
      async close() {
        await store.close();
        const a = new pg.Client({ connectionString: adminUrl });
        await a.connect();
        await a.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
        await a.end();
      },
    };
  }
  const dir = mkdtempSync(join(tmpdir(), 'ks-test-'));
  const file = join(dir, 'store.sqlite');
  const store = await openStore({ sqlitePath: file, migrate });
  return {
    ...store,
    target: file,
    async close() {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
