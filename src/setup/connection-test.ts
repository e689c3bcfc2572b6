import type { Kysely } from 'kysely';
import { stockholmDate } from '../booking/calendar.ts';
import type { ChartAccount, FiscalYear } from '../booking/gates.ts';
import { validateMappingAgainstChart } from '../booking/gates.ts';
import {
  type BookingMapping,
  bookkeepingMethodName,
  CASH_MODE_EXPLANATION,
  postingModeMatchesBookkeepingMethod,
} from '../booking/mapping.ts';
import type { RetryPolicy } from '../http/retry.ts';
import type { KlarnaCredentials } from '../klarna/key.ts';
import { KlarnaClient, type KlarnaLogger } from '../klarna/klarna.client.ts';
import { loadKlarnaCredentials } from '../klarna/klarna.connection.ts';
import { KlarnaAuthenticationError, KlarnaConnectionError, KlarnaError } from '../klarna/klarna.errors.ts';
import { normaliseOrgNumber } from '../spiris/connect.service.ts';
import type { FetchLike } from '../spiris/oauth.ts';
import { spirisClientForConnection } from '../spiris/spiris.connection.ts';
import { SPIRIS_ERROR_CODES, SpirisApiError, SpirisError } from '../spiris/spiris.errors.ts';
import type { SpirisCompanySettings, SpirisFiscalYear } from '../spiris/spiris.types.ts';
import { parseCredentials, parseSpirisConfig } from '../spiris/token-store.ts';
import {
  type ConnectionRecord,
  getConnection,
  readConnectionSecret,
  updateConnection,
} from '../store/connections.repository.ts';
import type { DialectName } from '../store/db.ts';
import { recordEvent } from '../store/events.repository.ts';
import { getIntegration, type Integration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { InvalidSettingsError, readIntegrationSettings } from '../sync/integration-settings.ts';
import type { CredentialSealer } from './credentials.ts';
import { CONNECTION_TEST_EVENT, integrationFingerprint, isProductionSpiris } from './go-live.ts';
import {
  KLARNA_KEY_DISABLED_AFTER_DAYS,
  KLARNA_KEY_REVOKED_MESSAGE,
  klarnaKeyIdleDays,
  klarnaKeyIdleWarning,
  knownKlarnaMerchantIds,
  recordKlarnaKeyUse,
} from './key-lifecycle.ts';

// A controlled, read-only test of both sides: one line per check, each pass, warn or
// fail with what to do. It only reads from Klarna and Spiris; locally it notes that the
// Klarna key was used and, for a Spiris refresh token, stores the rotated pair, which
// renewing it requires.

export type CheckStatus = 'pass' | 'warn' | 'fail';

export interface ConnectionCheck {
  id: string;
  side: 'klarna' | 'spiris' | 'integration';
  status: CheckStatus;
  /** Short name of what was checked. */
  title: string;
  /** What was found. Never a secret: keys appear only masked. */
  message: string;
  /** What to do, for warn and fail. */
  fix: string | null;
}

export interface ConnectionTestResult {
  integrationId: string;
  integrationName: string;
  at: string;
  /** No check failed (warnings allowed). */
  ok: boolean;
  counts: Record<CheckStatus, number>;
  checks: ConnectionCheck[];
}

export interface ConnectionTestDeps {
  store: { db: Kysely<Database>; dialect: DialectName };
  sealer: CredentialSealer;
  logger?: KlarnaLogger;
  now?: () => Date;
  /** For both sides' HTTP; tests and proxies. */
  fetch?: FetchLike;
  /** Who asked, for the audit log. */
  actor?: string;
}

/**
 * An interactive check must answer in seconds: one retry, and a server asking for a
 * longer wait ends the check instead of stalling it.
 */
const TEST_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 1,
  initialDelayMs: 300,
  maxDelayMs: 1_000,
  maxWaitMs: 5_000,
});
const TEST_TIMEOUT_MS = 15_000;

/** Below this share of the window left, Klarna's rate limit is close. */
const RATE_HEADROOM_WARN = 0.2;

