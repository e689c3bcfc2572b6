import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { PayoutFacts, UnknownDetailedType, VoucherDraft } from '../booking/voucher.ts';
import { isUnknownDetailedType } from '../klarna/klarna.types.ts';
import { assertTransition, type PayoutState } from '../sync/payout-state.ts';
import { newId, nowIso } from './ids.ts';
import { type StoredPayout, toPayout } from './payouts.repository.ts';
import type { Database, KlarnaPayoutTable, SyncLeaseTable, VoucherIntentTable } from './schema.ts';

// Queries of the booking engine: payouts with their plan and attachment state, the
// voucher intents that make every POST resolvable after a crash, and the per-integration
// sync lease. Every state change is a compare-and-set on the state the caller saw, so
// two writers can never both move a payout.

type Db = Kysely<Database> | Transaction<Database>;

export type AttachmentState = 'none' | 'pending' | 'attached';

/** A failure as stored on the payout: a gate failure, or Spiris' own refusal. */
export interface StoredFailure {
  code: string;
  message: string;
  action: string;
  details?: Record<string, unknown>;
}

/** What the last planning of a payout decided. */
export interface StoredPlan {
  status: 'ready' | 'needs_attention' | 'skip';
  draft?: VoucherDraft;
  warnings: string[];
  plannedAt: string;
}

export interface BookingPayout extends StoredPayout {
  state: PayoutState;
  generation: number;
  plan: StoredPlan | null;
  failures: StoredFailure[];
  fiscalYearId: string | null;
  bookedAt: string | null;
  attachmentState: AttachmentState;
  attachmentId: string | null;
  attachmentError: string | null;
  attachmentAttempts: number;
}

export function toBookingPayout(row: Selectable<KlarnaPayoutTable>): BookingPayout {
  return {
    ...toPayout(row),
    state: row.state as PayoutState,
    generation: Number(row.generation),
    plan: row.plan_json ? (JSON.parse(row.plan_json) as StoredPlan) : null,
    failures: row.failures_json ? (JSON.parse(row.failures_json) as StoredFailure[]) : [],
    fiscalYearId: row.fiscal_year_id,
    bookedAt: row.booked_at,
    attachmentState: row.attachment_state as AttachmentState,
    attachmentId: row.attachment_id,
    attachmentError: row.attachment_error,
    attachmentAttempts: Number(row.attachment_attempts),
  };
}

export async function getBookingPayout(db: Db, id: string): Promise<BookingPayout | undefined> {
  const row = await db.selectFrom('klarna_payouts').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toBookingPayout(row);
}

export async function findBookingPayout(
  db: Db,
  integrationId: string,
  paymentReference: string,
): Promise<BookingPayout | undefined> {
  const row = await db
    .selectFrom('klarna_payouts')
    .selectAll()
    .where('integration_id', '=', integrationId)
    .where('payment_reference', '=', paymentReference)
    .orderBy('fetched_at')
    .executeTakeFirst();
  return row && toBookingPayout(row);
}

export interface BookingPayoutFilter {
  integrationId: string;
  states?: readonly PayoutState[];
  /** First payout day included, YYYY-MM-DD. */
  since?: string;
  /** Last payout day included, YYYY-MM-DD. */
  until?: string;
  ids?: readonly string[];
  attachmentState?: AttachmentState;
  limit?: number;
}

export async function listBookingPayouts(db: Db, filter: BookingPayoutFilter): Promise<BookingPayout[]> {
  let q = db.selectFrom('klarna_payouts').selectAll().where('integration_id', '=', filter.integrationId);
  if (filter.states) {
    if (filter.states.length === 0) return [];
    q = q.where('state', 'in', [...filter.states]);
  }
  if (filter.ids) {
    if (filter.ids.length === 0) return [];
    q = q.where('id', 'in', [...filter.ids]);
  }
  if (filter.since) q = q.where('payout_date', '>=', filter.since);
  if (filter.until) q = q.where('payout_date', '<', `${filter.until}T99`);
  if (filter.attachmentState) q = q.where('attachment_state', '=', filter.attachmentState);
  const rows = await q
    .orderBy('payout_date')
    .orderBy('payment_reference')
    .limit(filter.limit ?? 100_000)
    .execute();
  return rows.map(toBookingPayout);
}

export async function countPayoutsByState(db: Db, integrationId: string): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('klarna_payouts')
    .select((eb) => ['state', eb.fn.countAll().as('n')])
    .where('integration_id', '=', integrationId)
    .groupBy('state')
    .execute();
  return Object.fromEntries(rows.map((r) => [r.state, Number(r.n)]));
}

