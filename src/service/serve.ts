import type { AddressInfo } from 'node:net';
import type { FastifyInstance } from 'fastify';
import { checkNewPassword, hashPassword, verifyPassword } from '../admin/auth/password.ts';
import type { AdminPlugin, AdminServerOptions, DemoHints, IntegrationSection } from '../admin/server.ts';
import { buildServer } from '../admin/server.ts';
import type { App } from '../app.ts';
import { getAdminCredential, setAdminPassword } from '../store/admin.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { enableProcessMetrics } from './metrics.ts';
import type { JobRunner } from './scheduler.ts';
import type { ServiceConfig } from './service-config.ts';

/**
 * Work that runs before the server listens and stops after it closes: `--demo` starts
 * the simulators here, a scheduler would start its runner here. What it returns is
 * mounted on the admin server.
 */
export type ServeHook = (app: App) => Promise<ServeHookResult | undefined>;

export interface ServeHookResult {
  plugins?: AdminPlugin[];
  sections?: IntegrationSection[];
  /**
   * Called as soon as shutdown begins, before the server stops taking requests: stop
   * starting new work (a scheduler stops scheduling here and drains in `stop`).
   */
  beginShutdown?: () => void;
  /** Called after the server has closed, in reverse start order. */
  stop?: () => Promise<void>;
}

export interface RunningService {
  readonly url: string;
  readonly server: FastifyInstance;
  /** Stops accepting requests, lets in-flight ones finish, then stops the hooks. Leaves the app open. */
  close(): Promise<void>;
}

// In-flight requests get this long to finish on shutdown before their sockets are cut.
const CLOSE_GRACE_MS = 10_000;

/**
 * KLARNA_SPIRIS_ADMIN_PASSWORD, when set, is the admin password: it is stored at start
 * when there is none or when it differs, so setting it also recovers a lost password.
 */
export async function applyAdminPasswordFromEnv(
  app: App,
  config: ServiceConfig,
): Promise<'unchanged' | 'set'> {
  const wanted = config.adminPassword;
  if (!wanted) return 'unchanged';
  const problem = checkNewPassword(wanted.reveal());
  if (problem) throw new Error(`KLARNA_SPIRIS_ADMIN_PASSWORD is not usable: ${problem.replace('_', ' ')}`);
  const db = app.store.db;
  const current = await getAdminCredential(db);
  if (current && (await verifyPassword(wanted.reveal(), current.passwordHash))) return 'unchanged';
  await setAdminPassword(db, await hashPassword(wanted.reveal()));
  await recordEvent(db, {
    actor: 'environment',
    kind: 'admin.password_set',
    message: 'Admin password set from KLARNA_SPIRIS_ADMIN_PASSWORD',
  });
  app.logger.info('admin password set from KLARNA_SPIRIS_ADMIN_PASSWORD');
  return 'set';
}

function displayUrl(host: string, address: AddressInfo | string | null): string {
  if (!address || typeof address === 'string') return `http://${host}`;
  const h = host.includes(':') && !host.startsWith('[') ? `[${host}]` : host;
  return `http://${h}:${address.port}`;
}

export async function startService(
  app: App,
  config: ServiceConfig,
  extras: {
    hooks?: readonly ServeHook[];
    plugins?: readonly AdminPlugin[];
    adminOptions?: Partial<AdminServerOptions>;
    /** The scheduler a hook started, for "sync now" and run status in the admin. */
    runner?: () => JobRunner | undefined;
    /** Simulator addresses while the demo runs, to prefill the setup forms. */
    demo?: () => DemoHints | undefined;
  } = {},
): Promise<RunningService> {
  enableProcessMetrics();
  await applyAdminPasswordFromEnv(app, config);

  const stops: (() => Promise<void>)[] = [];
  const beginShutdowns: (() => void)[] = [];
  const plugins: AdminPlugin[] = [...(extras.plugins ?? [])];
  const sections: IntegrationSection[] = [];
  const stopHooks = async () => {
    for (const stop of stops.reverse()) {
      try {
        await stop();
      } catch (err) {
        app.logger.error({ err }, 'serve hook failed to stop');
      }
    }
  };

  let server: FastifyInstance;
  try {
    for (const hook of extras.hooks ?? []) {
      const result = await hook(app);
      if (result?.stop) stops.push(result.stop);
      if (result?.beginShutdown) beginShutdowns.push(result.beginShutdown);
      plugins.push(...(result?.plugins ?? []));
      sections.push(...(result?.sections ?? []));
    }
    server = await buildServer({
      app,
      plugins,
      sections,
      ...(extras.runner ? { runner: extras.runner } : {}),
      ...(extras.demo ? { demo: extras.demo } : {}),
      options: {
        cookieSecure: config.cookieSecure,
        trustProxy: config.trustProxy,
        sessionTtlMs: config.sessionTtlMs,
        passwordFromEnv: config.adminPassword !== undefined,
        ...extras.adminOptions,
      },
    });
    await server.listen({ port: config.port, host: config.host });
  } catch (err) {
    await stopHooks();
    throw err;
  }

  const url = displayUrl(config.host, server.server.address());
  app.logger.info({ url }, 'admin server listening');
  if (!(await getAdminCredential(app.store.db))) {
    app.logger.warn(
      { url: `${url}/setup` },
      'no admin password yet: the first visitor to /setup chooses it (or set KLARNA_SPIRIS_ADMIN_PASSWORD)',
    );
  }

  let closing: Promise<void> | undefined;
  return {
    url,
    server,
    close() {
      closing ??= (async () => {
        for (const begin of beginShutdowns) {
          try {
            begin();
          } catch (err) {
            app.logger.error({ err }, 'serve hook failed to begin shutdown');
          }
        }
        const force = setTimeout(() => server.server.closeAllConnections(), CLOSE_GRACE_MS);
        force.unref();
        try {
          await server.close();
        } finally {
          clearTimeout(force);
          await stopHooks();
        }
      })();
      return closing;
    },
  };
}

/** Resolves on the first SIGTERM or SIGINT; a second one while shutting down exits at once. */
export function waitForShutdownSignal(
  onForce: () => void = () => process.exit(130),
  signals: readonly NodeJS.Signals[] = ['SIGTERM', 'SIGINT'],
): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const first = (signal: NodeJS.Signals) => {
      for (const s of signals) {
        process.off(s, first);
        process.once(s, onForce);
      }
      resolve(signal);
    };
    for (const s of signals) process.once(s, first);
  });
}