/** Every Spiris call the product makes and the scopes that allow it (any one of them). */
export const SPIRIS_CALL_SCOPES: ReadonlyArray<{ call: string; anyOf: readonly string[] }> = Object.freeze([
  { call: 'GET /companysettings', anyOf: ['ea:sales', 'ea:sales_readonly'] },
  {
    call: 'GET /fiscalyears',
    anyOf: ['ea:accounting', 'ea:accounting_readonly', 'ea:sales', 'ea:sales_readonly'],
  },
  { call: 'GET /accounts', anyOf: ['ea:accounting', 'ea:accounting_readonly'] },
  { call: 'GET /vouchers', anyOf: ['ea:accounting', 'ea:accounting_readonly'] },
  { call: 'POST /vouchers', anyOf: ['ea:accounting'] },
  { call: 'POST /attachments', anyOf: ['ea:accounting', 'ea:purchase'] },
  { call: 'POST /attachmentlinks', anyOf: ['ea:accounting', 'ea:purchase'] },
]);

/** Product variants with bookkeeping: 1 Standard, 3 Bookkeeping, 4 Solo, 5 Pro. */
const BOOKKEEPING_VARIANTS: Readonly<Record<number, string>> = {
  1: 'Standard',
  3: 'Bookkeeping',
  4: 'Solo',
  5: 'Pro',
};
const OTHER_VARIANTS: Readonly<Record<number, string>> = {
  2: 'Invoicing',
  6: 'Invoicing collaboration',
  8: 'Cloud payroll',
};

const RECONNECT_KLARNA = 'Run `klarna-spiris klarna connect` with a working key.';
const RECONNECT_SPIRIS = 'Reconnect with `klarna-spiris connect spiris`.';

class Checks {
  readonly list: ConnectionCheck[] = [];
  add(
    side: ConnectionCheck['side'],
    id: string,
    status: CheckStatus,
    title: string,
    message: string,
    fix: string | null = null,
  ): void {
    this.list.push({ id, side, status, title, message, fix: status === 'pass' ? null : fix });
  }
}

/** Runs every check for the integration, records the outcome in the audit log and returns it. */
export async function runConnectionTest(
  deps: ConnectionTestDeps,
  integrationId: string,
): Promise<ConnectionTestResult> {
  const now = deps.now ?? (() => new Date());
  const integration = await getIntegration(deps.store.db, integrationId);
  if (!integration) throw new Error(`integration ${integrationId} not found`);
  const started = now();
  const checks = new Checks();

  let mapping: BookingMapping | undefined;
  try {
    mapping = readIntegrationSettings(integration).mapping;
  } catch (err) {
    if (!(err instanceof InvalidSettingsError)) throw err;
    checks.add(
      'integration',
      'integration.settings',
      'fail',
      'Settings',
      err.message,
      'Correct the booking settings (`klarna-spiris mapping`) and test again.',
    );
  }

  await klarnaChecks(deps, integration, checks, started);
  await spirisChecks(deps, integration, mapping, checks, started);

  const counts = { pass: 0, warn: 0, fail: 0 };
  for (const c of checks.list) counts[c.status]++;
  const result: ConnectionTestResult = {
    integrationId: integration.id,
    integrationName: integration.name,
    at: started.toISOString(),
    ok: counts.fail === 0,
    counts,
    checks: checks.list,
  };
  // Read again: the Klarna checks may have filled in the merchant id, which is no change
  // of configuration, but the fingerprint must describe what was tested.
  const tested = (await getIntegration(deps.store.db, integration.id)) ?? integration;
  await recordEvent(deps.store.db, {
    integrationId: integration.id,
    actor: deps.actor ?? 'system',
    kind: CONNECTION_TEST_EVENT,
    message: `Connection test of "${integration.name}": ${counts.pass} pass, ${counts.warn} warn, ${counts.fail} fail.`,
    data: { ok: result.ok, checks: result.checks, fingerprint: integrationFingerprint(tested) },
  });
  return result;
}

// ---- Klarna ----------------------------------------------------------------------------

interface RateHeaders {
  limit?: string;
  remaining?: string;
  reset?: string;
}

