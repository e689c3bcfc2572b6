import type { Kysely, Migration, MigrationProvider } from 'kysely';
import * as initial from './2026_11_26_001_initial.ts';
import * as admin from './2026_11_26_010_admin.ts';
import * as booking from './2026_11_26_020_booking.ts';
import * as dropOrderIndex from './2026_11_26_021_drop_order_index.ts';
import * as jobs from './2026_11_26_050_jobs.ts';
import * as transactionExtras from './2026_11_26_060_transaction_extras.ts';
import * as unknownDetailedTypes from './2026_11_26_070_unknown_detailed_types.ts';
import * as connectionLeases from './2026_11_26_080_connection_leases.ts';

type Dialect = 'sqlite' | 'postgres';
interface DialectMigration {
  up(db: Kysely<any>, dialect: Dialect): Promise<void>;
}

// Listed in code rather than read from a folder so the same list runs from sources,
// from tests and from a packaged install.
const MIGRATIONS: Record<string, DialectMigration> = {
  '2026_11_26_001_initial': initial,
  '2026_11_26_010_admin': admin,
  '2026_11_26_020_booking': booking,
  '2026_11_26_021_drop_order_index': dropOrderIndex,
  '2026_11_26_050_jobs': jobs,
  '2026_11_26_060_transaction_extras': transactionExtras,
  '2026_11_26_070_unknown_detailed_types': unknownDetailedTypes,
  '2026_11_26_080_connection_leases': connectionLeases,
};

export function migrationProvider(dialect: Dialect): MigrationProvider {
  return {
    async getMigrations() {
      const out: Record<string, Migration> = {};
      for (const [name, m] of Object.entries(MIGRATIONS)) out[name] = { up: (db) => m.up(db, dialect) };
      return out;
    },
  };
}
