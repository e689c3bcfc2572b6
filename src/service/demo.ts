import type { App } from '../app.ts';
import { validateKlarnaCredentials } from '../klarna/key.ts';
import { klarnaConnectionConfig } from '../klarna/klarna.connection.ts';
import { setIntegrationMode } from '../setup/go-live.ts';
import { Secret } from '../setup/secret.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from '../simulators/klarna/index.ts';
import { type RiksbankSimulator, startRiksbankSimulator } from '../simulators/riksbank/riksbank.simulator.ts';
import { type SpirisSimulator, startSpirisSimulator } from '../simulators/spiris/index.ts';
import { connectSpiris } from '../spiris/connect.service.ts';
import { DEFAULT_SPIRIS_SCOPES, resolveSpirisEndpoints } from '../spiris/oauth.ts';
import {
  createConnection,
  getConnection,
  readConnectionSecret,
  updateConnection,
} from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { createIntegration, findIntegration, updateIntegration } from '../store/integrations.repository.ts';
import { parseIntegrationSettings } from '../sync/integration-settings.ts';
import type { ServeHook } from './serve.ts';

// `serve --demo`: the whole product against the Klarna, Spiris and Riksbank simulators,
// in this process, with no account anywhere. The demo integration is created once and
// pointed at the fresh simulators on every start (their ports and tokens change; the
// Klarna key does not, it follows from the merchant seed).

export const DEMO_INTEGRATION_NAME = 'Demo (simulators)';
/** Where demo data lives unless KLARNA_SPIRIS_DATA_DIR says otherwise: never beside real books. */
export const DEMO_DATA_DIR = './data/demo';
export const DEMO_DAYS = 60;
const DEMO_MERCHANT_SEED = 7;
const ACTOR = 'demo';

/**
 * The environment `serve --demo` runs with: its own data folder, and always the
 * embedded SQLite store there, so a DATABASE_URL meant for real books is never written
 * to. `notes` says what was changed, for printing.
 */
export function demoEnvironment(env: NodeJS.ProcessEnv): { env: NodeJS.ProcessEnv; notes: string[] } {
  const notes: string[] = [];
  const out: NodeJS.ProcessEnv = { ...env };
  if (!env.KLARNA_SPIRIS_DATA_DIR) out.KLARNA_SPIRIS_DATA_DIR = DEMO_DATA_DIR;
  if (env.DATABASE_URL) {
    delete out.DATABASE_URL;
    notes.push(
      `DATABASE_URL is ignored in demo mode; demo data goes to SQLite under ${out.KLARNA_SPIRIS_DATA_DIR}.`,
    );
  }
  return { env: out, notes };
}

export interface DemoOptions {
  /** "Today" for the simulated data; default the real clock. */
  now?: () => Date;
  /** Payout days, ending yesterday; default 60. */
  days?: number;
}

export interface RunningDemo {
  readonly integrationId: string;
  readonly klarna: KlarnaSimulator;
  readonly spiris: SpirisSimulator;
  readonly riksbank: RiksbankSimulator;
  readonly merchantId: string;
  readonly firstPayoutDate: string;
  readonly lastPayoutDate: string;
  readonly payoutCount: number;
  /** True when this start created the integration; false when an earlier one did. */
  readonly created: boolean;
  stop(): Promise<void>;
}

const isoDay = (d: Date): string => d.toISOString().slice(0, 10);
const addDays = (day: string, n: number): string =>
  isoDay(new Date(Date.parse(`${day}T00:00:00Z`) + n * 86_400_000));