async function klarnaChecks(
  deps: ConnectionTestDeps,
  integration: Integration,
  checks: Checks,
  now: Date,
): Promise<void> {
  const { db } = deps.store;
  const add = (id: string, status: CheckStatus, title: string, message: string, fix: string | null = null) =>
    checks.add('klarna', `klarna.${id}`, status, title, message, fix);

  if (!integration.klarnaConnectionId) {
    add(
      'connection',
      'fail',
      'Connection',
      'No Klarna key is connected.',
      'Run `klarna-spiris klarna connect`.',
    );
    return;
  }
  const connection = await getConnection(db, integration.klarnaConnectionId);
  if (!connection) {
    add(
      'connection',
      'fail',
      'Connection',
      'The Klarna connection no longer exists.',
      'Run `klarna-spiris klarna connect`.',
    );
    return;
  }
  let credentials: KlarnaCredentials;
  try {
    credentials = await loadKlarnaCredentials(db, deps.sealer, connection);
  } catch (err) {
    add('credentials', 'fail', 'Stored key', (err as Error).message, RECONNECT_KLARNA);
    return;
  }

  const idleDays = klarnaKeyIdleDays(connection, now);
  const idleWarning = klarnaKeyIdleWarning(connection, now);

  let lastRate: RateHeaders | undefined;
  const baseFetch = deps.fetch ?? fetch;
  const client = new KlarnaClient({
    credentials,
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const res = await baseFetch(input as string | URL, init);
      // Pacing data comes back on every answer; keeping the client unaware of it keeps
      // this check from changing how the client behaves.
      const limit = res.headers.get('x-ratelimit-limit');
      if (limit !== null) {
        lastRate = {
          limit,
          ...(res.headers.get('x-ratelimit-remaining') !== null
            ? { remaining: res.headers.get('x-ratelimit-remaining')! }
            : {}),
          ...(res.headers.get('x-ratelimit-reset') !== null
            ? { reset: res.headers.get('x-ratelimit-reset')! }
            : {}),
        };
      }
      return res;
    }) as typeof fetch,
    retryPolicy: TEST_RETRY_POLICY,
    timeoutMs: TEST_TIMEOUT_MS,
    pageSize: 20,
    ...(deps.logger ? { logger: deps.logger } : {}),
  });
  const where = `${credentials.environment}, ${credentials.region}${credentials.customBaseUrl ? `, ${credentials.baseUrl}` : ''}`;

  // 1. Authentication.
  let merchantId: string | undefined;
  let authenticated = false;
  try {
    merchantId = (await client.probe()).merchantId;
    authenticated = true;
    add(
      'authentication',
      'pass',
      'Authentication',
      `Klarna accepted the key ${connection.secretHint} (${where}).`,
    );
  } catch (err) {
    add(
      'authentication',
      'fail',
      'Authentication',
      describeKlarnaFailure(err, connection, idleDays),
      klarnaFix(err),
    );
  }

  // 2. Environment: the key's prefix, the host and the integration's mode must agree.
  const keyKind =
    credentials.environment === 'production' ? 'live key (production)' : 'test key (playground)';
  if (integration.mode === 'live' && credentials.environment !== 'production') {
    add(
      'environment',
      'fail',
      'Environment',
      `The integration is live, but the key is a ${keyKind}.`,
      'Connect a live key (`klarna-spiris klarna connect`), or switch to test mode (`klarna-spiris mode test`).',
    );
  } else if (credentials.customBaseUrl && !authenticated) {
    add(
      'environment',
      'warn',
      'Environment',
      `A ${keyKind} at a host that is not Klarna's (${credentials.baseUrl}); without an answer from it the environment cannot be confirmed.`,
      'Check the --base-url the connection was made with.',
    );
  } else {
    const host = credentials.customBaseUrl
      ? `host ${credentials.baseUrl}`
      : `Klarna's ${credentials.environment} host`;
    const modeNote =
      integration.mode === 'test' && credentials.environment === 'production'
        ? '; in test mode live payouts are previewed, or posted only into a Spiris sandbox'
        : '';
    add('environment', 'pass', 'Environment', `A ${keyKind} on ${host}${modeNote}.`);
  }
  if (!authenticated) return;

  // 3. Merchant.
  const known = await knownKlarnaMerchantIds(db, integration);
  if (merchantId === undefined) {
    add(
      'merchant',
      'warn',
      'Merchant',
      'Klarna returned no payouts yet, so the merchant id behind the key cannot be confirmed.',
      'Nothing to do before the first payout; test again afterwards.',
    );
  } else if (known.length > 0 && !known.includes(merchantId)) {
    add(
      'merchant',
      'fail',
      'Merchant',
      `The key answers for merchant ${merchantId}, but this integration's payouts are from merchant ${known.join(', ')}.`,
      "Connect the key of the integration's own merchant, or confirm the change with `klarna-spiris klarna connect --confirm-merchant-change`.",
    );
  } else {
    if (!connection.externalId) await updateConnection(db, connection.id, { externalId: merchantId });
    add('merchant', 'pass', 'Merchant', `Merchant ${merchantId}.`);
  }

  // 4. The payouts endpoint, with the date filter a sync uses.
  try {
    const until = now.toISOString().slice(0, 10);
    const since = new Date(now.getTime() - 30 * 86_400_000).toISOString().slice(0, 10);
    let seen = 0;
    let total: number | undefined;
    for await (const page of client.payoutPages({ since, until })) {
      seen = page.records.length;
      total = page.total;
      break;
    }
    add(
      'payouts',
      'pass',
      'Payouts',
      `The payouts endpoint is readable: ${total ?? seen} payout(s) in the last 30 days.`,
    );
  } catch (err) {
    add('payouts', 'fail', 'Payouts', describeKlarnaFailure(err, connection, idleDays), klarnaFix(err));
  }

  // 5. Rate-limit headroom, from the last answer.
  const rate = parseRate(lastRate);
  if (!rate) {
    add(
      'rate_limit',
      'pass',
      'Rate limit',
      'Klarna sent no rate-limit headers; the client paces itself below the documented limit.',
    );
  } else if (rate.remaining / rate.limit < RATE_HEADROOM_WARN) {
    add(
      'rate_limit',
      'warn',
      'Rate limit',
      `Only ${rate.remaining} of ${rate.limit} requests left in the current window${rate.reset !== undefined ? ` (resets in ${rate.reset} s)` : ''}. Klarna counts per merchant, so another tool is probably using this merchant id heavily.`,
      'Nothing breaks: syncs slow down to stay within the limit. Check which other integrations use this Klarna merchant.',
    );
  } else {
    add(
      'rate_limit',
      'pass',
      'Rate limit',
      `${rate.remaining} of ${rate.limit} requests left in the current window.`,
    );
  }

  // 6. Key activity; the test itself just used the key.
  if (idleWarning) {
    add(
      'key_activity',
      'warn',
      'Key activity',
      idleWarning,
      'Turn the scheduled sync on so the key is used at least monthly.',
    );
  } else {
    add(
      'key_activity',
      'pass',
      'Key activity',
      `The key was used ${idleDays === 0 ? 'today' : `${idleDays} day(s) ago`}; Klarna disables keys unused for ${KLARNA_KEY_DISABLED_AFTER_DAYS} days.`,
    );
  }
  await recordKlarnaKeyUse(db, connection.id, now);
}

