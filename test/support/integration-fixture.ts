import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { UNLIMITED_BUDGET } from '../../src/http/rate-budget.ts';
import type { RetryPolicy } from '../../src/http/retry.ts';
import { requireKlarnaCredentials } from '../../src/klarna/key.ts';
import { klarnaConnectionConfig } from '../../src/klarna/klarna.connection.ts';
import { AesGcmSealer, type CredentialSealer } from '../../src/setup/credentials.ts';
import { Secret } from '../../src/setup/secret.ts';
import {
  type KlarnaSimulator,
  type MerchantSpec,
  type SimMerchant,
  startKlarnaSimulator,
} from '../../src/simulators/klarna/index.ts';
import {
  type SimulatedVoucher,
  type SpirisSimulator,
  type SpirisSimulatorOptions,
  startSpirisSimulator,
} from '../../src/simulators/spiris/index.ts';
import { resolveSpirisEndpoints } from '../../src/spiris/oauth.ts';
import { serializeCredentials } from '../../src/spiris/token-store.ts';
import { createConnection } from '../../src/store/connections.repository.ts';
import type { Store } from '../../src/store/db.ts';
import {
  createIntegration,
  getIntegration,
  type Integration,
  type IntegrationMode,
  updateIntegration,
} from '../../src/store/integrations.repository.ts';
import type { IntegrationSettingsInput } from '../../src/sync/integration-settings.ts';
import type { SyncDeps } from '../../src/sync/sync-context.ts';
import { openTestStore, type TestStore } from './test-store.ts';

// One integration wired to both simulators over real HTTP, with both connections stored
// sealed the way `connect` stores them, on a per-file test store. The clock of the sync
// is moved to TODAY (and keeps running), so fiscal years and windows are the same on
// any day the suite runs.

export const TODAY = '2026-06-15';
/** Fast retries: the behaviour of the real policy without its waiting. */
export const FAST_RETRIES: RetryPolicy = {
  maxRetries: 4,
  initialDelayMs: 1,
  maxDelayMs: 4,
  maxWaitMs: 120_000,
};

export interface FixtureOptions {
  merchant?: MerchantSpec;
  spiris?: SpirisSimulatorOptions;
  mode?: IntegrationMode;
  settings?: IntegrationSettingsInput;
  /** Instant of "now" for the sync, ISO; default TODAY at 10:00 UTC. */
  now?: string;
}

export interface IntegrationFixture {
  store: TestStore;
  klarna: KlarnaSimulator;
  spiris: SpirisSimulator;
  merchant: SimMerchant;
  secretKey: Buffer;
  sealer: AesGcmSealer;
  integrationId: string;
  /** Store, sealer, fast unlimited clients and the moved clock; `overrides` win. */
  deps(overrides?: Partial<SyncDeps>): SyncDeps;
  integration(): Promise<Integration>;
  setMode(mode: IntegrationMode): Promise<void>;
  setSettings(settings: IntegrationSettingsInput): Promise<void>;
  /** Environment for the CLI (`main(args, env)`) pointing at the same store and key. */
  cliEnv(): NodeJS.ProcessEnv;
  /** Vouchers in Spiris that belong to a payout of this merchant, by payment reference. */
  vouchersByReference(): Map<string, SimulatedVoucher[]>;
  close(): Promise<void>;
}

