import { type Kysely, sql } from 'kysely';

// Frozen in time: later schema changes get a migration of their own.
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  const bigint = 'bigint' as const;

  await db.schema
    .createTable('integrations')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('mode', 'text', (c) => c.notNull().defaultTo('off'))
    .addColumn('klarna_connection_id', 'text')
    .addColumn('spiris_connection_id', 'text')
    .addColumn('settings_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('ok'))
    .addColumn('status_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('connections')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('environment', 'text', (c) => c.notNull())
    .addColumn('config_json', 'text', (c) => c.notNull().defaultTo('{}'))
    .addColumn('secret_sealed', 'text')
    .addColumn('secret_hint', 'text')
    .addColumn('secret_version', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('external_id', 'text')
    .addColumn('external_name', 'text')
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('active'))
    .addColumn('status_reason', 'text')
    .addColumn('created_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('klarna_payouts')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('integration_id', 'text', (c) => c.notNull().references('integrations.id').onDelete('cascade'))
    .addColumn('merchant_id', 'text', (c) => c.notNull())
    .addColumn('payment_reference', 'text', (c) => c.notNull())
    .addColumn('payout_date', 'text', (c) => c.notNull())
    .addColumn('currency_code', 'text', (c) => c.notNull())
    .addColumn('merchant_settlement_type', 'text', (c) => c.notNull())
    .addColumn('settlement_amount', bigint, (c) => c.notNull())
    .addColumn('totals_json', 'text', (c) => c.notNull())
    .addColumn('raw_json', 'text', (c) => c.notNull())
    .addColumn('transaction_count', 'integer')
    .addColumn('transactions_complete', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unknown_types_json', 'text')
    .addColumn('reconciled', 'integer')
    .addColumn('reconciliation_json', 'text')
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('discovered'))
    .addColumn('state_reason', 'text')
    .addColumn('voucher_id', 'text')
    .addColumn('voucher_number', 'text')
    .addColumn('fetched_at', 'text', (c) => c.notNull())
    .addColumn('updated_at', 'text', (c) => c.notNull())
    .addUniqueConstraint('klarna_payouts_natural_key', ['integration_id', 'merchant_id', 'payment_reference'])
    .execute();
  await db.schema
    .createIndex('klarna_payouts_by_date')
    .on('klarna_payouts')
    .columns(['integration_id', 'payout_date'])
    .execute();

  await db.schema
    .createTable('klarna_transactions')
    .addColumn('payout_id', 'text', (c) => c.notNull().references('klarna_payouts.id').onDelete('cascade'))
    .addColumn('seq', 'integer', (c) => c.notNull())
    .addColumn('payment_reference', 'text', (c) => c.notNull())
    .addColumn('type', 'text', (c) => c.notNull())
    .addColumn('detailed_type', 'text')
    .addColumn('amount', bigint, (c) => c.notNull())
    .addColumn('currency_code', 'text', (c) => c.notNull())
    .addColumn('order_id', 'text')
    .addColumn('capture_id', 'text')
    .addColumn('refund_id', 'text')
    .addColumn('short_order_id', 'text')
    .addColumn('merchant_reference1', 'text')
    .addColumn('merchant_reference2', 'text')
    .addColumn('purchase_country', 'text')
    .addColumn('vat_rate', 'integer')
    .addColumn('vat_amount', bigint)
    .addColumn('sale_date', 'text')
    .addColumn('capture_date', 'text')
    .addColumn('known_type', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('raw_json', 'text', (c) => c.notNull())
    .addPrimaryKeyConstraint('klarna_transactions_pk', ['payout_id', 'seq'])
    .execute();
  await db.schema
    .createIndex('klarna_transactions_by_order')
    .on('klarna_transactions')
    .column('order_id')
    .execute();

  await db.schema
    .createTable('sync_runs')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('integration_id', 'text', (c) => c.references('integrations.id').onDelete('cascade'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull())
    .addColumn('started_at', 'text', (c) => c.notNull())
    .addColumn('finished_at', 'text')
    .addColumn('summary_json', 'text')
    .addColumn('error', 'text')
    .execute();

  await db.schema
    .createTable('events')
    .addColumn('id', dialect === 'postgres' ? sql`bigserial` : 'integer', (c) =>
      dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement(),
    )
    .addColumn('integration_id', 'text')
    .addColumn('at', 'text', (c) => c.notNull())
    .addColumn('actor', 'text', (c) => c.notNull())
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('message', 'text', (c) => c.notNull())
    .addColumn('data_json', 'text')
    .execute();
  await db.schema
    .createIndex('events_by_integration')
    .on('events')
    .columns(['integration_id', 'id'])
    .execute();
}