function parseRate(
  h: RateHeaders | undefined,
): { limit: number; remaining: number; reset?: number } | undefined {
  if (!h?.limit || h.remaining === undefined) return undefined;
  // "50, 50;w=1": the first number is the limit of the current window.
  const limit = Number(/^\s*(\d+)/.exec(h.limit)?.[1]);
  const remaining = Number(h.remaining);
  if (!Number.isFinite(limit) || limit <= 0 || !Number.isFinite(remaining)) return undefined;
  const reset = h.reset !== undefined && /^\d+$/.test(h.reset) ? Number(h.reset) : undefined;
  return { limit, remaining, ...(reset !== undefined ? { reset } : {}) };
}

function describeKlarnaFailure(err: unknown, connection: ConnectionRecord, idleDays: number): string {
  if (err instanceof KlarnaAuthenticationError && err.status === 401) {
    const idle =
      idleDays > KLARNA_KEY_DISABLED_AFTER_DAYS
        ? ` The key had not been used for ${idleDays} days, so Klarna has most likely disabled it for inactivity.`
        : '';
    return `Klarna refused the key ${connection.secretHint} (401): ${KLARNA_KEY_REVOKED_MESSAGE}. A key for the other environment is refused the same way.${idle}`;
  }
  if (err instanceof KlarnaError) return err.message;
  return `Unexpected error: ${(err as Error)?.message ?? String(err)}`;
}

