import type { Kysely } from 'kysely';
import { newId, nowIso } from './ids.ts';
import type { Database } from './schema.ts';

export interface SyncRun {
  id: string;
  integrationId: string | null;
  kind: string;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  summary: unknown;
  error: string | null;
}

export async function startSyncRun(
  db: Kysely<Database>,
  input: { integrationId: string | null; kind: string },
): Promise<string> {
  const id = newId();
  await db
    .insertInto('sync_runs')
    .values({
      id,
      integration_id: input.integrationId,
      kind: input.kind,
      status: 'running',
      started_at: nowIso(),
      finished_at: null,
      summary_json: null,
      error: null,
    })
    .execute();
  return id;
}

export async function finishSyncRun(
  db: Kysely<Database>,
  id: string,
  outcome: { status: 'succeeded' | 'failed'; summary?: unknown; error?: string },
): Promise<void> {
  await db
    .updateTable('sync_runs')
    .set({
      status: outcome.status,
      finished_at: nowIso(),
      summary_json: outcome.summary === undefined ? null : JSON.stringify(outcome.summary),
      error: outcome.error ?? null,
    })
    .where('id', '=', id)
    .execute();
}

export async function listSyncRuns(
  db: Kysely<Database>,
  opts: { integrationId?: string; limit?: number } = {},
): Promise<SyncRun[]> {
  let q = db.selectFrom('sync_runs').selectAll();
  if (opts.integrationId) q = q.where('integration_id', '=', opts.integrationId);
  const rows = await q
    .orderBy('started_at', 'desc')
    .limit(opts.limit ?? 50)
    .execute();
  return rows.map((r) => ({
    id: r.id,
    integrationId: r.integration_id,
    kind: r.kind,
    status: r.status,
    startedAt: r.started_at,
    finishedAt: r.finished_at,
    summary: r.summary_json === null ? null : JSON.parse(r.summary_json),
    error: r.error,
  }));
}
