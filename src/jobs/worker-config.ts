import { z } from 'zod';
import { parseEnv } from '../config.ts';
import { DEFAULT_DRAIN_MS, DEFAULT_INTERVAL_MINUTES } from '../service/scheduler.ts';
import { DEFAULT_QUEUE_POLICIES } from './queues.ts';

const flag = z
  .enum(['true', 'false', '1', '0', 'yes', 'no', 'on', 'off'])
  .transform((v) => ['true', '1', 'yes', 'on'].includes(v));

const WorkerEnvSchema = z.object({
  KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES: z.coerce
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(DEFAULT_INTERVAL_MINUTES),
  KLARNA_SPIRIS_SYNC_DRAIN_SECONDS: z.coerce
    .number()
    .min(0)
    .max(3600)
    .default(DEFAULT_DRAIN_MS / 1000),
  KLARNA_SPIRIS_WORKER_SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(2),
  KLARNA_SPIRIS_WORKER_POST_CONCURRENCY: z.coerce.number().int().min(1).max(64).default(4),
  KLARNA_SPIRIS_SHARED_RATE_BUDGETS: flag.default(true),
  KLARNA_SPIRIS_QUEUE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,49}$/, 'a lower-case SQL name')
    .default('pgboss'),
  KLARNA_SPIRIS_SYNC_JOB_EXPIRE_MINUTES: z.coerce
    .number()
    .int()
    .min(1)
    .max(23 * 60)
    .default(DEFAULT_QUEUE_POLICIES.sync.expireInSeconds / 60),
  KLARNA_SPIRIS_WORKER_METRICS_PORT: z.coerce.number().int().min(0).max(65535).optional(),
  KLARNA_SPIRIS_WORKER_METRICS_HOST: z.string().min(1).default('127.0.0.1'),
  KLARNA_SPIRIS_POST_JOB_EXPIRE_SECONDS: z.coerce
    .number()
    .int()
    .min(10)
    .max(3600)
    .default(DEFAULT_QUEUE_POLICIES.post.expireInSeconds),
});

export interface WorkerConfig {
  readonly intervalMinutes: number;
  readonly drainMs: number;
  readonly syncConcurrency: number;
  readonly postConcurrency: number;
  /** Rate budgets in PostgreSQL, shared by all workers (off: each process keeps its own). */
  readonly sharedRateBudgets: boolean;
  readonly queueSchema: string;
  readonly syncExpireSeconds: number;
  readonly postExpireSeconds: number;
  /** Serve /metrics and /healthz on this port; none when undefined. */
  readonly metricsPort: number | undefined;
  readonly metricsHost: string;
}

/** The worker's settings from the environment; flags win over variables. Every problem is reported at once. */
export function loadWorkerConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: {
    intervalMinutes?: number;
    syncConcurrency?: number;
    postConcurrency?: number;
    metricsPort?: number;
  } = {},
): WorkerConfig {
  const e = parseEnv(WorkerEnvSchema, env);
  return Object.freeze({
    intervalMinutes: flags.intervalMinutes ?? e.KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES,
    drainMs: e.KLARNA_SPIRIS_SYNC_DRAIN_SECONDS * 1000,
    syncConcurrency: flags.syncConcurrency ?? e.KLARNA_SPIRIS_WORKER_SYNC_CONCURRENCY,
    postConcurrency: flags.postConcurrency ?? e.KLARNA_SPIRIS_WORKER_POST_CONCURRENCY,
    sharedRateBudgets: e.KLARNA_SPIRIS_SHARED_RATE_BUDGETS,
    queueSchema: e.KLARNA_SPIRIS_QUEUE_SCHEMA,
    syncExpireSeconds: e.KLARNA_SPIRIS_SYNC_JOB_EXPIRE_MINUTES * 60,
    postExpireSeconds: e.KLARNA_SPIRIS_POST_JOB_EXPIRE_SECONDS,
    metricsPort: flags.metricsPort ?? e.KLARNA_SPIRIS_WORKER_METRICS_PORT,
    metricsHost: e.KLARNA_SPIRIS_WORKER_METRICS_HOST,
  });
}

export const WORKER_ENV_HELP =
  '\nEnvironment (besides DATABASE_URL=postgres://…, which workers need):\n' +
  '  KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES    minutes between syncs of each test/live integration (default 60)\n' +
  '  KLARNA_SPIRIS_WORKER_SYNC_CONCURRENCY  sync jobs at once in this worker (default 2)\n' +
  '  KLARNA_SPIRIS_WORKER_POST_CONCURRENCY  post jobs (one payout each) at once in this worker (default 4)\n' +
  '  KLARNA_SPIRIS_SYNC_DRAIN_SECONDS       on SIGTERM, wait this long for running jobs before aborting (default 30)\n' +
  '  KLARNA_SPIRIS_SHARED_RATE_BUDGETS      true|false: Klarna and Spiris rate budgets shared by all workers (default true)\n' +
  '  KLARNA_SPIRIS_SYNC_JOB_EXPIRE_MINUTES  a sync job running longer is retried elsewhere; also how long a\n' +
  "                                         killed worker's sync waits to be taken over (default 30)\n" +
  '  KLARNA_SPIRIS_POST_JOB_EXPIRE_SECONDS  the same for a post job (default 300)\n' +
  '  KLARNA_SPIRIS_QUEUE_SCHEMA             PostgreSQL schema of the job queue (default pgboss)\n' +
  '  KLARNA_SPIRIS_WORKER_METRICS_PORT      serve /metrics and /healthz of this worker on this port (default: none)\n' +
  '  KLARNA_SPIRIS_WORKER_METRICS_HOST      interface for them (default 127.0.0.1)\n';