function klarnaFix(err: unknown): string {
  if (err instanceof KlarnaAuthenticationError && err.status === 401) {
    return 'Create a new key in the Merchant Portal under Settings → API credentials, then run `klarna-spiris klarna connect`.';
  }
  if (err instanceof KlarnaAuthenticationError) {
    return 'Ask a Merchant Portal administrator to give the API credentials access to Settlements.';
  }
  if (err instanceof KlarnaConnectionError) return 'Check the network and the host, then test again.';
  return 'Test again later; if it persists, contact Klarna merchant support with the correlation id.';
}

// ---- Spiris ----------------------------------------------------------------------------

async function spirisChecks(
  deps: ConnectionTestDeps,
  integration: Integration,
  mapping: BookingMapping | undefined,
  checks: Checks,
  now: Date,
): Promise<void> {
  const { db } = deps.store;
  const add = (id: string, status: CheckStatus, title: string, message: string, fix: string | null = null) =>
    checks.add('spiris', `spiris.${id}`, status, title, message, fix);

  if (!integration.spirisConnectionId) {
    add(
      'connection',
      'fail',
      'Connection',
      'No Spiris company is connected.',
      'Run `klarna-spiris connect spiris --environment sandbox` (or production).',
    );
    return;
  }
  const connection = await getConnection(db, integration.spirisConnectionId);
  if (!connection) {
    add('connection', 'fail', 'Connection', 'The Spiris connection no longer exists.', RECONNECT_SPIRIS);
    return;
  }
  let config: ReturnType<typeof parseSpirisConfig>;
  try {
    config = parseSpirisConfig(connection);
  } catch (err) {
    add('connection', 'fail', 'Connection', (err as Error).message, RECONNECT_SPIRIS);
    return;
  }

  const handle = spirisClientForConnection(deps.store, deps.sealer, connection, {
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(deps.now ? { now: deps.now } : {}),
    retryPolicy: TEST_RETRY_POLICY,
    timeoutMs: TEST_TIMEOUT_MS,
    actor: deps.actor ?? 'system',
  });

  // 1. Token: valid, and renewable where the setup allows it.
  const readCreds = async () =>
    parseCredentials((await readConnectionSecret(db, deps.sealer, connection.id)).secret);
  let tokenOk = false;
  let canRefresh = false;
  try {
    const creds = await readCreds();
    canRefresh = !!creds.refreshToken;
    if (canRefresh) {
      await handle.tokens.refreshNow();
      tokenOk = true;
      add('token', 'pass', 'Token', 'The token is valid and was renewed with the stored refresh token.');
    } else {
      await handle.tokens.getAccessToken();
      tokenOk = true;
      add(
        'token',
        'warn',
        'Token',
        `The access token works until ${creds.accessTokenExpiresAt ?? 'it expires'} and cannot be renewed (no refresh token).`,
        'Before it expires, reconnect with the browser flow or an issued refresh token (`klarna-spiris connect spiris`).',
      );
    }
  } catch (err) {
    add('token', 'fail', 'Token', (err as Error).message, RECONNECT_SPIRIS);
  }

  if (tokenOk)
    await spirisApiChecks({ connection, config, canRefresh, mapping, add, readCreds, handle, now });

  // Production or not: decides whether test mode may post.
  const production = isProductionSpiris(connection);
  if (integration.mode === 'live' && !production) {
    add(
      'environment',
      'fail',
      'Environment',
      `The integration is live, but the Spiris connection is ${connection.environment} (non-production).`,
      'Connect the production company (`klarna-spiris connect spiris --environment production`), or switch to test mode.',
    );
  } else if (production) {
    add(
      'environment',
      'pass',
      'Environment',
      integration.mode === 'live'
        ? 'Production company: live mode posts vouchers into it.'
        : 'Production company: until the integration is live, payouts are only previewed, never posted.',
    );
  } else {
    add(
      'environment',
      'pass',
      'Environment',
      `Non-production (${connection.environment}): in test mode vouchers are posted into this sandbox company.`,
    );
  }
}

type AddFn = (id: string, status: CheckStatus, title: string, message: string, fix?: string | null) => void;

