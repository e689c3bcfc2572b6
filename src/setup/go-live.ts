import { createHash } from 'node:crypto';
import type { Kysely } from 'kysely';
import { type ConnectionRecord, getConnection } from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { getIntegration, type Integration, type IntegrationMode } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { parseIntegrationSettings } from '../sync/integration-settings.ts';
import { PAUSED } from './key-lifecycle.ts';

// Test before live. An integration is off, in test (Klarna playground and/or a Spiris
// sandbox, or preview-only against production books) or live. The rule for going live
// is one pure function over gathered facts, and setIntegrationMode is the one writer of
// `mode`, so the CLI and the HTTP API cannot disagree and neither can skip the gate.

export const CONNECTION_TEST_EVENT = 'connection_test.completed';
export const PREVIEW_EVENT = 'preview.completed';
export const MODE_CHANGED_EVENT = 'mode.changed';
export const MODE_REFUSED_EVENT = 'mode.change_refused';

/** How long a passing connection test counts for going live. */
export const CONNECTION_TEST_MAX_AGE_MS = 24 * 3_600_000;

/** Events that change what a preview or a connection test was about. */
const CHANGE_EVENT_KINDS = ['klarna.connected', 'spiris.connected'];
const CHANGE_EVENT_PREFIXES = ['mapping.', 'settings.'];

/** Spiris connection environments that are not the production books. */
const NON_PRODUCTION_SPIRIS = new Set(['sandbox', 'sandbox-legacy']);

export function isProductionSpiris(connection: Pick<ConnectionRecord, 'environment'>): boolean {
  return !NON_PRODUCTION_SPIRIS.has(connection.environment);
}

/** A point in the event history: the event id orders events exactly; `at` orders the rest. */
export interface HistoryMark {
  id?: number;
  at: string;
}

export interface GoLiveFacts {
  now: Date;
  integration: Pick<Integration, 'name' | 'mode' | 'status' | 'statusReason'>;
  klarna: Pick<ConnectionRecord, 'environment' | 'status' | 'statusReason' | 'secretHint'> | null;
  spiris: Pick<
    ConnectionRecord,
    'environment' | 'status' | 'statusReason' | 'externalName' | 'externalId'
  > | null;
  /** The latest connection test, passing or not. */
  lastConnectionTest: (HistoryMark & { ok: boolean; fingerprint: string | null }) | null;
  /**
   * The latest preview; only the latest counts. `fingerprint` is integrationFingerprint()
   * at the time of the preview, when the preview recorded it.
   */
  lastPreview:
    | (HistoryMark & { payouts: number; ready: number; blocking: number; fingerprint?: string | null })
    | null;
  /** The latest change of mapping, settings or connections. */
  lastChange: (HistoryMark & { what: string }) | null;
  /** Fingerprint of the connections and settings as they are now. */
  fingerprint: string;
  confirmed: boolean;
}

export type GoLiveCheckId =
  | 'klarna_live_key'
  | 'spiris_production'
  | 'connections_ready'
  | 'connection_test'
  | 'preview'
  | 'confirmation';

export interface GoLiveCheck {
  id: GoLiveCheckId;
  ok: boolean;
  message: string;
  /** What to do, when not ok. */
  fix: string | null;
}

export interface GoLiveEvaluation {
  allowed: boolean;
  checks: GoLiveCheck[];
}

/** After, by event id when both have one; else by time, where a tie counts as after (nothing real happens within one millisecond). */
function isAfter(a: HistoryMark, b: HistoryMark): boolean {
  if (a.id !== undefined && b.id !== undefined) return a.id > b.id;
  return a.at >= b.at;
}

function hoursAgo(now: Date, at: string): string {
  const h = (now.getTime() - Date.parse(at)) / 3_600_000;
  if (h < 1) return `${Math.max(0, Math.round(h * 60))} minutes ago`;
  if (h < 48) return `${Math.round(h)} hours ago`;
  return `${Math.round(h / 24)} days ago`;
}

