import type { Kysely, Selectable } from 'kysely';
import { newId, nowIso } from './ids.ts';
import type { AdminSessionTable, ApiTokenTable, Database } from './schema.ts';

// The admin surface: the one admin login, its sessions, API tokens, and the read
// models the admin pages and /metrics show. Hashes stay in here and in src/admin/auth.

export const ADMIN_USERNAME = 'admin';

export interface AdminCredential {
  userId: string;
  passwordHash: string;
}

export async function getAdminCredential(db: Kysely<Database>): Promise<AdminCredential | undefined> {
  const row = await db
    .selectFrom('admin_users')
    .select(['id', 'password_hash'])
    .where('username', '=', ADMIN_USERNAME)
    .executeTakeFirst();
  return row && { userId: row.id, passwordHash: row.password_hash };
}

export async function hasAdminPassword(db: Kysely<Database>): Promise<boolean> {
  return (await getAdminCredential(db)) !== undefined;
}

/**
 * First-run setup: stores the password only if none exists yet. Two browsers racing
 * through the setup page both reach here; the unique username lets exactly one win.
 */
export async function createAdminPasswordIfAbsent(
  db: Kysely<Database>,
  passwordHash: string,
): Promise<boolean> {
  const now = nowIso();
  const result = await db
    .insertInto('admin_users')
    .values({
      id: newId(),
      username: ADMIN_USERNAME,
      password_hash: passwordHash,
      created_at: now,
      updated_at: now,
    })
    .onConflict((oc) => oc.column('username').doNothing())
    .executeTakeFirst();
  return Number(result.numInsertedOrUpdatedRows ?? 0n) === 1;
}

/** Sets or replaces the password and ends every session, so a changed password locks out old logins. */
export async function setAdminPassword(db: Kysely<Database>, passwordHash: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    const existing = await getAdminCredential(trx);
    if (!existing) {
      await createAdminPasswordIfAbsent(trx, passwordHash);
      return;
    }
    await trx
      .updateTable('admin_users')
      .set({ password_hash: passwordHash, updated_at: nowIso() })
      .where('id', '=', existing.userId)
      .execute();
    await trx.deleteFrom('admin_sessions').where('user_id', '=', existing.userId).execute();
  });
}

// ---- sessions -------------------------------------------------------------------

export interface AdminSession {
  idHash: string;
  userId: string;
  csrfToken: string;
  createdAt: string;
  lastSeenAt: string;
  expiresAt: string;
}

function toSession(row: Selectable<AdminSessionTable>): AdminSession {
  return {
    idHash: row.id_hash,
    userId: row.user_id,
    csrfToken: row.csrf_token,
    createdAt: row.created_at,
    lastSeenAt: row.last_seen_at,
    expiresAt: row.expires_at,
  };
}

export async function createSession(
  db: Kysely<Database>,
  input: {
    idHash: string;
    userId: string;
    csrfToken: string;
    now: string;
    expiresAt: string;
    ip?: string | null;
    userAgent?: string | null;
  },
): Promise<AdminSession> {
  const row = {
    id_hash: input.idHash,
    user_id: input.userId,
    csrf_token: input.csrfToken,
    created_at: input.now,
    last_seen_at: input.now,
    expires_at: input.expiresAt,
    ip: input.ip ?? null,
    user_agent: input.userAgent?.slice(0, 300) ?? null,
  };
  await db.insertInto('admin_sessions').values(row).execute();
  return toSession(row);
}

/** A session that exists and has not expired at `now` (ISO text compares in time order). */
export async function findActiveSession(
  db: Kysely<Database>,
  idHash: string,
  now: string,
): Promise<AdminSession | undefined> {
  const row = await db
    .selectFrom('admin_sessions')
    .selectAll()
    .where('id_hash', '=', idHash)
    .where('expires_at', '>', now)
    .executeTakeFirst();
  return row && toSession(row);
}

export async function extendSession(
  db: Kysely<Database>,
  idHash: string,
  lastSeenAt: string,
  expiresAt: string,
): Promise<void> {
  await db
    .updateTable('admin_sessions')
    .set({ last_seen_at: lastSeenAt, expires_at: expiresAt })
    .where('id_hash', '=', idHash)
    .execute();
}

