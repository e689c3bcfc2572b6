import type { KlarnaClient, KlarnaClientOptions } from '../klarna/klarna.client.ts';
import { openKlarnaClient } from '../klarna/klarna.connection.ts';
import type { RateSource } from '../rates/rate-source.ts';
import { RiksbankRateSource } from '../rates/riksbank.rate-source.ts';
import { TableRateSource } from '../rates/table.rate-source.ts';
import type { CredentialSealer } from '../setup/credentials.ts';
import { postingAllowed } from '../setup/go-live.ts';
import type { SpirisClient } from '../spiris/spiris.client.ts';
import { openSpirisConnection, type SpirisRuntimeOptions } from '../spiris/spiris.connection.ts';
import { getConnection } from '../store/connections.repository.ts';
import type { Store } from '../store/db.ts';
import { getIntegration, type Integration } from '../store/integrations.repository.ts';
import { type IntegrationSettings, readIntegrationSettings } from './integration-settings.ts';

/** pino-compatible subset. */
export interface SyncLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

/**
 * Named points in the posting path. Tests hook them to kill the process exactly there
 * and prove a restart neither loses nor doubles a voucher; production passes nothing.
 */
export type SyncHookPoint = 'intent-recorded' | 'voucher-posted' | 'voucher-recorded' | 'attachment-uploaded';

export interface SyncHooks {
  at?(
    point: SyncHookPoint,
    info: { paymentReference: string; kind: 'book' | 'reverse' },
  ): void | Promise<void>;
}

export interface SyncDeps {
  store: Pick<Store, 'db' | 'dialect'>;
  sealer: CredentialSealer;
  logger?: SyncLogger;
  now?: () => Date;
  /** Who acts, for the audit log: cli, scheduler, admin. */
  actor?: string;
  klarnaOptions?: Omit<KlarnaClientOptions, 'credentials'>;
  spirisOptions?: SpirisRuntimeOptions;
  /** Replaces the rate source the settings name (tests, or a shared cached source). */
  rateSource?: RateSource;
  /** How long a sync lease lasts without renewal; default 5 minutes. */
  leaseTtlMs?: number;
  hooks?: SyncHooks;
}

export const NOOP_LOGGER: SyncLogger = { debug() {}, info() {}, warn() {} };

/** A sync of an integration that must not run: mode off, no connection, another sync running. */
export class SyncRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SyncRefusedError';
  }
}

export async function loadIntegration(
  deps: SyncDeps,
  integrationId: string,
): Promise<{ integration: Integration; settings: IntegrationSettings }> {
  const integration = await getIntegration(deps.store.db, integrationId);
  if (!integration) throw new SyncRefusedError(`Integration ${integrationId} does not exist.`);
  return { integration, settings: readIntegrationSettings(integration) };
}

export async function openKlarna(deps: SyncDeps, integration: Integration): Promise<KlarnaClient> {
  const { client } = await openKlarnaClient(
    { db: deps.store.db, sealer: deps.sealer },
    integration,
    deps.klarnaOptions ?? {},
  );
  return client;
}

export async function openSpiris(deps: SyncDeps, integration: Integration): Promise<SpirisClient> {
  if (!integration.spirisConnectionId) {
    throw new SyncRefusedError(
      `Integration "${integration.name}" has no Spiris connection: run \`klarna-spiris connect spiris\` first.`,
    );
  }
  const { client } = await openSpirisConnection(deps.store, deps.sealer, integration.spirisConnectionId, {
    actor: deps.actor ?? 'system',
    ...deps.spirisOptions,
  });
  return client;
}

export function rateSourceFor(deps: SyncDeps, settings: IntegrationSettings): RateSource {
  if (deps.rateSource) return deps.rateSource;
  const s = settings.rateSource;
  if (s.kind === 'table') {
    return s.format === 'json' ? TableRateSource.fromJson(s.table) : TableRateSource.fromCsv(s.table);
  }
  return new RiksbankRateSource({
    ...(s.baseUrl ? { baseUrl: s.baseUrl } : {}),
    ...(deps.now ? { now: deps.now } : {}),
  });
}

export function clock(deps: SyncDeps): () => Date {
  return deps.now ?? (() => new Date());
}

/**
 * Refuses before anything is fetched or posted when the integration may not post: off,
 * paused, or test mode against production books (preview-only until it goes live). The
 * rule itself is the setup's (`postingAllowed`), so the CLI, the service and the admin
 * page cannot disagree about it.
 */
export async function assertPostingAllowed(deps: SyncDeps, integration: Integration): Promise<void> {
  if (integration.mode === 'off') {
    throw new SyncRefusedError(
      `Integration "${integration.name}" is off, so nothing is booked. Run \`klarna-spiris preview\` to see what would be booked, and switch it to test or live once the setup is complete.`,
    );
  }
  const spiris = integration.spirisConnectionId
    ? await getConnection(deps.store.db, integration.spirisConnectionId)
    : undefined;
  const verdict = postingAllowed(integration, spiris ?? null);
  if (!verdict.allowed) {
    throw new SyncRefusedError(
      `Nothing is posted for integration "${integration.name}": ${verdict.reason ?? 'posting is not allowed.'} \`klarna-spiris preview\` shows what would be booked.`,
    );
  }
}
