import type { Kysely } from 'kysely';

// klarna_transactions_by_order indexed every line by its random order id. Nothing reads
// by order id, and keeping that index made each stored line 3–4 times as expensive once
// a merchant passes a few hundred thousand lines (random keys outgrow SQLite's page
// cache), which dominated a sync. A feature that looks lines up by order should create
// the index it needs, preferably after a bulk load.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('klarna_transactions_by_order').ifExists().execute();
}