export async function openIntegrationFixture(options: FixtureOptions = {}): Promise<IntegrationFixture> {
  const merchantSpec: MerchantSpec = options.merchant ?? { seed: 7, days: 60, startDate: '2026-01-01' };
  const [store, klarna, spiris] = await Promise.all([
    openTestStore(),
    startKlarnaSimulator({ rateLimitPerSecond: 0, merchants: [merchantSpec] }),
    startSpirisSimulator({ today: TODAY, rateLimitPerMinute: 0, ...options.spiris }),
  ]);
  const merchant = klarna.merchants[0]!;
  const secretKey = randomBytes(32);
  const sealer = new AesGcmSealer(secretKey);
  const dataDir = mkdtempSync(join(tmpdir(), 'ks-sync-'));

  const klarnaConnection = await connectSimulatedKlarna(store, sealer, klarna.url, merchant);
  const spirisConnection = await connectSimulatedSpiris(store, sealer, spiris);
  const created = await createIntegration(store.db, { name: `butik-${merchant.merchantId}` });
  await updateIntegration(store.db, created.id, {
    mode: options.mode ?? 'test',
    klarnaConnectionId: klarnaConnection.id,
    spirisConnectionId: spirisConnection.id,
    settings: { catchUpSince: merchantSpec.startDate ?? '2026-01-01', ...options.settings } as Record<
      string,
      unknown
    >,
  });

  const offset = Date.parse(options.now ?? `${TODAY}T10:00:00Z`) - Date.now();
  const now = () => new Date(Date.now() + offset);

  return {
    store,
    klarna,
    spiris,
    merchant,
    secretKey,
    sealer,
    integrationId: created.id,
    deps(overrides = {}) {
      return {
        store,
        sealer,
        now,
        actor: 'test',
        klarnaOptions: { rateBudget: UNLIMITED_BUDGET, retryPolicy: FAST_RETRIES },
        spirisOptions: {
          rateBudget: UNLIMITED_BUDGET,
          retryPolicy: FAST_RETRIES,
          // Waits are skipped, not shortened: a 429 storm is answered as fast as it comes.
          sleep: async () => {},
        },
        ...overrides,
      };
    },
    async integration() {
      return (await getIntegration(store.db, created.id))!;
    },
    async setMode(mode) {
      await updateIntegration(store.db, created.id, { mode });
    },
    async setSettings(settings) {
      await updateIntegration(store.db, created.id, {
        settings: { catchUpSince: merchantSpec.startDate ?? '2026-01-01', ...settings } as Record<
          string,
          unknown
        >,
      });
    },
    cliEnv() {
      return {
        DATABASE_URL: store.target,
        KLARNA_SPIRIS_DATA_DIR: dataDir,
        KLARNA_SPIRIS_SECRET_KEY: secretKey.toString('base64'),
        KLARNA_SPIRIS_LOG_LEVEL: 'silent',
      };
    },
    vouchersByReference() {
      const byRef = new Map<string, SimulatedVoucher[]>();
      for (const v of spiris.vouchers) {
        const ref = merchant.payouts.find((p) => v.VoucherText.includes(` ${p.payment_reference}`));
        if (!ref) continue;
        const list = byRef.get(ref.payment_reference) ?? [];
        list.push(v);
        byRef.set(ref.payment_reference, list);
      }
      return byRef;
    },
    async close() {
      await Promise.all([klarna.close(), spiris.close()]);
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export interface ChildRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

const CHILD_SCRIPT = fileURLToPath(new URL('./sync-child.ts', import.meta.url));

/**
 * Runs one sync in a separate Node process on the same database and simulators. With
 * `crashAt`, the child SIGKILLs itself at that point of the posting path, on the
 * `nth` time it gets there: a power cut, as far as the store and Spiris can tell.
 */
export function runSyncInChild(
  fixture: IntegrationFixture,
  opts: { crashAt?: string; nth?: number; command?: 'sync' | 'reverse'; reference?: string } = {},
): Promise<ChildRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', CHILD_SCRIPT], {
      env: {
        ...process.env,
        KS_CHILD_DB: fixture.store.target,
        KS_CHILD_KEY: fixture.secretKey.toString('base64'),
        KS_CHILD_INTEGRATION: fixture.integrationId,
        KS_CHILD_TODAY: `${TODAY}T10:00:00Z`,
        KS_CHILD_COMMAND: opts.command ?? 'sync',
        ...(opts.reference ? { KS_CHILD_REFERENCE: opts.reference } : {}),
        ...(opts.crashAt ? { KS_CRASH_AT: opts.crashAt, KS_CRASH_NTH: String(opts.nth ?? 1) } : {}),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => {
      stdout += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
}

/** A Klarna connection to a simulated merchant, stored as the setup flow would store it. */
export async function connectSimulatedKlarna(
  store: Pick<Store, 'db'>,
  sealer: CredentialSealer,
  klarnaUrl: string,
  merchant: { merchantId: string; credentials: { apiKey: string; username?: string } },
) {
  const credentials = requireKlarnaCredentials({
    apiKey: merchant.credentials.apiKey,
    username: merchant.credentials.username,
    baseUrl: klarnaUrl,
  });
  return createConnection(store.db, sealer, {
    kind: 'klarna',
    environment: credentials.environment,
    config: { ...klarnaConnectionConfig(credentials) },
    secret: credentials.apiKey,
    externalId: merchant.merchantId,
  });
}

/** A Spiris connection to the simulator's default company, from issued tokens. */
export async function connectSimulatedSpiris(
  store: Pick<Store, 'db'>,
  sealer: CredentialSealer,
  spiris: SpirisSimulator,
  accessTokenLifetimeSeconds = 3600,
) {
  const endpoints = resolveSpirisEndpoints({
    identityBaseUrl: spiris.identityBaseUrl,
    apiBaseUrl: spiris.apiBaseUrl,
  });
  const issued = spiris.issueTokens({ accessTokenLifetimeSeconds });
  return createConnection(store.db, sealer, {
    kind: 'spiris',
    environment: 'sandbox',
    config: {
      authMode: 'refresh_token',
      clientId: spiris.clientId,
      scopes: [],
      pkce: true,
      apiBaseUrl: endpoints.apiBaseUrl,
      tokenUrl: endpoints.tokenUrl,
      revocationUrl: endpoints.revocationUrl,
    },
    secret: serializeCredentials({
      clientSecret: new Secret(spiris.clientSecret),
      accessToken: new Secret(issued.accessToken),
      refreshToken: new Secret(issued.refreshToken),
      accessTokenExpiresAt: new Date(Date.now() + accessTokenLifetimeSeconds * 1000).toISOString(),
    }),
    externalId: '556677-8899',
    externalName: 'Testbolaget Nordic AB',
  });
}