/**
 * Every condition for live mode, each with its own message and fix. Pure: the same
 * facts give the same answer, which is what the CLI, the HTTP API and the tests share.
 */
export function evaluateGoLive(facts: GoLiveFacts): GoLiveEvaluation {
  const checks: GoLiveCheck[] = [];
  const add = (id: GoLiveCheckId, ok: boolean, message: string, fix: string | null) =>
    checks.push({ id, ok, message, fix: ok ? null : fix });

  const k = facts.klarna;
  if (!k) {
    add(
      'klarna_live_key',
      false,
      'No Klarna key is connected.',
      'Connect a live key: `klarna-spiris klarna connect`.',
    );
  } else if (k.environment !== 'production') {
    add(
      'klarna_live_key',
      false,
      `The Klarna key ${k.secretHint ?? ''} is a test key (playground); live mode needs a live key (klarna_live_api_…).`,
      'Create a live key in the Merchant Portal under Settings → API credentials and run `klarna-spiris klarna connect`.',
    );
  } else {
    add('klarna_live_key', true, `Klarna key ${k.secretHint ?? ''} is a live key (production).`, null);
  }

  const s = facts.spiris;
  if (!s) {
    add(
      'spiris_production',
      false,
      'No Spiris company is connected.',
      'Connect the production company: `klarna-spiris connect spiris --environment production`.',
    );
  } else if (!isProductionSpiris(s)) {
    add(
      'spiris_production',
      false,
      `The Spiris connection is a ${s.environment} (non-production) company${s.externalName ? `, ${s.externalName}` : ''}; live mode books into production books.`,
      'Connect the production company: `klarna-spiris connect spiris --environment production --org-number <org number>`.',
    );
  } else {
    add(
      'spiris_production',
      true,
      `Spiris connection is production${s.externalName ? `: ${s.externalName}${s.externalId ? ` (${s.externalId})` : ''}` : ''}.`,
      null,
    );
  }

  const problems: string[] = [];
  if (facts.integration.status === PAUSED)
    problems.push(`the integration is paused (${facts.integration.statusReason ?? 'no reason given'})`);
  if (k && k.status !== 'active')
    problems.push(`the Klarna connection is ${k.status}${k.statusReason ? ` (${k.statusReason})` : ''}`);
  if (s && s.status !== 'active' && s.status !== 'access_token_only')
    problems.push(`the Spiris connection is ${s.status}${s.statusReason ? ` (${s.statusReason})` : ''}`);
  add(
    'connections_ready',
    problems.length === 0,
    problems.length === 0 ? 'Both connections are usable.' : `Not usable: ${problems.join('; ')}.`,
    'Reconnect the side named above (`klarna-spiris klarna connect` or `klarna-spiris connect spiris`).',
  );

  const t = facts.lastConnectionTest;
  const testFix = 'Run `klarna-spiris test` and fix every failing line.';
  if (!t) {
    add('connection_test', false, 'No connection test has been run.', testFix);
  } else if (!t.ok) {
    add(
      'connection_test',
      false,
      `The latest connection test (${hoursAgo(facts.now, t.at)}) failed.`,
      testFix,
    );
  } else if (facts.now.getTime() - Date.parse(t.at) > CONNECTION_TEST_MAX_AGE_MS) {
    add(
      'connection_test',
      false,
      `The latest passing connection test is from ${hoursAgo(facts.now, t.at)}; live mode needs one from the last 24 hours.`,
      'Run `klarna-spiris test` again.',
    );
  } else if (t.fingerprint !== facts.fingerprint || (facts.lastChange && !isAfter(t, facts.lastChange))) {
    add(
      'connection_test',
      false,
      `The connections or settings changed after the latest connection test${facts.lastChange ? ` (${facts.lastChange.what})` : ''}, so it no longer says anything about them.`,
      'Run `klarna-spiris test` again.',
    );
  } else {
    add('connection_test', true, `The connection test passed ${hoursAgo(facts.now, t.at)}.`, null);
  }

  const p = facts.lastPreview;
  const previewFix = 'Run `klarna-spiris preview`, fix what blocks, and preview again.';
  if (!p) {
    add('preview', false, 'No preview has been run.', previewFix);
  } else if (p.blocking > 0) {
    add(
      'preview',
      false,
      `The latest preview has ${p.blocking} blocking issue(s) (${p.ready} of ${p.payouts} payout(s) ready).`,
      previewFix,
    );
  } else if (facts.lastChange && !isAfter(p, facts.lastChange)) {
    add(
      'preview',
      false,
      `The latest preview is older than the last change (${facts.lastChange.what}).`,
      'Run `klarna-spiris preview` again.',
    );
  } else if (p.fingerprint && p.fingerprint !== facts.fingerprint) {
    add(
      'preview',
      false,
      'The connections or settings changed after the latest preview.',
      'Run `klarna-spiris preview` again.',
    );
  } else if (!p.fingerprint && t?.ok && !isAfter(p, t)) {
    // Without its own fingerprint, a preview is known to match the settings only when it
    // ran after the test that fingerprinted them.
    add(
      'preview',
      false,
      'The latest preview ran before the latest connection test, so it may have used other settings.',
      'Run `klarna-spiris preview` again.',
    );
  } else {
    add(
      'preview',
      true,
      `The latest preview has no blocking issues (${p.ready} of ${p.payouts} payout(s) ready).`,
      null,
    );
  }

  add(
    'confirmation',
    facts.confirmed,
    facts.confirmed
      ? 'Going live was confirmed.'
      : 'Going live needs an explicit confirmation: from then on vouchers are booked into the production books.',
    'Confirm with `klarna-spiris mode live --confirm` (or tick the confirmation in the admin page).',
  );

  return { allowed: checks.every((c) => c.ok), checks };
}