/**
 * What the planner needs from a payout's lines, in one GROUP BY: the types seen, fees
 * by detailed type, sales/returns by purchase country and detailed types nobody knows.
 */
export async function payoutFacts(db: Db, payoutId: string): Promise<Required<PayoutFacts>> {
  const { rows } = await sql<{
    type: string;
    detail: string | null;
    country: string | null;
    detailed_type: string | null;
    lines: unknown;
    total: unknown;
  }>`
    select type,
      case when type = 'FEE' then coalesce(detailed_type, '') end as detail,
      case when type in ('SALE', 'RETURN') then coalesce(purchase_country, '') end as country,
      detailed_type,
      count(*) as lines,
      sum(amount) as total
    from klarna_transactions
    where payout_id = ${payoutId}
    group by 1, 2, 3, 4`.execute(db);
  const types = new Set<string>();
  const feeByDetailedType: Record<string, number> = {};
  const grossByCountry = { sale: {} as Record<string, number>, return: {} as Record<string, number> };
  const unknown = new Map<string, UnknownDetailedType>();
  for (const r of rows) {
    types.add(r.type);
    const total = toSafeInteger(r.total);
    if (r.detail !== null) feeByDetailedType[r.detail] = (feeByDetailedType[r.detail] ?? 0) + total;
    if (r.country !== null) {
      const bucket = r.type === 'SALE' ? grossByCountry.sale : grossByCountry.return;
      bucket[r.country] = (bucket[r.country] ?? 0) + total;
    }
    if (isUnknownDetailedType(r.detailed_type)) {
      const key = `${r.detailed_type}\u0000${r.type}`;
      const u = unknown.get(key) ?? { type: r.type, detailedType: r.detailed_type, lines: 0, amountMinor: 0 };
      unknown.set(key, u);
      u.lines += toSafeInteger(r.lines);
      u.amountMinor += total;
    }
  }
  const unknownDetailedTypes = [...unknown.keys()].sort().map((k) => unknown.get(k)!);
  return { typesSeen: [...types].sort(), feeByDetailedType, grossByCountry, unknownDetailedTypes };
}

// ---- state changes ---------------------------------------------------------------------

export interface StateChange {
  id: string;
  integrationId: string;
  paymentReference: string;
  from: PayoutState;
  to: PayoutState;
  /** When given, the change applies only while the payout is still at this generation. */
  generation?: number;
  set?: Partial<Omit<Selectable<KlarnaPayoutTable>, 'id' | 'state' | 'integration_id'>>;
  reason?: string | null;
  actor: string;
  message: string;
  data?: Record<string, unknown>;
}

/**
 * Moves a payout from `from` to `to` if it is still in `from`, and records the event in
 * the same database transaction. Returns false when someone else moved it first.
 */
export async function changePayoutState(db: Db, change: StateChange): Promise<boolean> {
  assertTransition(change.from, change.to);
  const at = nowIso();
  let q = db
    .updateTable('klarna_payouts')
    .set({
      ...change.set,
      state: change.to,
      ...(change.reason !== undefined ? { state_reason: change.reason } : {}),
      updated_at: at,
    })
    .where('id', '=', change.id)
    .where('state', '=', change.from);
  if (change.generation !== undefined) q = q.where('generation', '=', change.generation);
  const result = await q.executeTakeFirst();
  if (Number(result.numUpdatedRows) !== 1) return false;
  await db
    .insertInto('events')
    .values({
      integration_id: change.integrationId,
      at,
      actor: change.actor,
      kind: `payout.${change.to}`,
      message: change.message,
      data_json: JSON.stringify({
        paymentReference: change.paymentReference,
        from: change.from,
        to: change.to,
        ...change.data,
      }),
    })
    .execute();
  return true;
}

/** Updates plan and reason of a payout whose state stays as it is (re-planned, same verdict). */
export async function updatePayoutPlan(
  db: Db,
  id: string,
  state: PayoutState,
  input: { plan: StoredPlan; failures: StoredFailure[]; reason: string | null; fiscalYearId: string | null },
): Promise<boolean> {
  const result = await db
    .updateTable('klarna_payouts')
    .set({
      plan_json: JSON.stringify(input.plan),
      failures_json: input.failures.length > 0 ? JSON.stringify(input.failures) : null,
      state_reason: input.reason,
      fiscal_year_id: input.fiscalYearId,
      updated_at: nowIso(),
    })
    .where('id', '=', id)
    .where('state', '=', state)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function setPayoutReason(db: Db, id: string, reason: string | null): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set({ state_reason: reason, updated_at: nowIso() })
    .where('id', '=', id)
    .execute();
}

