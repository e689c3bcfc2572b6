import { type Kysely, type RawBuilder, sql } from 'kysely';
import type { Database } from '../store/schema.ts';
import { QUEUES } from './queues.ts';

// Reads of pg-boss's tables next to our own, in one database. pg-boss 10's job table is
// `<schema>.job` (partitioned by queue name) and finished jobs move to `<schema>.archive`
// after a while; states order created < retry < active < completed < cancelled < failed.

export const DEFAULT_QUEUE_SCHEMA = 'pgboss';

/** The queue schema as an identifier; refused unless it is a plain name, since it is spliced into SQL. */
export function queueSchema(name: string): RawBuilder<unknown> {
  if (!/^[a-z_][a-z0-9_]{0,49}$/.test(name)) {
    throw new Error(`queue schema must be a lower-case SQL name (letters, digits, _), got "${name}"`);
  }
  return sql.id(name);
}

/** True once pg-boss has installed its schema in this database. */
export async function queueInstalled(db: Kysely<Database>, schema = DEFAULT_QUEUE_SCHEMA): Promise<boolean> {
  queueSchema(schema);
  const { rows } = await sql<{
    ok: string | null;
  }>`select to_regclass(${`${schema}.job`})::text as ok`.execute(db);
  return !!rows[0]?.ok;
}

/**
 * Integrations whose sync is due: test or live and not paused, no sync started within
 * the interval (by anyone: a worker, the CLI, "sync now"), and no sync job open or
 * created within the interval. The last rule makes a refused or failed sync wait an
 * interval too, as with the in-process scheduler, instead of coming back every tick.
 * Longest-waiting first. One pass over the sync queue's jobs, whatever the count of
 * integrations.
 */
export async function dueIntegrations(
  db: Kysely<Database>,
  opts: { schema?: string; intervalMs: number; now?: Date; limit?: number },
): Promise<{ id: string; name: string }[]> {
  const schema = queueSchema(opts.schema ?? DEFAULT_QUEUE_SCHEMA);
  const cutoff = new Date((opts.now ?? new Date()).getTime() - opts.intervalMs).toISOString();
  const { rows } = await sql<{ id: string; name: string }>`
    with jobs as (
      select singleton_key as integration_id,
        bool_or(state < 'completed') as open,
        max(created_on) as last_created
      from ${schema}.job
      where name = ${QUEUES.sync} and singleton_key is not null
      group by singleton_key
    )
    select i.id, i.name
    from integrations i
    left join jobs j on j.integration_id = i.id
    left join lateral (
      select max(r.started_at) as last_start from sync_runs r where r.integration_id = i.id
    ) last on true
    where i.mode in ('test', 'live')
      and i.status <> 'paused'
      and (last.last_start is null or last.last_start <= ${cutoff})
      and j.open is not true
      and (j.last_created is null or j.last_created <= ${cutoff}::timestamptz)
    order by last.last_start nulls first, i.id
    limit ${opts.limit ?? 10_000}`.execute(db);
  return rows;
}

export interface OpenSyncJob {
  id: string;
  integrationId: string;
  state: 'created' | 'retry' | 'active';
  trigger: string | null;
  startedOn: string | null;
}

/** Sync jobs waiting, retrying or running, one per integration (the newest). */
export async function openSyncJobs(
  db: Kysely<Database>,
  opts: { schema?: string; integrationId?: string } = {},
): Promise<Map<string, OpenSyncJob>> {
  const schema = queueSchema(opts.schema ?? DEFAULT_QUEUE_SCHEMA);
  const { rows } = await sql<{
    id: string;
    key: string;
    state: OpenSyncJob['state'];
    trigger: string | null;
    started_on: Date | null;
  }>`
    select id, singleton_key as key, state::text as state, data->>'trigger' as trigger, started_on
    from ${schema}.job
    where name = ${QUEUES.sync} and state < 'completed' and singleton_key is not null
      ${opts.integrationId ? sql`and singleton_key = ${opts.integrationId}` : sql``}
    order by created_on`.execute(db);
  const out = new Map<string, OpenSyncJob>();
  for (const r of rows) {
    const prev = out.get(r.key);
    // A running job says more than a waiting one about "is it running".
    if (prev?.state === 'active' && r.state !== 'active') continue;
    out.set(r.key, {
      id: r.id,
      integrationId: r.key,
      state: r.state,
      trigger: r.trigger,
      startedOn: r.started_on ? new Date(r.started_on).toISOString() : null,
    });
  }
  return out;
}

export interface RunHistory {
  lastStartedAt: string | null;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastFinishedAt: string | null;
  /** Failed runs since the last success, counted over the recent window only. */
  consecutiveFailures: number;
}

/**
 * Per integration: the last run start (any kind) and, over the last `windowDays`, the
 * last finished run and the failures since the last success. One query for all of them,
 * so a status refresh costs the same for ten integrations or ten thousand.
 */
export async function runHistories(
  db: Kysely<Database>,
  opts: { now?: Date; windowDays?: number } = {},
): Promise<Map<string, RunHistory>> {
  const since = new Date(
    (opts.now ?? new Date()).getTime() - (opts.windowDays ?? 7) * 86_400_000,
  ).toISOString();
  const { rows } = await sql<{
    integration_id: string;
    last_start: string | null;
    last_status: 'succeeded' | 'failed' | null;
    last_finished: string | null;
    failures: string | number;
  }>`
    with recent as (
      select integration_id, status, started_at, finished_at,
        row_number() over (partition by integration_id order by started_at desc) as rn,
        max(case when status = 'succeeded' then started_at end) over (partition by integration_id) as last_ok
      from sync_runs
      where started_at >= ${since} and status <> 'running' and integration_id is not null
    ),
    starts as (
      select integration_id, max(started_at) as last_start
      from sync_runs where integration_id is not null group by integration_id
    )
    select s.integration_id, s.last_start,
      l.status as last_status, l.finished_at as last_finished,
      coalesce((
        select count(*) from recent f
        where f.integration_id = s.integration_id and f.status = 'failed'
          and (f.last_ok is null or f.started_at > f.last_ok)
      ), 0) as failures
    from starts s
    left join recent l on l.integration_id = s.integration_id and l.rn = 1`.execute(db);
  const out = new Map<string, RunHistory>();
  for (const r of rows) {
    out.set(r.integration_id, {
      lastStartedAt: r.last_start,
      lastOutcome: r.last_status,
      lastFinishedAt: r.last_finished,
      consecutiveFailures: Number(r.failures),
    });
  }
  return out;
}
