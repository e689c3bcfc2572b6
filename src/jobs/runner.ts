import type { App } from '../app.ts';
import type { RateBudget } from '../http/rate-budget.ts';
import type { KlarnaEnvironment } from '../klarna/key.ts';
import { KLARNA_BUDGET_LIMITS } from '../klarna/klarna.client.ts';
import type { RunReport } from '../service/scheduler.ts';
import type { ServeHook } from '../service/serve.ts';
import { SPIRIS_BUDGET } from '../spiris/spiris.connection.ts';
import type { Store } from '../store/db.ts';
import type { SyncDeps } from '../sync/sync-context.ts';
import { createJobsAdmin } from './jobs.admin-plugin.ts';
import { PgRateBudget } from './pg-rate-budget.ts';
import { QueueRunner, type QueueRunnerOptions } from './queue-runner.ts';
import type { WorkerConfig } from './worker-config.ts';

// The job-runner port lives with the in-process scheduler (src/service/scheduler.ts);
// both runners implement it:
//   InProcessScheduler  timers in the serve process; the embedded SQLite default.
//   QueueRunner         pg-boss on PostgreSQL; any number of `klarna-spiris worker`
//                       processes share the work, and `serve --workers external` only
//                       enqueues.
export {
  InProcessScheduler,
  type JobRunner,
  type RunnerStatus,
  SchedulerStoppedError,
  SyncAlreadyRunningError,
  type SyncSummary,
} from '../service/scheduler.ts';
export { QueueRunner, type QueueRunnerOptions } from './queue-runner.ts';

export interface SharedRateBudgets {
  /** Spiris: 600 requests a minute per endpoint per API client, over all workers. */
  spiris: RateBudget;
  /** Klarna: per merchant id, with the limits of the key's environment. */
  klarna: (environment: KlarnaEnvironment) => RateBudget;
}

/** The upstreams' budgets kept in PostgreSQL, so adding workers never adds 429s. */
export function sharedRateBudgets(store: Pick<Store, 'db' | 'dialect'>): SharedRateBudgets {
  const spiris = new PgRateBudget(store, { ...SPIRIS_BUDGET, namespace: 'spiris' });
  const klarna = {
    production: new PgRateBudget(store, { ...KLARNA_BUDGET_LIMITS.production, namespace: 'klarna' }),
    playground: new PgRateBudget(store, {
      ...KLARNA_BUDGET_LIMITS.playground,
      namespace: 'klarna-playground',
    }),
  };
  return { spiris, klarna: (env) => klarna[env] };
}

/** The engine's dependencies in a worker: the app's store and sealer, and the shared budgets when on. */
export function workerSyncDeps(app: App, opts: { sharedRateBudgets: boolean; actor?: string }): SyncDeps {
  const budgets = opts.sharedRateBudgets ? sharedRateBudgets(app.store) : undefined;
  return {
    store: app.store,
    sealer: app.sealer,
    logger: app.logger.child({ component: 'sync' }),
    actor: opts.actor ?? 'worker',
    ...(budgets
      ? { spirisOptions: { rateBudget: budgets.spiris }, klarnaOptions: { rateBudget: budgets.klarna } }
      : {}),
  };
}

/** A QueueRunner for a worker process, from its configuration. */
export function workerRunner(
  app: App,
  config: WorkerConfig,
  extra: Partial<QueueRunnerOptions> & { onRunFinished?: (report: RunReport) => Promise<void> } = {},
): QueueRunner {
  if (!app.config.databaseUrl || app.store.dialect !== 'postgres') {
    throw new Error('workers share their work through PostgreSQL: set DATABASE_URL=postgres://…');
  }
  return new QueueRunner({
    connectionString: app.config.databaseUrl,
    deps: workerSyncDeps(app, { sharedRateBudgets: config.sharedRateBudgets }),
    logger: app.logger.child({ component: 'worker' }),
    schema: config.queueSchema,
    intervalMinutes: config.intervalMinutes,
    syncConcurrency: config.syncConcurrency,
    postConcurrency: config.postConcurrency,
    policies: {
      sync: { expireInSeconds: config.syncExpireSeconds },
      post: { expireInSeconds: config.postExpireSeconds },
    },
    ...extra,
  });
}

/**
 * `serve --workers external`: the serve process runs no job itself. Its runner enqueues
 * "sync now" as a job for the workers and reports the queue's state; the UI and the API
 * work as with the in-process scheduler. Same shape as `schedulerServeHook`.
 */
export function queueServeHook(options: { config: WorkerConfig }): {
  hook: ServeHook;
  current(): QueueRunner | undefined;
} {
  let runner: QueueRunner | undefined;
  return {
    hook: async (app) => {
      if (!app.config.databaseUrl || app.store.dialect !== 'postgres') {
        throw new Error(
          '--workers external needs PostgreSQL (DATABASE_URL=postgres://…): the workers take their jobs from it',
        );
      }
      const r = new QueueRunner({
        connectionString: app.config.databaseUrl,
        deps: { store: app.store, sealer: app.sealer, logger: app.logger, actor: 'admin' },
        logger: app.logger.child({ component: 'queue' }),
        work: false,
        schema: options.config.queueSchema,
        intervalMinutes: options.config.intervalMinutes,
        policies: {
          sync: { expireInSeconds: options.config.syncExpireSeconds },
          post: { expireInSeconds: options.config.postExpireSeconds },
        },
      });
      await r.start();
      runner = r;
      app.logger.info(
        { schema: options.config.queueSchema },
        'syncs run on external workers; this process enqueues',
      );
      // The admin shows the queue's failed jobs only where there is a queue to look at.
      const jobsAdmin = createJobsAdmin({ schema: options.config.queueSchema });
      return {
        plugins: [jobsAdmin.plugin],
        sections: [jobsAdmin.section],
        beginShutdown: () => r.stopScheduling(),
        stop: () => r.stop({ drainMs: 0 }),
      };
    },
    current: () => runner,
  };
}
