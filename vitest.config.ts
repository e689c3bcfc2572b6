import { defineConfig } from 'vitest/config';

// Every test runs on the embedded SQLite store. Files named *.db.test.ts touch the
// store and run a second time on PostgreSQL, each file in a database of its own.
const POSTGRES_URL = process.env.TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

export default defineConfig({
  test: {
    reporters: ['default', './test/support/summary-reporter.ts'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: [
      {
        extends: true,
        test: {
          name: 'sqlite',
          include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
          env: { KS_TEST_DB: 'sqlite' },
        },
      },
      {
        extends: true,
        test: {
          name: 'postgres',
          include: ['src/**/*.db.test.ts', 'test/**/*.db.test.ts'],
          env: { KS_TEST_DB: 'postgres', TEST_POSTGRES_URL: POSTGRES_URL },
        },
      },
    ],
  },
});