export async function deleteSession(db: Kysely<Database>, idHash: string): Promise<void> {
  await db.deleteFrom('admin_sessions').where('id_hash', '=', idHash).execute();
}

export async function deleteExpiredSessions(db: Kysely<Database>, now: string): Promise<number> {
  const result = await db.deleteFrom('admin_sessions').where('expires_at', '<=', now).executeTakeFirst();
  return Number(result.numDeletedRows);
}

// ---- API tokens -----------------------------------------------------------------

/** A token as it may be shown: its name and masked hint, never the token or its hash. */
export interface ApiTokenRecord {
  id: string;
  name: string;
  hint: string;
  createdBy: string;
  createdAt: string;
  lastUsedAt: string | null;
  revokedAt: string | null;
}

type ApiTokenRow = Omit<Selectable<ApiTokenTable>, 'token_hash'>;

const TOKEN_PUBLIC_COLUMNS = [
  'id',
  'name',
  'hint',
  'created_by',
  'created_at',
  'last_used_at',
  'revoked_at',
] as const;

function toToken(row: ApiTokenRow): ApiTokenRecord {
  return {
    id: row.id,
    name: row.name,
    hint: row.hint,
    createdBy: row.created_by,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

export async function insertApiToken(
  db: Kysely<Database>,
  input: { name: string; tokenHash: string; hint: string; createdBy: string },
): Promise<ApiTokenRecord> {
  const row = {
    id: newId(),
    name: input.name,
    hint: input.hint,
    created_by: input.createdBy,
    created_at: nowIso(),
    last_used_at: null,
    revoked_at: null,
  };
  await db
    .insertInto('api_tokens')
    .values({ ...row, token_hash: input.tokenHash })
    .execute();
  return toToken(row);
}

export async function listApiTokens(db: Kysely<Database>): Promise<ApiTokenRecord[]> {
  const rows = await db
    .selectFrom('api_tokens')
    .select(TOKEN_PUBLIC_COLUMNS)
    .orderBy('created_at', 'desc')
    .orderBy('id')
    .execute();
  return rows.map(toToken);
}

export async function findActiveApiToken(
  db: Kysely<Database>,
  tokenHash: string,
): Promise<ApiTokenRecord | undefined> {
  const row = await db
    .selectFrom('api_tokens')
    .select(TOKEN_PUBLIC_COLUMNS)
    .where('token_hash', '=', tokenHash)
    .where('revoked_at', 'is', null)
    .executeTakeFirst();
  return row && toToken(row);
}

export async function markApiTokenUsed(db: Kysely<Database>, id: string, at: string): Promise<void> {
  await db.updateTable('api_tokens').set({ last_used_at: at }).where('id', '=', id).execute();
}

/** Revokes by id, or by name when it names exactly one active token. False when nothing matched. */
export async function revokeApiToken(
  db: Kysely<Database>,
  idOrName: string,
): Promise<ApiTokenRecord | undefined> {
  const candidates = await db
    .selectFrom('api_tokens')
    .select(TOKEN_PUBLIC_COLUMNS)
    .where('revoked_at', 'is', null)
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .execute();
  const byId = candidates.find((c) => c.id === idOrName);
  const target = byId ?? (candidates.length === 1 ? candidates[0] : undefined);
  if (!target) return undefined;
  const revokedAt = nowIso();
  await db.updateTable('api_tokens').set({ revoked_at: revokedAt }).where('id', '=', target.id).execute();
  return toToken({ ...target, revoked_at: revokedAt });
}

// ---- read models for the admin pages and /metrics --------------------------------

export interface RunSummary {
  id: string;
  kind: string;
  status: 'running' | 'succeeded' | 'failed';
  startedAt: string;
  finishedAt: string | null;
  error: string | null;
}

export interface IntegrationActivity {
  lastRun: RunSummary | null;
  lastSuccessAt: string | null;
  /** Payout count per state, e.g. { booked: 12, needs_attention: 1 }. */
  payoutsByState: Record<string, number>;
}

/**
 * Latest run, last success and payout states per integration, in three grouped
 * queries; all integrations, or the one named by `integrationId`.
 */
export async function listIntegrationActivity(
  db: Kysely<Database>,
  opts: { integrationId?: string } = {},
): Promise<Map<string, IntegrationActivity>> {
  const only = opts.integrationId;
  const [lastRuns, successes, payoutCounts] = await Promise.all([
    db
      .selectFrom('sync_runs as r')
      .select(['r.id', 'r.integration_id', 'r.kind', 'r.status', 'r.started_at', 'r.finished_at', 'r.error'])
      .where('r.integration_id', 'is not', null)
      .$if(only !== undefined, (q) => q.where('r.integration_id', '=', only!))
      .where((eb) =>
        eb(
          'r.started_at',
          '=',
          eb
            .selectFrom('sync_runs as r2')
            .select((e) => e.fn.max('r2.started_at').as('m'))
            .whereRef('r2.integration_id', '=', 'r.integration_id'),
        ),
      )
      .execute(),
    db
      .selectFrom('sync_runs')
      .select(['integration_id', (eb) => eb.fn.max('finished_at').as('last_success')])
      .where('status', '=', 'succeeded')
      .where('integration_id', 'is not', null)
      .$if(only !== undefined, (q) => q.where('integration_id', '=', only!))
      .groupBy('integration_id')
      .execute(),
    db
      .selectFrom('klarna_payouts')
      .select(['integration_id', 'state', (eb) => eb.fn.countAll().as('n')])
      .$if(only !== undefined, (q) => q.where('integration_id', '=', only!))
      .groupBy(['integration_id', 'state'])
      .execute(),
  ]);

  const out = new Map<string, IntegrationActivity>();
  const entry = (id: string): IntegrationActivity => {
    let e = out.get(id);
    if (!e) {
      e = { lastRun: null, lastSuccessAt: null, payoutsByState: {} };
      out.set(id, e);
    }
    return e;
  };
  for (const r of lastRuns) {
    const e = entry(r.integration_id!);
    // Two runs can share a start instant; either is a fair "latest".
    if (!e.lastRun || r.id > e.lastRun.id) {
      e.lastRun = {
        id: r.id,
        kind: r.kind,
        status: r.status,
        startedAt: r.started_at,
        finishedAt: r.finished_at,
        error: r.error,
      };
    }
  }
  for (const s of successes) entry(s.integration_id!).lastSuccessAt = s.last_success ?? null;
  for (const p of payoutCounts) entry(p.integration_id).payoutsByState[p.state] = Number(p.n);
  return out;
}

/** A payout as the admin pages list it: no raw payload, amount in minor units. */
export interface PayoutListItem {
  id: string;
  paymentReference: string;
  payoutDate: string;
  currencyCode: string;
  settlementAmountMinor: number;
  transactionCount: number | null;
  state: string;
  stateReason: string | null;
  voucherNumber: string | null;
}

export async function listPayoutsForIntegration(
  db: Kysely<Database>,
  integrationId: string,
  opts: { limit?: number; offset?: number } = {},
): Promise<{ items: PayoutListItem[]; total: number }> {
  const [rows, count] = await Promise.all([
    db
      .selectFrom('klarna_payouts')
      .select([
        'id',
        'payment_reference',
        'payout_date',
        'currency_code',
        'settlement_amount',
        'transaction_count',
        'state',
        'state_reason',
        'voucher_number',
      ])
      .where('integration_id', '=', integrationId)
      .orderBy('payout_date', 'desc')
      .orderBy('payment_reference', 'desc')
      .limit(opts.limit ?? 50)
      .offset(opts.offset ?? 0)
      .execute(),
    db
      .selectFrom('klarna_payouts')
      .select((eb) => eb.fn.countAll().as('n'))
      .where('integration_id', '=', integrationId)
      .executeTakeFirstOrThrow(),
  ]);
  return {
    total: Number(count.n),
    items: rows.map((r) => ({
      id: r.id,
      paymentReference: r.payment_reference,
      payoutDate: r.payout_date,
      currencyCode: r.currency_code,
      settlementAmountMinor: Number(r.settlement_amount),
      transactionCount: r.transaction_count,
      state: r.state,
      stateReason: r.state_reason,
      voucherNumber: r.voucher_number,
    })),
  };
}
