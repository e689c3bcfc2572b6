import type { Kysely } from 'kysely';

// A short-lived claim on a connection, for work that must not run twice at once across
// processes but must not hold a database lock while it waits on the network: renewing
// Spiris tokens on SQLite, where a write transaction held across the identity server's
// answer would stall every other query of the service. PostgreSQL uses an advisory lock
// instead and leaves this table empty.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('connection_leases')
    .addColumn('connection_id', 'text', (c) =>
      c.primaryKey().references('connections.id').onDelete('cascade'),
    )
    // host:pid:random, so a lease left by a killed process on this host can be taken over at once.
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('acquired_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
}
