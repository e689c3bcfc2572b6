import { InvalidArgumentError } from 'commander';
import { workerRunner } from '../jobs/runner.ts';
import { loadWorkerConfig, WORKER_ENV_HELP } from '../jobs/worker-config.ts';
import { startWorkerMetrics } from '../jobs/worker-metrics.ts';
import { createNotifier, loadNotificationConfig } from '../service/notifications.ts';
import { waitForShutdownSignal } from '../service/serve.ts';
import { isPostgresUrl } from '../store/db.ts';
import { type CliContext, CliError, type RegisterCommands } from './context.ts';
import { parseMinutes, parsePort } from './options.ts';

interface WorkerFlags {
  syncConcurrency?: number;
  postConcurrency?: number;
  syncInterval?: number;
  metricsPort?: number;
}

function parseCount(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1 || n > 64) throw new InvalidArgumentError('a whole number 1–64');
  return n;
}

async function runWorker(ctx: CliContext, flags: WorkerFlags): Promise<void> {
  if (!isPostgresUrl(ctx.env.DATABASE_URL)) {
    throw new CliError(
      'Workers share their jobs through PostgreSQL: set DATABASE_URL=postgres://… (the same for every worker and for serve). ' +
        'With the embedded SQLite store, `klarna-spiris serve` runs the syncs itself.',
      2,
    );
  }
  // Every setting is checked before anything connects, so a typo fails fast and whole.
  const config = loadWorkerConfig(ctx.env, {
    intervalMinutes: flags.syncInterval,
    syncConcurrency: flags.syncConcurrency,
    postConcurrency: flags.postConcurrency,
    metricsPort: flags.metricsPort,
  });
  const notifications = loadNotificationConfig(ctx.env);
  const app = await ctx.app();
  const notifier = createNotifier({
    db: app.store.db,
    config: notifications,
    logger: app.logger.child({ component: 'notifications' }),
  });
  const runner = workerRunner(app, config, {
    ...(notifier.channels.length > 0 ? { onRunFinished: (report) => notifier.afterRun(report) } : {}),
  });
  await runner.start();
  const metrics =
    config.metricsPort !== undefined
      ? await startWorkerMetrics({ port: config.metricsPort, host: config.metricsHost }, () =>
          runner.status(),
        )
      : undefined;
  app.logger.info(
    {
      syncConcurrency: config.syncConcurrency,
      postConcurrency: config.postConcurrency,
      intervalMinutes: config.intervalMinutes,
      sharedRateBudgets: config.sharedRateBudgets,
      ...(metrics ? { metrics: `${metrics.url}/metrics` } : {}),
    },
    'worker started',
  );
  ctx.stdout.write(`klarna-spiris worker is running on ${app.store.location} (SIGTERM or Ctrl+C to stop)\n`);
  const signal = await waitForShutdownSignal();
  app.logger.info(
    { signal, drainMs: config.drainMs },
    'worker stopping: no new jobs, finishing running ones',
  );
  await runner.stop({ drainMs: config.drainMs });
  await metrics?.close();
  app.logger.info('worker stopped');
}

export const registerWorkerCommands: RegisterCommands = (program, ctx) => {
  program
    .command('worker')
    .description(
      'Run syncs from the job queue in PostgreSQL; start any number, on any machines, with the same DATABASE_URL',
    )
    .option(
      '--sync-concurrency <n>',
      'sync jobs at once (env KLARNA_SPIRIS_WORKER_SYNC_CONCURRENCY, default 2)',
      parseCount,
    )
    .option(
      '--post-concurrency <n>',
      'post jobs at once (env KLARNA_SPIRIS_WORKER_POST_CONCURRENCY, default 4)',
      parseCount,
    )
    .option(
      '--sync-interval <minutes>',
      'minutes between syncs of each integration (env KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES, default 60)',
      parseMinutes,
    )
    .option(
      '--metrics-port <port>',
      'serve /metrics and /healthz of this worker (env KLARNA_SPIRIS_WORKER_METRICS_PORT)',
      parsePort,
    )
    .addHelpText('after', WORKER_ENV_HELP)
    .action(async (flags: WorkerFlags) => runWorker(ctx, flags));
};
