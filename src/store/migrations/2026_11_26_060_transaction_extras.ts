import { type Kysely, sql } from 'kysely';

// A transaction line used to be stored twice: in its typed columns and again whole in
// raw_json, which was most of every row (and of every byte a sync writes). From here on
// the column holds only what the typed columns do not: fields beyond them, and typed
// fields whose value a column cannot tell apart (a null, or a value the column does not
// hold as sent). The line is rebuilt as columns overlaid with these extras, so nothing
// Klarna sent is lost.
//
// A row written before this migration keeps its whole line, which is a valid set of
// extras: overlaying it on the columns gives the line back. The one thing a whole line
// cannot say is that it lacked payment_reference, a column filled in from the payout;
// such rows get the marker new rows use, [extras, ["payment_reference"]].
export async function up(db: Kysely<any>, dialect: 'sqlite' | 'postgres'): Promise<void> {
  await db.schema.alterTable('klarna_transactions').renameColumn('raw_json', 'extra_json').execute();
  if (dialect === 'postgres') {
    await sql`update klarna_transactions
      set extra_json = json_build_array(extra_json::json, json_build_array('payment_reference'))::text
      where not (extra_json::jsonb ? 'payment_reference')`.execute(db);
  } else {
    // json_type answers 'null' for a JSON null and SQL NULL only for a missing key.
    await sql`update klarna_transactions
      set extra_json = json_array(json(extra_json), json_array('payment_reference'))
      where json_type(extra_json, '$.payment_reference') is null`.execute(db);
  }
}
