import { InvalidArgumentError } from 'commander';
import type { DemoHints } from '../admin/server.ts';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { createJobsAdmin } from '../jobs/jobs.admin-plugin.ts';
import { queueServeHook } from '../jobs/runner.ts';
import { loadWorkerConfig, type WorkerConfig } from '../jobs/worker-config.ts';
import { demoEnvironment, demoIntro, demoServeHook } from '../service/demo.ts';
import { createNotifier, loadNotificationConfig, type NotificationConfig } from '../service/notifications.ts';
import {
  type JobRunner,
  loadSchedulerConfig,
  type SchedulerConfig,
  schedulerServeHook,
} from '../service/scheduler.ts';
import { type ServeHook, startService, waitForShutdownSignal } from '../service/serve.ts';
import { loadServiceConfig } from '../service/service-config.ts';
import { lazySyncFunction } from '../service/sync-runner.ts';
import { getAdminCredential } from '../store/admin.repository.ts';
import { isPostgresUrl } from '../store/db.ts';
import { registerAdminCommands } from './admin.command.ts';
import type { CliContext, RegisterCommands } from './context.ts';
import { parseMinutes, parsePort } from './options.ts';

interface ServeFlags {
  port?: number;
  host?: string;
  demo?: boolean;
  syncInterval?: number;
  /** false with --no-sync. */
  sync: boolean;
  /** external: `klarna-spiris worker` processes run the syncs from the PostgreSQL queue. */
  workers?: 'in-process' | 'external';
}

function parseWorkers(value: string): 'in-process' | 'external' {
  if (value !== 'in-process' && value !== 'external')
    throw new InvalidArgumentError('in-process or external');
  return value;
}

type DemoHook = ReturnType<typeof demoServeHook>;

/**
 * Work `serve` does around the server, chosen by flags, in start order (stopped in
 * reverse): the demo simulators first, so the scheduler finds the demo integration on
 * its first look and stops before the simulators go away. The scheduler is handed to
 * the admin too, whose "sync now" goes through it.
 */
export function serveHooks(
  flags: Pick<ServeFlags, 'sync' | 'workers'>,
  parts: {
    demo?: DemoHook;
    scheduler: SchedulerConfig;
    notifications: NotificationConfig;
    queue?: WorkerConfig;
  },
): { hooks: ServeHook[]; runner: () => JobRunner | undefined } {
  const hooks: ServeHook[] = [];
  let runner: () => JobRunner | undefined = () => undefined;
  if (parts.demo) hooks.push(parts.demo.hook);
  if (!(flags.sync && flags.workers === 'external')) {
    // Workers may run beside a UI-only (--no-sync) or an in-process serve on the same
    // PostgreSQL: their failed jobs belong in this admin too.
    const schema = parts.queue?.queueSchema;
    hooks.push(async (app) => {
      if (app.store.dialect !== 'postgres') return undefined;
      const jobsAdmin = createJobsAdmin(schema ? { schema } : {});
      return { plugins: [jobsAdmin.plugin], sections: [jobsAdmin.section] };
    });
  }
  if (flags.sync && flags.workers === 'external') {
    // The workers run the syncs; this process only enqueues "sync now" and reports.
    const queue = queueServeHook({ config: parts.queue ?? loadWorkerConfig({}) });
    hooks.push(queue.hook);
    runner = queue.current;
  } else if (flags.sync) {
    const notifications = parts.notifications;
    const scheduler = schedulerServeHook({
      config: parts.scheduler,
      sync: (app) => lazySyncFunction(app),
      onRunFinished: (app) => {
        const notifier = createNotifier({
          db: app.store.db,
          config: notifications,
          logger: app.logger.child({ component: 'notifications' }),
        });
        return notifier.channels.length > 0 ? (report) => notifier.afterRun(report) : undefined;
      },
      // A newcomer should see the demo's first sync at once, not after the usual spread.
      ...(parts.demo ? { firstRunDelayMs: 1_000, firstRunSpreadMs: 0 } : {}),
    });
    hooks.push(scheduler.hook);
    runner = scheduler.current;
  }
  return { hooks, runner };
}

/** What the admin may know of a running demo: where the simulators listen, never a key. */
export function demoHints(demo: DemoHook | undefined): () => DemoHints | undefined {
  return () => {
    const running = demo?.current();
    if (!running) return undefined;
    return {
      klarnaBaseUrl: running.klarna.url,
      spirisIdentityBaseUrl: running.spiris.identityBaseUrl,
      spirisApiBaseUrl: running.spiris.apiBaseUrl,
      spirisClientId: running.spiris.clientId,
    };
  };
}