/**
 * Where postings may go. Live posts; test posts only into a Spiris sandbox and is
 * preview-only against production books; off does nothing. A paused integration posts
 * nowhere until the cause is fixed.
 */
export function postingAllowed(
  integration: Pick<Integration, 'mode'> & Partial<Pick<Integration, 'status' | 'statusReason'>>,
  spirisConnection: Pick<ConnectionRecord, 'environment'> | null | undefined,
): { allowed: boolean; reason?: string } {
  if (integration.mode === 'off') return { allowed: false, reason: 'The integration is off.' };
  if (integration.status === PAUSED) {
    return {
      allowed: false,
      reason: `The integration is paused: ${integration.statusReason ?? 'see the audit log'}.`,
    };
  }
  if (!spirisConnection) return { allowed: false, reason: 'No Spiris company is connected.' };
  if (integration.mode === 'live') return { allowed: true };
  if (!isProductionSpiris(spirisConnection)) return { allowed: true };
  return {
    allowed: false,
    reason:
      'Test mode against a production Spiris company is preview-only: nothing is posted until the integration goes live (`klarna-spiris mode live --confirm`).',
  };
}

/**
 * A digest of what a connection test or a preview is about: the two connections and the
 * settings. Any change to them makes an earlier test stale.
 */
export function integrationFingerprint(
  integration: Pick<Integration, 'name' | 'klarnaConnectionId' | 'spirisConnectionId' | 'settings'>,
): string {
  let settings: unknown;
  try {
    settings = parseIntegrationSettings(integration.name, integration.settings);
  } catch {
    settings = integration.settings;
  }
  const text = canonicalJson({
    klarna: integration.klarnaConnectionId,
    spiris: integration.spirisConnectionId,
    settings,
  });
  return createHash('sha256').update(text).digest('hex').slice(0, 32);
}

function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}

// ---- facts from the store ------------------------------------------------------------

interface EventRow {
  id: number;
  at: string;
  kind: string;
  data: Record<string, unknown> | null;
}

