import { type Kysely, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { DEFAULT_QUEUE_SCHEMA, queueInstalled, queueSchema } from './queue.repository.ts';
import { QUEUE_KEYS, QUEUES, type QueueKey, queueKeyOf } from './queues.ts';

/** A job that used up its retries, with the reason of its last failure. */
export interface FailedJob {
  id: string;
  queue: QueueKey;
  integrationId: string | null;
  integrationName: string | null;
  payoutId: string | null;
  paymentReference: string | null;
  /** Runs, the first included. */
  attempts: number;
  createdAt: string;
  failedAt: string | null;
  /** The last error's message, or why pg-boss gave up (e.g. the job expired while active). */
  error: string;
  /** False once pg-boss has moved it to its archive (kept there 7 days by default). */
  live: boolean;
}

export interface ListFailedJobsOptions {
  limit?: number;
  integrationId?: string;
  queue?: QueueKey;
  schema?: string;
}

/**
 * Jobs that failed for good, newest first, from pg-boss's job table and its archive.
 * Empty on SQLite and on a PostgreSQL database where no worker has started yet: there is
 * no queue there, so nothing can have failed in it.
 */
export async function listFailedJobs(
  store: { db: Kysely<Database>; dialect: string },
  opts: ListFailedJobsOptions = {},
): Promise<FailedJob[]> {
  if (store.dialect !== 'postgres') return [];
  const schemaName = opts.schema ?? DEFAULT_QUEUE_SCHEMA;
  if (!(await queueInstalled(store.db, schemaName))) return [];
  const schema = queueSchema(schemaName);
  const names = opts.queue ? [QUEUES[opts.queue]] : QUEUE_KEYS.map((k) => QUEUES[k]);
  const limit = Math.max(1, Math.min(opts.limit ?? 50, 500));
  const byIntegration = opts.integrationId ? sql`and data->>'integrationId' = ${opts.integrationId}` : sql``;
  const { rows } = await sql<{
    id: string;
    name: string;
    data: Record<string, unknown> | null;
    retry_count: number;
    output: unknown;
    created_on: Date;
    completed_on: Date | null;
    live: boolean;
    integration_name: string | null;
  }>`
    select f.*, i.name as integration_name
    from (
      select id, name, data, retry_count, output, created_on, completed_on, true as live
      from ${schema}.job
      where name = any(${names}) and state = 'failed' ${byIntegration}
      union all
      select id, name, data, retry_count, output, created_on, completed_on, false as live
      from ${schema}.archive
      where name = any(${names}) and state = 'failed' ${byIntegration}
    ) f
    left join integrations i on i.id = f.data->>'integrationId'
    order by f.completed_on desc nulls last, f.created_on desc
    limit ${limit}`.execute(store.db);
  return rows.map((r) => {
    const data = r.data ?? {};
    const text = (k: string) => (typeof data[k] === 'string' ? (data[k] as string) : null);
    return {
      id: r.id,
      queue: queueKeyOf(r.name) ?? 'sync',
      integrationId: text('integrationId'),
      integrationName: r.integration_name,
      payoutId: text('payoutId'),
      paymentReference: text('paymentReference'),
      attempts: Number(r.retry_count) + 1,
      createdAt: new Date(r.created_on).toISOString(),
      failedAt: r.completed_on ? new Date(r.completed_on).toISOString() : null,
      error: failureMessage(r.output),
      live: r.live,
    };
  });
}

/**
 * pg-boss stores a thrown Error serialized ({ name, message, stack }), its own reasons
 * as { value: { message } } and other values as { value }; the message is all a person
 * needs, the stack stays in the worker's log.
 */
export function failureMessage(output: unknown): string {
  if (output && typeof output === 'object') {
    const o = output as { message?: unknown; name?: unknown; value?: unknown };
    if (typeof o.message === 'string') {
      return typeof o.name === 'string' && o.name !== 'Error' ? `${o.name}: ${o.message}` : o.message;
    }
    if (o.value !== undefined) return failureMessage(o.value);
  }
  if (typeof output === 'string' && output) return output;
  return 'failed without a reason';
}