async function serve(ctx: CliContext, flags: ServeFlags): Promise<void> {
  const demoEnv = flags.demo ? demoEnvironment(ctx.env) : undefined;
  const env = demoEnv?.env ?? ctx.env;
  // Every setting is checked before anything starts, so a typo fails fast and whole.
  const config = loadServiceConfig(env, { port: flags.port, host: flags.host });
  const scheduler = loadSchedulerConfig(env, { intervalMinutes: flags.syncInterval });
  // Queue settings matter only where a queue can exist: on PostgreSQL.
  const queue =
    flags.workers === 'external' || isPostgresUrl(env.DATABASE_URL)
      ? loadWorkerConfig(env, { intervalMinutes: flags.syncInterval })
      : undefined;
  const notifications = loadNotificationConfig(env);
  // The demo keeps its own store (see demoEnvironment); everything else shares the CLI's.
  let app: App;
  if (demoEnv) {
    app = await createApp(loadConfig(env));
  } else {
    app = await ctx.app();
  }
  try {
    const demo = flags.demo ? demoServeHook() : undefined;
    const { hooks, runner } = serveHooks(flags, {
      ...(demo ? { demo } : {}),
      scheduler,
      notifications,
      ...(queue ? { queue } : {}),
    });
    const service = await startService(app, config, {
      hooks,
      runner,
      ...(demo ? { demo: demoHints(demo) } : {}),
    });
    ctx.stdout.write(`klarna-spiris is running at ${service.url} (Ctrl+C to stop)\n`);
    const running = demo?.current();
    if (running) {
      ctx.stdout.write(
        demoIntro(running, {
          url: service.url,
          passwordFromEnv: config.adminPassword !== undefined,
          hasAdmin: !!(await getAdminCredential(app.store.db)),
          dataDir: app.config.dataDir,
          ...(flags.sync ? { syncIntervalMinutes: scheduler.intervalMinutes } : {}),
          notes: demoEnv?.notes ?? [],
        }),
      );
    }
    const signal = await waitForShutdownSignal();
    app.logger.info({ signal }, 'shutting down');
    // The server closes here; the CLI closes its own app (store) after this action returns.
    await service.close();
  } finally {
    if (demoEnv) await app.close();
  }
}

export const registerServeCommands: RegisterCommands = (program, ctx) => {
  program
    .command('serve')
    .description('Run the admin UI, the HTTP API (/api/v1), /healthz and /metrics')
    .option('--port <port>', 'port to listen on (env KLARNA_SPIRIS_PORT, default 8080)', parsePort)
    .option('--host <host>', 'interface to bind (env KLARNA_SPIRIS_HOST, default localhost)')
    .option(
      '--sync-interval <minutes>',
      'minutes between syncs of each integration (env KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES, default 60)',
      parseMinutes,
    )
    .option('--no-sync', 'serve the admin UI only; run no syncs (e.g. a second instance)')
    .option(
      '--workers <mode>',
      'in-process: this process runs the syncs (default); external: `klarna-spiris worker` processes run them from the PostgreSQL queue, and "sync now" enqueues',
      parseWorkers,
    )
    .option(
      '--demo',
      'try everything against built-in Klarna, Spiris and Riksbank simulators (data in ./data/demo)',
    )
    .addHelpText(
      'after',
      '\nEnvironment:\n' +
        '  KLARNA_SPIRIS_ADMIN_PASSWORD   sets the admin password at start (otherwise chosen on the first visit)\n' +
        '  KLARNA_SPIRIS_COOKIE_SECURE    auto|always|never: Secure session cookies (auto: when the request is https)\n' +
        '  KLARNA_SPIRIS_TRUST_PROXY      false|true|<hops>|<addresses>: trust X-Forwarded-* from a reverse proxy\n' +
        '  KLARNA_SPIRIS_SESSION_HOURS    idle time before an admin session ends (default 12)\n' +
        '  KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES  minutes between syncs of each test/live integration (default 60)\n' +
        '  KLARNA_SPIRIS_SYNC_CONCURRENCY       syncs running at once over all integrations (default 2)\n' +
        '  KLARNA_SPIRIS_SYNC_DRAIN_SECONDS     on shutdown, wait this long for running syncs before aborting (default 30)\n' +
        '\nNotifications (payouts needing attention, a sync failing repeatedly; the same for every integration):\n' +
        '  KLARNA_SPIRIS_WEBHOOK_URL            POST JSON here, signed with KLARNA_SPIRIS_WEBHOOK_SECRET\n' +
        '                                       (header X-KlarnaSpiris-Signature: t=<unix>,v1=<hex HMAC-SHA256 of "t.body">)\n' +
        '  KLARNA_SPIRIS_SMTP_URL               smtp://user:pass@host:587 (or smtps://) to send e-mail\n' +
        '  KLARNA_SPIRIS_NOTIFY_EMAIL_TO        recipients, comma-separated; KLARNA_SPIRIS_NOTIFY_EMAIL_FROM the sender\n' +
        '  KLARNA_SPIRIS_NOTIFY_AFTER_FAILURES  failed syncs in a row before telling (default 3)\n',
    )
    .action(async (flags: ServeFlags) => serve(ctx, flags));
  registerAdminCommands(program, ctx);
};
