import type { Kysely } from 'kysely';

// Rate budgets shared by every worker process: one token bucket per upstream key (a
// Spiris client's endpoint, a Klarna merchant), updated in a single statement so two
// workers can never both spend the last token. The job queue itself (pg-boss) keeps its
// own schema and installs it on start; nothing of it lives here. The table exists on
// SQLite too, so both schemas stay alike, though only PostgreSQL workers write to it.
// Kysely<any>: a migration runs against the schema of its day, not today's types.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('rate_buckets')
    .addColumn('key', 'text', (c) => c.primaryKey())
    // Fractional: refills accrue per millisecond. Negative while callers wait their turn.
    .addColumn('tokens', 'double precision', (c) => c.notNull())
    // Epoch milliseconds from the database's clock, so skewed worker clocks cannot mint tokens.
    .addColumn('updated_ms', 'double precision', (c) => c.notNull())
    .execute();
}
