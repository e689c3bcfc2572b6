import type { Kysely } from 'kysely';

// Booking state: the voucher plan and gate results on each payout, the attachment's
// own life cycle, one intent row per voucher POST so a crash or a lost response can
// always be resolved by looking the voucher up instead of posting twice, and a lease
// per integration so two syncs never post for the same books at once.
export async function up(db: Kysely<any>): Promise<void> {
  // Bumped by each reversal: the marker in the voucher text tells generation 2's voucher
  // from generation 1's, so a lookup can never mistake the reversed voucher for the new one.
  await db.schema
    .alterTable('klarna_payouts')
    .addColumn('generation', 'integer', (c) => c.notNull().defaultTo(1))
    .execute();
  await db.schema.alterTable('klarna_payouts').addColumn('plan_json', 'text').execute();
  await db.schema.alterTable('klarna_payouts').addColumn('failures_json', 'text').execute();
  await db.schema.alterTable('klarna_payouts').addColumn('fiscal_year_id', 'text').execute();
  await db.schema.alterTable('klarna_payouts').addColumn('booked_at', 'text').execute();
  await db.schema
    .alterTable('klarna_payouts')
    .addColumn('attachment_state', 'text', (c) => c.notNull().defaultTo('none'))
    .execute();
  await db.schema.alterTable('klarna_payouts').addColumn('attachment_id', 'text').execute();
  await db.schema.alterTable('klarna_payouts').addColumn('attachment_error', 'text').execute();
  await db.schema
    .alterTable('klarna_payouts')
    .addColumn('attachment_attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .execute();
  await db.schema
    .createIndex('klarna_payouts_by_state')
    .on('klarna_payouts')
    .columns(['integration_id', 'state'])
    .execute();

  await db.schema
    .createTable('voucher_intents')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('payout_id', 'text', (c) => c.notNull().references('klarna_payouts.id').onDelete('cascade'))
    // 'book' or 'reverse'
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('generation', 'integer', (c) => c.notNull())
    // pending (a POST may be in flight) | done | rejected | abandoned
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('voucher_date', 'text', (c) => c.notNull())
    .addColumn('marker', 'text', (c) => c.notNull())
    .addColumn('voucher_json', 'text', (c) => c.notNull())
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('spiris_voucher_id', 'text')
    .addColumn('voucher_number', 'text')
    .addColumn('fiscal_year_id', 'text')
    .addColumn('error', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('voucher_intents_one_per_generation', ['payout_id', 'kind', 'generation'])
    .execute();

  await db.schema
    .createTable('sync_leases')
    .addColumn('integration_id', 'text', (c) =>
      c.primaryKey().references('integrations.id').onDelete('cascade'),
    )
    // host:pid:random, so a lease left by a killed process on this host can be taken over at once.
    .addColumn('holder', 'text', (c) => c.notNull())
    .addColumn('purpose', 'text', (c) => c.notNull())
    .addColumn('acquired_at', 'text', (c) => c.notNull())
    .addColumn('expires_at', 'text', (c) => c.notNull())
    .execute();
}
