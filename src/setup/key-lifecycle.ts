import type { Kysely } from 'kysely';
import type { KlarnaEnvironment } from '../klarna/key.ts';
import { KlarnaError } from '../klarna/klarna.errors.ts';
import { type ConnectionRecord, getConnection, updateConnection } from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { getIntegration, type Integration, updateIntegration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';

// A Klarna key lives until it is rotated, replaced or revoked, and Klarna disables one
// left unused for two months. Replacing the key changes only the connection: payouts,
// vouchers and the mapping belong to the integration and stay where they are.

/** The one sentence a merchant sees when Klarna no longer accepts the key. */
export const KLARNA_KEY_REVOKED_MESSAGE =
  'key revoked or disabled: create a new one in the Merchant Portal under Settings → API credentials';

/** Klarna disables API keys unused for more than two months. */
export const KLARNA_KEY_DISABLED_AFTER_DAYS = 60;
/** Warn this long before, so there is time to run a sync or a test. */
export const KLARNA_KEY_IDLE_WARNING_DAYS = 45;

export const KLARNA_INACTIVITY_NOTE =
  'Note: Klarna disables API keys left unused for two months. The scheduled sync keeps this key in use; ' +
  'if the integration stays off for longer, run `klarna-spiris test` at least once a month.';

/** Integration status while Klarna refuses the key; syncing resumes after `klarna connect`. */
export const PAUSED = 'paused';
const PAUSE_REASON_PREFIX = 'Klarna: ';

/** Non-secret Klarna connection settings this module adds to the connection config. */
export interface KlarnaKeyUsage {
  /** ISO time of the last request Klarna accepted with this key. */
  lastUsedAt?: string;
}

const DAY_MS = 86_400_000;

export function isPausedForKlarnaAuth(integration: Pick<Integration, 'status' | 'statusReason'>): boolean {
  return integration.status === PAUSED && !!integration.statusReason?.startsWith(PAUSE_REASON_PREFIX);
}

/**
 * Pauses the integration when Klarna refuses its key (401: revoked, disabled, deleted;
 * 403: no access to settlements), so the scheduler stops hammering Klarna with a dead
 * key and the merchant sees one clear instruction. Other errors are left alone: they
 * are transient or belong to one payout. Idempotent: a second call for the same cause
 * records nothing new.
 */
export async function pauseForKlarnaAuthFailure(
  db: Kysely<Database>,
  integrationId: string,
  error: unknown,
  opts: { actor?: string } = {},
): Promise<{ paused: boolean; reason?: string }> {
  const status = error instanceof KlarnaError ? error.status : undefined;
  if (status !== 401 && status !== 403) return { paused: false };
  const integration = await getIntegration(db, integrationId);
  if (!integration) throw new Error(`integration ${integrationId} not found`);

  const reason =
    PAUSE_REASON_PREFIX +
    (status === 401
      ? KLARNA_KEY_REVOKED_MESSAGE
      : 'Klarna accepted the key but denied access to settlements (403): ask a Merchant Portal administrator to give the API credentials access to Settlements, or create new credentials under Settings → API credentials') +
    '. Then run `klarna-spiris klarna connect` with the new key; payouts, vouchers and the mapping are kept.';
  if (integration.status === PAUSED && integration.statusReason === reason) return { paused: true, reason };

  await updateIntegration(db, integrationId, { status: PAUSED, statusReason: reason });
  if (integration.klarnaConnectionId) {
    const connection = await getConnection(db, integration.klarnaConnectionId);
    if (connection && connection.status === 'active') {
      await updateConnection(db, connection.id, {
        status: 'rejected',
        statusReason: `Klarna answered ${status}: ${status === 401 ? KLARNA_KEY_REVOKED_MESSAGE : 'access denied'}`,
      });
    }
  }
  const klarnaError = error as KlarnaError;
  await recordEvent(db, {
    integrationId,
    actor: opts.actor ?? 'system',
    kind: 'integration.paused',
    message: `Integration "${integration.name}" paused: ${reason}`,
    data: {
      cause: status === 401 ? 'klarna_key_rejected' : 'klarna_access_denied',
      status,
      connectionId: integration.klarnaConnectionId,
      correlationId: klarnaError.correlationId ?? null,
    },
  });
  return { paused: true, reason };
}

/** Lifts a pause caused by a refused Klarna key; called once a new key was accepted. */
export async function resumeAfterKlarnaReconnect(
  db: Kysely<Database>,
  integrationId: string,
  actor: string,
): Promise<boolean> {
  const integration = await getIntegration(db, integrationId);
  if (!integration || !isPausedForKlarnaAuth(integration)) return false;
  await updateIntegration(db, integrationId, { status: 'ok', statusReason: null });
  await recordEvent(db, {
    integrationId,
    actor,
    kind: 'integration.resumed',
    message: `Integration "${integration.name}" resumed: Klarna accepts the new key.`,
  });
  return true;
}

/**
 * Remembers that Klarna accepted the key at `at`. Written at most once an hour, since
 * the only question it answers is "idle for weeks?".
 */
export async function recordKlarnaKeyUse(
  db: Kysely<Database>,
  connectionId: string,
  at: Date = new Date(),
): Promise<void> {
  const connection = await getConnection(db, connectionId);
  if (connection?.kind !== 'klarna') return;
  const previous = lastUsedAt(connection);
  if (previous && at.getTime() - previous.getTime() < 3_600_000) return;
  await updateConnection(db, connectionId, {
    config: { ...connection.config, lastUsedAt: at.toISOString() },
  });
}

function lastUsedAt(connection: Pick<ConnectionRecord, 'config'>): Date | undefined {
  const raw = (connection.config as KlarnaKeyUsage).lastUsedAt;
  const t = typeof raw === 'string' ? Date.parse(raw) : Number.NaN;
  return Number.isFinite(t) ? new Date(t) : undefined;
}

/** Whole days since Klarna last accepted the key (or since it was stored, if never). */
export function klarnaKeyIdleDays(
  connection: Pick<ConnectionRecord, 'config' | 'createdAt'>,
  now: Date = new Date(),
): number {
  const since = lastUsedAt(connection) ?? new Date(connection.createdAt);
  return Math.max(0, Math.floor((now.getTime() - since.getTime()) / DAY_MS));
}

/** A warning when the key has been idle long enough that Klarna may soon disable it. */
export function klarnaKeyIdleWarning(
  connection: Pick<ConnectionRecord, 'config' | 'createdAt'>,
  now: Date = new Date(),
): string | undefined {
  const days = klarnaKeyIdleDays(connection, now);
  if (days <= KLARNA_KEY_IDLE_WARNING_DAYS) return undefined;
  const used = lastUsedAt(connection) ? 'last used' : 'stored and not used since';
  return (
    `The Klarna key was ${used} ${days} days ago; Klarna disables keys unused for two months ` +
    `(${KLARNA_KEY_DISABLED_AFTER_DAYS} days). Turn the scheduled sync on, or run \`klarna-spiris test\` regularly.`
  );
}

/** Every merchant id the integration has dealt with: its connection's and its stored payouts'. */
export async function knownKlarnaMerchantIds(
  db: Kysely<Database>,
  integration: Pick<Integration, 'id' | 'klarnaConnectionId'>,
): Promise<string[]> {
  const ids = new Set<string>();
  if (integration.klarnaConnectionId) {
    const connection = await getConnection(db, integration.klarnaConnectionId);
    if (connection?.externalId) ids.add(connection.externalId);
  }
  const rows = await db
    .selectFrom('klarna_payouts')
    .select('merchant_id')
    .distinct()
    .where('integration_id', '=', integration.id)
    .execute();
  for (const r of rows) if (r.merchant_id) ids.add(r.merchant_id);
  return [...ids].sort();
}

/** The refusal for a test key aimed at a live integration; undefined when the pair is fine. */
export function testKeyInLiveRefusal(
  integration: Pick<Integration, 'name' | 'mode'>,
  environment: KlarnaEnvironment,
): string | undefined {
  if (integration.mode !== 'live' || environment === 'production') return undefined;
  return (
    `Integration "${integration.name}" is live and books into your production books, so it takes only a live key ` +
    '(klarna_live_api_…); this is a test key (klarna_test_api_…). Paste the live key, or switch the integration to test ' +
    'mode first with `klarna-spiris mode test`.'
  );
}

export interface KeyReplacementInput {
  integration: Pick<Integration, 'name' | 'mode'>;
  environment: KlarnaEnvironment;
  /** Merchant id the new key answered for; undefined when Klarna did not say (no payouts, or not verified). */
  merchantId: string | undefined;
  knownMerchantIds: readonly string[];
  confirmMerchantChange: boolean;
}

export type KeyReplacementDecision =
  | { ok: true; merchantChanged: boolean; warnings: string[] }
  | { ok: false; message: string };

/**
 * Whether a new key may be attached to the integration. A test key never goes into a
 * live integration, and a key for another merchant needs an explicit confirmation,
 * because payouts of two merchants would otherwise be booked as one shop's.
 */
export function decideKlarnaKeyReplacement(input: KeyReplacementInput): KeyReplacementDecision {
  const { integration } = input;
  const testKey = testKeyInLiveRefusal(integration, input.environment);
  if (testKey) return { ok: false, message: testKey };
  const warnings: string[] = [];
  const known = input.knownMerchantIds;
  if (input.merchantId === undefined) {
    if (known.length > 0) {
      warnings.push(
        `Klarna did not say which merchant the new key belongs to (no payouts yet, or not verified); make sure it is for merchant ${known.join(', ')}.`,
      );
    }
    return { ok: true, merchantChanged: false, warnings };
  }
  const merchantChanged = known.length > 0 && !known.includes(input.merchantId);
  if (merchantChanged && !input.confirmMerchantChange) {
    return {
      ok: false,
      message:
        `This key belongs to Klarna merchant ${input.merchantId}, but integration "${integration.name}" has so far fetched payouts ` +
        `of merchant ${known.join(', ')}. Payouts of two merchants would end up in one set of books. If that is intended ` +
        '(e.g. Klarna moved your account to a new merchant id), run the command again with --confirm-merchant-change; ' +
        "otherwise use the key from the right merchant's Merchant Portal.",
    };
  }
  if (merchantChanged) {
    warnings.push(
      `Merchant changed from ${known.join(', ')} to ${input.merchantId} (confirmed). Payouts fetched so far are kept.`,
    );
  }
  return { ok: true, merchantChanged, warnings };
}
