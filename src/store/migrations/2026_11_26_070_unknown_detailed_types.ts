import type { Kysely } from 'kysely';

// Unknown detailed_type values are flagged beside unknown types, so a list of payouts can
// show them without opening each reconciliation. Payouts reconciled before this stay
// NULL, read as none, until their lines are reconciled again.
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('klarna_payouts').addColumn('unknown_detailed_types_json', 'text').execute();
}