async function spirisApiChecks(o: {
  connection: ConnectionRecord;
  config: ReturnType<typeof parseSpirisConfig>;
  canRefresh: boolean;
  mapping: BookingMapping | undefined;
  add: AddFn;
  readCreds: () => Promise<ReturnType<typeof parseCredentials>>;
  handle: ReturnType<typeof spirisClientForConnection>;
  now: Date;
}): Promise<void> {
  const { connection, config, canRefresh, mapping, add, readCreds, now } = o;
  const { client } = o.handle;

  // 2. Scopes: what Visma granted, or what was asked for when it did not say.
  const creds = await readCreds();
  const granted = creds.grantedScope?.split(/\s+/).filter(Boolean);
  const scopes = granted ?? config.scopes;
  const required = [
    { call: 'every call', anyOf: ['ea:api'] },
    ...SPIRIS_CALL_SCOPES,
    ...(canRefresh ? [{ call: 'renewing the token', anyOf: ['offline_access'] }] : []),
  ];
  const missing = required.filter((r) => !r.anyOf.some((s) => scopes.includes(s)));
  if (missing.length > 0) {
    add(
      'scopes',
      'fail',
      'Scopes',
      `The connection lacks scopes for ${missing.map((m) => `${m.call} (needs ${m.anyOf.join(' or ')})`).join(', ')}.`,
      `${RECONNECT_SPIRIS} Ask for ea:api offline_access ea:accounting ea:sales_readonly and approve them all.`,
    );
  } else {
    add(
      'scopes',
      'pass',
      'Scopes',
      `${granted ? 'Granted' : 'Requested (Visma did not report what it granted)'}: ${scopes.join(' ')}; every call the product makes is covered.`,
    );
  }

  // 3. Company and its organisation number.
  let company: SpirisCompanySettings | undefined;
  try {
    company = await client.getCompanySettings();
  } catch (err) {
    add('company', 'fail', 'Company', describeSpirisFailure(err), spirisFix(err));
  }
  if (company) {
    const org = company.CorporateIdentityNumber?.trim() || null;
    const expected =
      (connection.config as { expectedOrgNumber?: string }).expectedOrgNumber ?? connection.externalId;
    if (expected && org && normaliseOrgNumber(expected) !== normaliseOrgNumber(org)) {
      add(
        'company',
        'fail',
        'Company',
        `The token opens ${company.Name} (${org}), but this integration books into organisation number ${expected}.`,
        `${RECONNECT_SPIRIS} Choose the company with organisation number ${expected} when Visma asks.`,
      );
    } else if (!org) {
      add(
        'company',
        'warn',
        'Company',
        `${company.Name}: Spiris returned no organisation number, so the company cannot be pinned.`,
        'Enter the organisation number in the company settings in Spiris.',
      );
    } else {
      add('company', 'pass', 'Company', `${company.Name} (${org}).`);
    }
  }

  // 4–6. Bookkeeping: product variant, fiscal year for today, mapped accounts.
  const variant = company?.ProductVariant ?? null;
  let variantDecided = false;
  if (variant !== null && OTHER_VARIANTS[variant] !== undefined) {
    const e = SPIRIS_ERROR_CODES[4009]!;
    add(
      'product_variant',
      'fail',
      'Product variant',
      `The subscription is ${OTHER_VARIANTS[variant]} (4009): ${e.explanation}`,
      e.action,
    );
    variantDecided = true;
  }

  const today = stockholmDate(now) ?? now.toISOString().slice(0, 10);
  let year: SpirisFiscalYear | undefined;
  let yearError: unknown;
  try {
    year = await client.findFiscalYearForDate(today);
  } catch (err) {
    yearError = err;
  }
  let chart: ChartAccount[] | undefined;
  let chartError: unknown;
  if (year) {
    try {
      chart = [];
      for await (const a of client.listAccounts(year.Id)) {
        chart.push({
          number: String(a.Number).trim(),
          name: a.Name,
          isActive: a.IsActive,
          isBlockedForManualBooking: a.IsBlockedForManualBooking === true,
        });
      }
    } catch (err) {
      chart = undefined;
      chartError = err;
    }
  }
  const variantRefusal = [yearError, chartError].find(
    (e) => e instanceof SpirisApiError && e.errorCode === 4009,
  ) as SpirisApiError | undefined;
  if (!variantDecided) {
    if (variantRefusal) {
      const e = SPIRIS_ERROR_CODES[4009]!;
      add(
        'product_variant',
        'fail',
        'Product variant',
        `Spiris refused bookkeeping (4009): ${e.explanation}`,
        e.action,
      );
    } else if (variant !== null && BOOKKEEPING_VARIANTS[variant]) {
      add(
        'product_variant',
        'pass',
        'Product variant',
        `${BOOKKEEPING_VARIANTS[variant]}: includes bookkeeping.`,
      );
    } else if (!yearError) {
      add(
        'product_variant',
        'pass',
        'Product variant',
        `Not reported${variant !== null ? ` (${variant})` : ''}, but the bookkeeping endpoints answered.`,
      );
    }
  }
  if (variantRefusal || variantDecided) return;

  const gateYear: FiscalYear | undefined = year && {
    id: year.Id,
    startDate: year.StartDate,
    endDate: year.EndDate,
    isClosed: year.IsLockedForAccounting,
    bookkeepingMethod: year.BookkeepingMethod,
  };
  if (yearError) {
    add('fiscal_year', 'fail', 'Fiscal year', describeSpirisFailure(yearError), spirisFix(yearError));
  } else if (!year) {
    add(
      'fiscal_year',
      'fail',
      'Fiscal year',
      `No fiscal year in Spiris covers today (${today}).`,
      'Create the fiscal year in Spiris (Settings → Fiscal years) and test again.',
    );
  } else if (year.IsLockedForAccounting) {
    add(
      'fiscal_year',
      'fail',
      'Fiscal year',
      `The fiscal year ${year.StartDate.slice(0, 10)}–${year.EndDate.slice(0, 10)} is locked for bookkeeping.`,
      'Open the fiscal year in Spiris if your accountant agrees.',
    );
  } else {
    const locked = company?.AccountingLockedTo?.slice(0, 10);
    if (locked && locked >= today) {
      add(
        'fiscal_year',
        'warn',
        'Fiscal year',
        `The fiscal year ${year.StartDate.slice(0, 10)}–${year.EndDate.slice(0, 10)} is open, but bookkeeping is locked through ${locked}.`,
        'Move the lock date in Spiris back, or payouts up to that date cannot be booked.',
      );
    } else {
      add(
        'fiscal_year',
        'pass',
        'Fiscal year',
        `Open fiscal year ${year.StartDate.slice(0, 10)}–${year.EndDate.slice(0, 10)} covers today.`,
      );
    }
  }

  if (!year || !mapping) return;
  if (chartError) {
    add('accounts', 'fail', 'Accounts', describeSpirisFailure(chartError), spirisFix(chartError));
  } else {
    const failures = validateMappingAgainstChart(mapping, chart, gateYear);
    if (failures.length > 0) {
      add(
        'accounts',
        'fail',
        'Accounts',
        failures.map((f) => f.message).join(' '),
        [...new Set(failures.map((f) => f.action))].join(' '),
      );
    } else {
      add(
        'accounts',
        'pass',
        'Accounts',
        'Every mapped account exists, is active and takes manual vouchers.',
      );
    }
  }

  const mismatch = postingModeMatchesBookkeepingMethod(mapping.postingMode, year.BookkeepingMethod);
  const method = bookkeepingMethodName(year.BookkeepingMethod);
  if (mismatch) {
    add(
      'bookkeeping_method',
      'warn',
      'Bookkeeping method',
      mismatch,
      `Change the posting mode in the booking settings, or the fiscal year's method in Spiris.${
        mapping.postingMode === 'cash' || method === 'Cash' ? ` ${CASH_MODE_EXPLANATION}` : ''
      }`,
    );
  } else {
    add(
      'bookkeeping_method',
      'pass',
      'Bookkeeping method',
      `${mapping.postingMode} mode suits the ${method === 'Cash' ? 'cash method (kontantmetoden)' : method === 'Invoicing' ? 'invoice method (fakturametoden)' : 'fiscal year'}.`,
    );
  }
}

function describeSpirisFailure(err: unknown): string {
  if (err instanceof SpirisError) return err.message;
  return `Unexpected error: ${(err as Error)?.message ?? String(err)}`;
}

function spirisFix(err: unknown): string {
  if (err instanceof SpirisApiError && err.explanation) return err.explanation.action;
  return 'Test again later; if it persists, contact Spiris API support (api@spiris.se).';
}