/** Clears the complete mark so the next import fetches the lines again. */
export async function markTransactionsStale(db: Db, ids: readonly string[]): Promise<void> {
  if (ids.length === 0) return;
  await db
    .updateTable('klarna_payouts')
    .set({ transactions_complete: 0, updated_at: nowIso() })
    .where('id', 'in', [...ids])
    .execute();
}

// ---- attachments ---------------------------------------------------------------------

export async function recordAttachmentUploaded(db: Db, id: string, attachmentId: string): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set({ attachment_id: attachmentId, attachment_error: null, updated_at: nowIso() })
    .where('id', '=', id)
    .execute();
}

/** Forgets an uploaded file Spiris no longer has (or gave to another document): upload afresh next time. */
export async function clearAttachmentUpload(db: Db, id: string): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set({ attachment_id: null, updated_at: nowIso() })
    .where('id', '=', id)
    .execute();
}

export async function recordAttachmentLinked(db: Db, id: string): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set({ attachment_state: 'attached', attachment_error: null, updated_at: nowIso() })
    .where('id', '=', id)
    .execute();
}

export async function recordAttachmentFailure(db: Db, id: string, error: string): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set((eb) => ({
      attachment_error: error,
      attachment_attempts: eb('attachment_attempts', '+', 1),
      updated_at: nowIso(),
    }))
    .where('id', '=', id)
    .execute();
}

// ---- voucher intents -------------------------------------------------------------------

export type IntentKind = 'book' | 'reverse';