async function latestEvent(
  db: Kysely<Database>,
  integrationId: string,
  kind: string,
): Promise<EventRow | undefined> {
  const row = await db
    .selectFrom('events')
    .select(['id', 'at', 'kind', 'data_json'])
    .where('integration_id', '=', integrationId)
    .where('kind', '=', kind)
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  return row && toEventRow(row);
}

function toEventRow(row: { id: number; at: string; kind: string; data_json: string | null }): EventRow {
  let data: Record<string, unknown> | null = null;
  try {
    data = row.data_json ? (JSON.parse(row.data_json) as Record<string, unknown>) : null;
  } catch {
    data = null;
  }
  return { id: Number(row.id), at: row.at, kind: row.kind, data };
}

const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);

/** Reads everything evaluateGoLive needs for one integration. */
export async function gatherGoLiveFacts(
  db: Kysely<Database>,
  integrationId: string,
  opts: { confirmed: boolean; now?: Date },
): Promise<GoLiveFacts> {
  const integration = await getIntegration(db, integrationId);
  if (!integration) throw new Error(`integration ${integrationId} not found`);
  const [klarna, spiris] = await Promise.all([
    integration.klarnaConnectionId ? getConnection(db, integration.klarnaConnectionId) : undefined,
    integration.spirisConnectionId ? getConnection(db, integration.spirisConnectionId) : undefined,
  ]);
  const [test, preview] = await Promise.all([
    latestEvent(db, integrationId, CONNECTION_TEST_EVENT),
    latestEvent(db, integrationId, PREVIEW_EVENT),
  ]);

  const changeRow = await db
    .selectFrom('events')
    .select(['id', 'at', 'kind', 'data_json'])
    .where('integration_id', '=', integrationId)
    .where((eb) =>
      eb.or([
        eb('kind', 'in', CHANGE_EVENT_KINDS),
        ...CHANGE_EVENT_PREFIXES.map((p) => eb('kind', 'like', `${p}%`)),
      ]),
    )
    .orderBy('id', 'desc')
    .limit(1)
    .executeTakeFirst();
  const changes: Array<HistoryMark & { what: string }> = [];
  if (changeRow)
    changes.push({
      id: Number(changeRow.id),
      at: changeRow.at,
      what: `${changeRow.kind} at ${changeRow.at}`,
    });
  // Connections made without an event (an import, the admin API) still count as changes.
  for (const c of [klarna, spiris]) {
    if (c) changes.push({ at: c.createdAt, what: `${c.kind} connection ${c.id} created at ${c.createdAt}` });
  }
  const lastChange = changes.reduce<(HistoryMark & { what: string }) | null>(
    (latest, c) => (!latest || c.at > latest.at || (c.at === latest.at && c.id !== undefined) ? c : latest),
    null,
  );

  return {
    now: opts.now ?? new Date(),
    integration,
    klarna: klarna ?? null,
    spiris: spiris ?? null,
    lastConnectionTest: test
      ? {
          id: test.id,
          at: test.at,
          ok: test.data?.ok === true,
          fingerprint: typeof test.data?.fingerprint === 'string' ? test.data.fingerprint : null,
        }
      : null,
    lastPreview: preview
      ? {
          id: preview.id,
          at: preview.at,
          payouts: num(preview.data?.payouts),
          ready: num(preview.data?.ready),
          blocking: preview.data && typeof preview.data.blocking === 'number' ? preview.data.blocking : 1,
          fingerprint: typeof preview.data?.fingerprint === 'string' ? preview.data.fingerprint : null,
        }
      : null,
    lastChange,
    fingerprint: integrationFingerprint(integration),
    confirmed: opts.confirmed,
  };
}

// ---- the one writer of `mode` -------------------------------------------------------

export class GoLiveRefusedError extends Error {
  constructor(
    readonly integrationName: string,
    readonly evaluation: GoLiveEvaluation,
  ) {
    const missing = evaluation.checks.filter((c) => !c.ok);
    super(`Integration "${integrationName}" cannot go live yet: ${missing.map((c) => c.message).join(' ')}`);
    this.name = 'GoLiveRefusedError';
  }
}