/** Starts the three simulators and creates or re-points the demo integration at them. */
export async function startDemo(app: App, options: DemoOptions = {}): Promise<RunningDemo> {
  const today = isoDay((options.now ?? (() => new Date()))());
  const days = options.days ?? DEMO_DAYS;
  const lastPayoutDate = addDays(today, -1);
  const firstPayoutDate = addDays(lastPayoutDate, -(days - 1));

  const started = await Promise.allSettled([
    startKlarnaSimulator({
      environment: 'playground',
      merchants: [{ seed: DEMO_MERCHANT_SEED, currencies: ['SEK'], startDate: firstPayoutDate, days }],
    }),
    startSpirisSimulator({ today }),
    startRiksbankSimulator(),
  ]);
  const closeAll = () =>
    Promise.allSettled(started.map((s) => (s.status === 'fulfilled' ? s.value.close() : undefined)));
  const failed = started.find((s) => s.status === 'rejected');
  if (failed) {
    await closeAll();
    throw (failed as PromiseRejectedResult).reason;
  }
  const [klarna, spiris, riksbank] = started.map((s) => (s as PromiseFulfilledResult<unknown>).value) as [
    KlarnaSimulator,
    SpirisSimulator,
    RiksbankSimulator,
  ];

  try {
    const merchant = klarna.merchants[0]!;
    const { integrationId, created } = await pointIntegrationAt(app, {
      klarna,
      spiris,
      riksbank,
      catchUpSince: firstPayoutDate,
    });
    app.logger.info(
      {
        integrationId,
        klarna: klarna.url,
        spiris: spiris.url,
        riksbank: riksbank.url,
        merchantId: merchant.merchantId,
        payouts: merchant.payouts.length,
      },
      'demo simulators started',
    );
    let stopping: Promise<void> | undefined;
    return {
      integrationId,
      klarna,
      spiris,
      riksbank,
      merchantId: merchant.merchantId,
      firstPayoutDate,
      lastPayoutDate,
      payoutCount: merchant.payouts.length,
      created,
      stop() {
        stopping ??= closeAll().then(() => undefined);
        return stopping;
      },
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

async function pointIntegrationAt(
  app: App,
  sims: {
    klarna: KlarnaSimulator;
    spiris: SpirisSimulator;
    riksbank: RiksbankSimulator;
    catchUpSince: string;
  },
): Promise<{ integrationId: string; created: boolean }> {
  const { db } = app.store;
  const existing = await findIntegration(db, DEMO_INTEGRATION_NAME);
  const integration = existing ?? (await createIntegration(db, { name: DEMO_INTEGRATION_NAME }));
  if (existing) await forgetDemoBooks(app, existing.id);

  // Klarna: the simulator's key is the same on every start; only its address moves.
  const merchant = sims.klarna.merchants[0]!;
  const validated = validateKlarnaCredentials({
    apiKey: new Secret(merchant.credentials.apiKey),
    username: merchant.credentials.username,
    baseUrl: sims.klarna.url,
  });
  if (!validated.ok) throw new Error(`demo Klarna credentials refused: ${validated.message}`);
  const credentials = validated.credentials;
  const config = { ...klarnaConnectionConfig(credentials) };
  const current = integration.klarnaConnectionId
    ? await getConnection(db, integration.klarnaConnectionId)
    : undefined;
  const sameKey =
    current !== undefined &&
    (await readConnectionSecret(db, app.sealer, current.id)
      .then(({ secret }) => secret.reveal() === credentials.apiKey.reveal())
      .catch(() => false));
  if (current && sameKey) {
    await updateConnection(db, current.id, {
      config,
      externalId: merchant.merchantId,
      status: 'active',
      statusReason: null,
    });
  } else {
    const connection = await createConnection(db, app.sealer, {
      kind: 'klarna',
      environment: credentials.environment,
      config,
      secret: credentials.apiKey,
      externalId: merchant.merchantId,
    });
    await updateIntegration(db, integration.id, { klarnaConnectionId: connection.id });
    if (current) {
      await updateConnection(db, current.id, {
        status: 'replaced',
        statusReason: `replaced by ${connection.id}`,
      });
    }
  }

  // Spiris: a new simulator knows none of the old tokens, so every start connects anew
  // with freshly issued credentials (the path a system owner's issued tokens take).
  const tokens = sims.spiris.issueTokens();
  await connectSpiris(
    { store: app.store, sealer: app.sealer, actor: ACTOR },
    {
      environment: 'sandbox',
      endpoints: resolveSpirisEndpoints({
        environment: 'sandbox',
        identityBaseUrl: sims.spiris.identityBaseUrl,
        apiBaseUrl: sims.spiris.apiBaseUrl,
      }),
      clientId: sims.spiris.clientId,
      clientSecret: new Secret(sims.spiris.clientSecret),
      scopes: [...DEFAULT_SPIRIS_SCOPES],
      pkce: false,
      grant: { kind: 'refresh_token', refreshToken: new Secret(tokens.refreshToken) },
      integration: integration.id,
      confirmCompanyChange: true,
      actor: ACTOR,
    },
  );

  const fresh = (await findIntegration(db, integration.id))!;
  const settings = {
    ...fresh.settings,
    catchUpSince: sims.catchUpSince,
    rateSource: { kind: 'riksbank', baseUrl: sims.riksbank.url },
  };
  parseIntegrationSettings(fresh.name, settings);
  await updateIntegration(db, integration.id, { settings });
  await setIntegrationMode(
    { db },
    {
      integrationId: integration.id,
      mode: 'test',
      actor: ACTOR,
      reason: 'demo mode runs against simulators',
    },
  );
  await recordEvent(db, {
    integrationId: integration.id,
    actor: ACTOR,
    kind: 'demo.started',
    message: `Demo ${existing ? 're-pointed at' : 'created with'} fresh simulators (Klarna ${sims.klarna.url}, Spiris ${sims.spiris.url}).`,
    data: {
      klarnaUrl: sims.klarna.url,
      spirisUrl: sims.spiris.url,
      riksbankUrl: sims.riksbank.url,
      catchUpSince: sims.catchUpSince,
    },
  });
  return { integrationId: integration.id, created: !existing };
}

/**
 * The simulated Spiris starts empty on every start, so payouts the store remembers as
 * booked would point at vouchers that no longer exist. The demo's books start over with
 * the simulators instead: its payouts (with their lines and intents) and its run history
 * go, the audit events stay. Only ever called on the demo's own store.
 */
async function forgetDemoBooks(app: App, integrationId: string): Promise<void> {
  const { db } = app.store;
  const forgotten = await db.transaction().execute(async (trx) => {
    const payouts = await trx
      .deleteFrom('klarna_payouts')
      .where('integration_id', '=', integrationId)
      .executeTakeFirst();
    await trx.deleteFrom('sync_runs').where('integration_id', '=', integrationId).execute();
    await trx.deleteFrom('sync_leases').where('integration_id', '=', integrationId).execute();
    return Number(payouts.numDeletedRows);
  });
  if (forgotten > 0) {
    await recordEvent(db, {
      integrationId,
      actor: ACTOR,
      kind: 'demo.reset',
      message: `Demo restarted: the simulated Spiris starts empty, so the ${forgotten} payouts of the last demo run are synced again from the start.`,
      data: { payouts: forgotten },
    });
  }
}

/** A serve hook running the demo; `current()` gives the running demo once the hook ran. */
export function demoServeHook(options: DemoOptions = {}): {
  hook: ServeHook;
  current(): RunningDemo | undefined;
} {
  let demo: RunningDemo | undefined;
  return {
    hook: async (app) => {
      demo = await startDemo(app, options);
      const running = demo;
      return { stop: () => running.stop() };
    },
    current: () => demo,
  };
}

/** What a newcomer reads after `npm start -- --demo`: where to click, and how to log in. */
export function demoIntro(
  demo: RunningDemo,
  info: {
    url: string;
    passwordFromEnv: boolean;
    hasAdmin: boolean;
    dataDir: string;
    /** Minutes between syncs; undefined when serve runs without the scheduler (--no-sync). */
    syncIntervalMinutes?: number;
    notes?: string[];
  },
): string {
  const login = info.passwordFromEnv
    ? 'Log in with the password in KLARNA_SPIRIS_ADMIN_PASSWORD.'
    : info.hasAdmin
      ? 'Log in with the admin password chosen earlier (or restart with KLARNA_SPIRIS_ADMIN_PASSWORD=… to set a new one).'
      : `First visit: choose the admin password at ${info.url}/setup (or start with KLARNA_SPIRIS_ADMIN_PASSWORD=…).`;
  return [
    '',
    'Demo mode: Klarna, Visma Spiris and the Riksbank are simulated in this process. No real account,',
    'no real books, no credentials needed.',
    '',
    `  1. Open ${info.url} in your browser.`,
    `  2. ${login}`,
    `  3. Open the integration "${DEMO_INTEGRATION_NAME}" (test mode): ${demo.payoutCount} simulated payouts`,
    `     (${demo.firstPayoutDate} … ${demo.lastPayoutDate}) are booked into the simulated company.`,
    info.syncIntervalMinutes === undefined
      ? '     Syncs are off (--no-sync): nothing is booked until a sync runs.'
      : `     The first sync starts within seconds (unless one ran in the last ${info.syncIntervalMinutes} minutes), then every ${info.syncIntervalMinutes} minutes.`,
    '',
    `  Klarna simulator:   ${demo.klarna.url} (merchant ${demo.merchantId})`,
    `  Spiris simulator:   ${demo.spiris.url}`,
    `  Riksbank simulator: ${demo.riksbank.url}`,
    `  Demo data:          ${info.dataDir} (the simulators forget everything on exit, so each start books the demo payouts afresh)`,
    ...(info.notes ?? []).map((n) => `  Note: ${n}`),
    '',
  ].join('\n');
}