export interface VoucherIntent {
  id: string;
  payoutId: string;
  kind: IntentKind;
  generation: number;
  status: VoucherIntentTable['status'];
  voucherDate: string;
  marker: string;
  /** The Spiris voucher exactly as POSTed (domain form, amounts in öre). */
  voucher: unknown;
  attempts: number;
  spirisVoucherId: string | null;
  voucherNumber: string | null;
  fiscalYearId: string | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

function toIntent(row: Selectable<VoucherIntentTable>): VoucherIntent {
  return {
    id: row.id,
    payoutId: row.payout_id,
    kind: row.kind,
    generation: Number(row.generation),
    status: row.status,
    voucherDate: row.voucher_date,
    marker: row.marker,
    voucher: JSON.parse(row.voucher_json),
    attempts: Number(row.attempts),
    spirisVoucherId: row.spiris_voucher_id,
    voucherNumber: row.voucher_number,
    fiscalYearId: row.fiscal_year_id,
    error: row.error,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function getIntent(
  db: Db,
  payoutId: string,
  kind: IntentKind,
  generation: number,
): Promise<VoucherIntent | undefined> {
  const row = await db
    .selectFrom('voucher_intents')
    .selectAll()
    .where('payout_id', '=', payoutId)
    .where('kind', '=', kind)
    .where('generation', '=', generation)
    .executeTakeFirst();
  return row && toIntent(row);
}

export async function listIntents(db: Db, payoutId: string): Promise<VoucherIntent[]> {
  const rows = await db
    .selectFrom('voucher_intents')
    .selectAll()
    .where('payout_id', '=', payoutId)
    .orderBy('generation')
    .orderBy('created_at')
    .execute();
  return rows.map(toIntent);
}

/**
 * Records (or re-arms) the intent to POST a voucher: status pending, attempts + 1. Meant
 * to run in the transaction that moves the payout into posting / reversing.
 */
export async function armIntent(
  db: Db,
  input: {
    payoutId: string;
    kind: IntentKind;
    generation: number;
    voucherDate: string;
    marker: string;
    voucher: unknown;
    fiscalYearId: string | null;
  },
): Promise<VoucherIntent> {
  const at = nowIso();
  const voucherJson = JSON.stringify(input.voucher);
  await db
    .insertInto('voucher_intents')
    .values({
      id: newId(),
      payout_id: input.payoutId,
      kind: input.kind,
      generation: input.generation,
      status: 'pending',
      voucher_date: input.voucherDate,
      marker: input.marker,
      voucher_json: voucherJson,
      attempts: 1,
      spiris_voucher_id: null,
      voucher_number: null,
      fiscal_year_id: input.fiscalYearId,
      error: null,
      created_at: at,
      updated_at: at,
    })
    .onConflict((oc) =>
      oc.columns(['payout_id', 'kind', 'generation']).doUpdateSet({
        status: 'pending',
        voucher_date: input.voucherDate,
        marker: input.marker,
        voucher_json: voucherJson,
        fiscal_year_id: input.fiscalYearId,
        attempts: sql<number>`voucher_intents.attempts + 1`,
        error: null,
        updated_at: at,
      }),
    )
    .execute();
  const intent = await getIntent(db, input.payoutId, input.kind, input.generation);
  if (!intent)
    throw new Error(`voucher intent for payout ${input.payoutId} vanished right after it was written`);
  return intent;
}

export async function resolveIntent(
  db: Db,
  id: string,
  outcome: {
    status: VoucherIntentTable['status'];
    spirisVoucherId?: string | null;
    voucherNumber?: string | null;
    fiscalYearId?: string | null;
    error?: string | null;
  },
): Promise<void> {
  await db
    .updateTable('voucher_intents')
    .set({
      status: outcome.status,
      ...(outcome.spirisVoucherId !== undefined ? { spiris_voucher_id: outcome.spirisVoucherId } : {}),
      ...(outcome.voucherNumber !== undefined ? { voucher_number: outcome.voucherNumber } : {}),
      ...(outcome.fiscalYearId !== undefined ? { fiscal_year_id: outcome.fiscalYearId } : {}),
      ...(outcome.error !== undefined ? { error: outcome.error } : {}),
      updated_at: nowIso(),
    })
    .where('id', '=', id)
    .execute();
}

/** Notes why an in-flight intent is still open (e.g. the lookup failed) without changing it. */
export async function noteIntentError(db: Db, id: string, error: string): Promise<void> {
  await db.updateTable('voucher_intents').set({ error, updated_at: nowIso() }).where('id', '=', id).execute();
}

// ---- sync lease ------------------------------------------------------------------------

export interface SyncLease {
  integrationId: string;
  holder: string;
  purpose: string;
  acquiredAt: string;
  expiresAt: string;
}

function toLease(row: Selectable<SyncLeaseTable>): SyncLease {
  return {
    integrationId: row.integration_id,
    holder: row.holder,
    purpose: row.purpose,
    acquiredAt: row.acquired_at,
    expiresAt: row.expires_at,
  };
}

export async function getSyncLease(db: Db, integrationId: string): Promise<SyncLease | undefined> {
  const row = await db
    .selectFrom('sync_leases')
    .selectAll()
    .where('integration_id', '=', integrationId)
    .executeTakeFirst();
  return row && toLease(row);
}

/**
 * Takes the lease when nobody holds it or the holder's time ran out, or when
 * `replaceHolder` still holds it (a holder known to be dead). A single conditional
 * statement each, so two processes racing for it cannot both win.
 */
export async function tryAcquireSyncLease(
  db: Db,
  input: {
    integrationId: string;
    holder: string;
    purpose: string;
    expiresAt: string;
    now: string;
    replaceHolder?: string;
  },
): Promise<{ acquired: true } | { acquired: false; current: SyncLease | undefined }> {
  const values = {
    holder: input.holder,
    purpose: input.purpose,
    acquired_at: input.now,
    expires_at: input.expiresAt,
  };
  const inserted = await db
    .insertInto('sync_leases')
    .values({ integration_id: input.integrationId, ...values })
    .onConflict((oc) => oc.column('integration_id').doNothing())
    .executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1) return { acquired: true };
  const taken = await db
    .updateTable('sync_leases')
    .set(values)
    .where('integration_id', '=', input.integrationId)
    .where((eb) =>
      eb.or([
        eb('expires_at', '<', input.now),
        ...(input.replaceHolder ? [eb('holder', '=', input.replaceHolder)] : []),
      ]),
    )
    .executeTakeFirst();
  if (Number(taken.numUpdatedRows) === 1) return { acquired: true };
  return { acquired: false, current: await getSyncLease(db, input.integrationId) };
}

export async function renewSyncLease(
  db: Db,
  input: { integrationId: string; holder: string; expiresAt: string },
): Promise<boolean> {
  const result = await db
    .updateTable('sync_leases')
    .set({ expires_at: input.expiresAt })
    .where('integration_id', '=', input.integrationId)
    .where('holder', '=', input.holder)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function releaseSyncLease(
  db: Db,
  input: { integrationId: string; holder: string },
): Promise<void> {
  await db
    .deleteFrom('sync_leases')
    .where('integration_id', '=', input.integrationId)
    .where('holder', '=', input.holder)
    .execute();
}

// PostgreSQL returns SUM over bigint as numeric (a string).
function toSafeInteger(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`aggregate out of the safe integer range: ${String(value)}`);
  return n;
}