export interface SetModeDeps {
  db: Kysely<Database>;
  now?: () => Date;
}

export interface SetModeInput {
  integrationId: string;
  mode: IntegrationMode;
  /** The explicit "yes, book into my production books" for live. */
  confirm?: boolean;
  /** Who: a user name, `cli:<os user>`, `api:<token name>`. */
  actor: string;
  /** Why, when the system changes the mode (e.g. a confirmed merchant change). */
  reason?: string;
}

export interface SetModeResult {
  integration: Integration;
  previousMode: IntegrationMode;
  changed: boolean;
  /** The gate's answer, for live. */
  evaluation?: GoLiveEvaluation;
}

const MODES: readonly IntegrationMode[] = ['off', 'test', 'live'];

/**
 * The only code that writes an integration's mode. Going live passes evaluateGoLive
 * first; turning off or back to test is always allowed, since it only ever stops
 * postings. Every change, and every refused attempt to go live, is in the audit log.
 */
export async function setIntegrationMode(deps: SetModeDeps, input: SetModeInput): Promise<SetModeResult> {
  if (!MODES.includes(input.mode)) {
    throw new Error(`Unknown mode "${String(input.mode)}": use off, test or live.`);
  }
  const now = deps.now ?? (() => new Date());
  const result = await deps.db.transaction().execute(async (trx) => {
    const integration = await getIntegration(trx, input.integrationId);
    if (!integration) throw new Error(`integration ${input.integrationId} not found`);
    const previousMode = integration.mode;
    let evaluation: GoLiveEvaluation | undefined;
    if (input.mode === 'live') {
      evaluation = evaluateGoLive(
        await gatherGoLiveFacts(trx, integration.id, { confirmed: input.confirm === true, now: now() }),
      );
      if (!evaluation.allowed) return { refused: true as const, integration, previousMode, evaluation };
    }
    if (previousMode === input.mode) {
      return { refused: false as const, integration, previousMode, changed: false, evaluation };
    }
    const at = now().toISOString();
    const updated = await trx
      .updateTable('integrations')
      .set({ mode: input.mode, updated_at: at })
      .where('id', '=', integration.id)
      .where('mode', '=', previousMode)
      .executeTakeFirst();
    if (Number(updated.numUpdatedRows) !== 1) {
      throw new Error(`The mode of integration "${integration.name}" changed meanwhile; try again.`);
    }
    await recordEvent(trx, {
      integrationId: integration.id,
      actor: input.actor,
      kind: MODE_CHANGED_EVENT,
      message:
        `Mode of "${integration.name}" changed from ${previousMode} to ${input.mode}` +
        (input.reason ? `: ${input.reason}` : '.'),
      data: {
        from: previousMode,
        to: input.mode,
        confirmed: input.confirm === true,
        ...(input.reason ? { reason: input.reason } : {}),
        ...(evaluation ? { checks: evaluation.checks.map((c) => ({ id: c.id, ok: c.ok })) } : {}),
      },
    });
    const fresh = (await getIntegration(trx, integration.id))!;
    return { refused: false as const, integration: fresh, previousMode, changed: true, evaluation };
  });

  if (result.refused) {
    // Recorded outside the transaction it was decided in, so the attempt is kept even
    // though nothing changed.
    await recordEvent(deps.db, {
      integrationId: result.integration.id,
      actor: input.actor,
      kind: MODE_REFUSED_EVENT,
      message: `Going live with "${result.integration.name}" was refused: ${result.evaluation.checks
        .filter((c) => !c.ok)
        .map((c) => c.id)
        .join(', ')}.`,
      data: { to: 'live', checks: result.evaluation.checks.map((c) => ({ id: c.id, ok: c.ok })) },
    });
    throw new GoLiveRefusedError(result.integration.name, result.evaluation);
  }
  return {
    integration: result.integration,
    previousMode: result.previousMode,
    changed: result.changed,
    ...(result.evaluation ? { evaluation: result.evaluation } : {}),
  };
}
