import type { Kysely } from 'kysely';
import { nowIso } from './ids.ts';
import type { Database } from './schema.ts';

/** One line of history: what happened, to which integration, done by whom (a user, the CLI, the scheduler). */
export interface EventRecord {
  id: number;
  integrationId: string | null;
  at: string;
  actor: string;
  kind: string;
  message: string;
  data: unknown;
}

export async function recordEvent(
  db: Kysely<Database>,
  input: { integrationId?: string | null; actor: string; kind: string; message: string; data?: unknown },
): Promise<void> {
  await db
    .insertInto('events')
    .values({
      integration_id: input.integrationId ?? null,
      at: nowIso(),
      actor: input.actor,
      kind: input.kind,
      message: input.message,
      data_json: input.data === undefined ? null : JSON.stringify(input.data),
    })
    .execute();
}

export async function listEvents(
  db: Kysely<Database>,
  opts: { integrationId?: string; kindPrefix?: string; limit?: number } = {},
): Promise<EventRecord[]> {
  let q = db.selectFrom('events').selectAll();
  if (opts.integrationId) q = q.where('integration_id', '=', opts.integrationId);
  if (opts.kindPrefix) q = q.where('kind', 'like', `${opts.kindPrefix}%`);
  const rows = await q
    .orderBy('id', 'desc')
    .limit(opts.limit ?? 100)
    .execute();
  return rows.map((r) => ({
    id: Number(r.id),
    integrationId: r.integration_id,
    at: r.at,
    actor: r.actor,
    kind: r.kind,
    message: r.message,
    data: r.data_json === null ? null : JSON.parse(r.data_json),
  }));
}
