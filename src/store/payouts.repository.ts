import type SqliteDatabase from 'better-sqlite3';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type {
  KlarnaPayout,
  KlarnaTransaction,
  PayoutTotals,
  TransactionRecord,
} from '../klarna/klarna.types.ts';
import {
  type DetailedTypeSums,
  type Reconciliation,
  sortedDetailedTypes,
  type TransactionSums,
  type TypeSums,
} from '../klarna/reconcile.ts';
import { nativeSqlite } from './db.ts';
import { newId, nowIso } from './ids.ts';
import type { Database, KlarnaPayoutTable, KlarnaTransactionTable } from './schema.ts';

type Db = Kysely<Database> | Transaction<Database>;

/** A stored Klarna payout as the rest of the product sees it. */
export interface StoredPayout {
  id: string;
  integrationId: string;
  merchantId: string;
  paymentReference: string;
  payoutDate: string;
  currencyCode: string;
  merchantSettlementType: string;
  settlementAmount: number;
  totals: PayoutTotals;
  raw: Record<string, unknown>;
  transactionCount: number | null;
  transactionsComplete: boolean;
  unknownTypes: string[];
  /** detailed_type values this version does not know; flagged, not blocking. */
  unknownDetailedTypes: string[];
  reconciled: boolean | null;
  reconciliation: Reconciliation | null;
  state: string;
  stateReason: string | null;
  voucherId: string | null;
  voucherNumber: string | null;
  fetchedAt: string;
  updatedAt: string;
}

export interface StoredTransaction {
  payoutId: string;
  seq: number;
  paymentReference: string;
  type: string;
  detailedType: string | null;
  amount: number;
  currencyCode: string;
  orderId: string | null;
  captureId: string | null;
  refundId: string | null;
  shortOrderId: string | null;
  merchantReference1: string | null;
  merchantReference2: string | null;
  purchaseCountry: string | null;
  vatRate: number | null;
  vatAmount: number | null;
  saleDate: string | null;
  captureDate: string | null;
  knownType: boolean;
  /** The line as Klarna sent it, rebuilt by transactionLine() from the columns and extras. */
  raw: Record<string, unknown>;
}

export type UpsertStatus = 'new' | 'changed' | 'unchanged';

// SQLite caps bind parameters (32,766 in current builds); 20 columns × 200 rows stays far
// below it and keeps each statement small for PostgreSQL too.
export const TRANSACTION_INSERT_CHUNK = 200;

export function toPayout(row: Selectable<KlarnaPayoutTable>): StoredPayout {
  return {
    id: row.id,
    integrationId: row.integration_id,
    merchantId: row.merchant_id,
    paymentReference: row.payment_reference,
    payoutDate: row.payout_date,
    currencyCode: row.currency_code,
    merchantSettlementType: row.merchant_settlement_type,
    settlementAmount: Number(row.settlement_amount),
    totals: JSON.parse(row.totals_json) as PayoutTotals,
    raw: JSON.parse(row.raw_json) as Record<string, unknown>,
    transactionCount: row.transaction_count === null ? null : Number(row.transaction_count),
    transactionsComplete: Number(row.transactions_complete) === 1,
    unknownTypes: row.unknown_types_json ? (JSON.parse(row.unknown_types_json) as string[]) : [],
    unknownDetailedTypes: row.unknown_detailed_types_json
      ? (JSON.parse(row.unknown_detailed_types_json) as string[])
      : [],
    reconciled: row.reconciled === null ? null : Number(row.reconciled) === 1,
    reconciliation: row.reconciliation_json ? parseReconciliation(row.reconciliation_json) : null,
    state: row.state,
    stateReason: row.state_reason,
    voucherId: row.voucher_id,
    voucherNumber: row.voucher_number,
    fetchedAt: row.fetched_at,
    updatedAt: row.updated_at,
  };
}

/** A stored reconciliation; one made before detailed types were checked lacks their fields. */
function parseReconciliation(json: string): Reconciliation {
  const r = JSON.parse(json) as Reconciliation;
  r.unknownDetailedTypes ??= [];
  r.warnings ??= [];
  return r;
}

function toTransaction(row: Selectable<KlarnaTransactionTable>): StoredTransaction {
  return {
    payoutId: row.payout_id,
    seq: Number(row.seq),
    paymentReference: row.payment_reference,
    type: row.type,
    detailedType: row.detailed_type,
    amount: Number(row.amount),
    currencyCode: row.currency_code,
    orderId: row.order_id,
    captureId: row.capture_id,
    refundId: row.refund_id,
    shortOrderId: row.short_order_id,
    merchantReference1: row.merchant_reference1,
    merchantReference2: row.merchant_reference2,
    purchaseCountry: row.purchase_country,
    vatRate: row.vat_rate === null ? null : Number(row.vat_rate),
    vatAmount: row.vat_amount === null ? null : Number(row.vat_amount),
    saleDate: row.sale_date,
    captureDate: row.capture_date,
    knownType: Number(row.known_type) === 1,
    raw: transactionLine(row),
  };
}

/** JSON with sorted keys, so a payout re-sent with its fields in another order is not "changed". */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(
          Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)),
        )
      : v,
  );
}

/**
 * Inserts or updates a payout on its natural key (integration, merchant, payment
 * reference). A payout whose JSON changed loses its transactions_complete mark, so its
 * lines are fetched again.
 */
export async function upsertPayout(
  db: Kysely<Database>,
  input: { integrationId: string; payout: KlarnaPayout; raw: Record<string, unknown> },
  now: () => Date = () => new Date(),
): Promise<{ payout: StoredPayout; status: UpsertStatus }> {
  const { integrationId, payout, raw } = input;
  const settlement = payout.totals.settlement_amount;
  if (typeof settlement !== 'number') {
    throw new Error(`payout ${payout.payment_reference} has no totals.settlement_amount`);
  }
  const rawJson = canonicalJson(raw);
  const at = nowIso(now);
  const fields = {
    payout_date: payout.payout_date,
    currency_code: payout.currency_code,
    merchant_settlement_type: payout.merchant_settlement_type,
    settlement_amount: settlement,
    totals_json: canonicalJson(payout.totals),
    raw_json: rawJson,
  };

  const find = () =>
    db
      .selectFrom('klarna_payouts')
      .selectAll()
      .where('integration_id', '=', integrationId)
      .where('merchant_id', '=', payout.merchant_id)
      .where('payment_reference', '=', payout.payment_reference)
      .executeTakeFirst();

  let existing = await find();
  if (!existing) {
    const inserted = await db
      .insertInto('klarna_payouts')
      .values({
        id: newId(),
        integration_id: integrationId,
        merchant_id: payout.merchant_id,
        payment_reference: payout.payment_reference,
        ...fields,
        transaction_count: null,
        transactions_complete: 0,
        unknown_types_json: null,
        unknown_detailed_types_json: null,
        reconciled: null,
        reconciliation_json: null,
        state: 'discovered',
        state_reason: null,
        voucher_id: null,
        voucher_number: null,
        fetched_at: at,
        updated_at: at,
      })
      .onConflict((oc) => oc.columns(['integration_id', 'merchant_id', 'payment_reference']).doNothing())
      .executeTakeFirst();
    existing = await find();
    if (!existing) throw new Error(`payout ${payout.payment_reference} vanished right after it was stored`);
    // Another writer may have won the insert race; then this call is an ordinary re-read.
    if (Number(inserted.numInsertedOrUpdatedRows ?? 0n) === 1)
      return { payout: toPayout(existing), status: 'new' };
  }
  if (existing.raw_json === rawJson) return { payout: toPayout(existing), status: 'unchanged' };

  await db
    .updateTable('klarna_payouts')
    .set({
      ...fields,
      transactions_complete: 0,
      reconciled: null,
      reconciliation_json: null,
      fetched_at: at,
      updated_at: at,
    })
    .where('id', '=', existing.id)
    .execute();
  const updated = await db
    .selectFrom('klarna_payouts')
    .selectAll()
    .where('id', '=', existing.id)
    .executeTakeFirstOrThrow();
  return { payout: toPayout(updated), status: 'changed' };
}

/**
 * Starts a fresh load of a payout's lines: drops what an earlier (possibly crashed) run
 * stored and clears the complete mark, which is set again only after the last page.
 */
export async function beginTransactionRefresh(db: Kysely<Database>, payoutId: string): Promise<void> {
  await db.transaction().execute(async (trx) => {
    await trx
      .updateTable('klarna_payouts')
      .set({
        transactions_complete: 0,
        transaction_count: null,
        reconciled: null,
        reconciliation_json: null,
        updated_at: nowIso(),
      })
      .where('id', '=', payoutId)
      .execute();
    await trx.deleteFrom('klarna_transactions').where('payout_id', '=', payoutId).execute();
  });
}

/**
 * Runs writes of the import (payouts, their lines, the complete mark) with commits that
 * SQLite does not sync to disk one by one; `fn` must use only the handle it is given.
 *
 * Everything the import writes can be fetched from Klarna again, and is only ever
 * trusted after a payout's complete mark. Every other write of the store (voucher
 * intents, booking records) keeps synchronous=FULL: losing one of those after a POST
 * could book a voucher twice. In WAL mode commits reach the disk in order and a FULL
 * commit's sync covers every frame before it, so a power loss can only take a tail of
 * import commits after the last synced one: no booking record survives without the
 * lines and marks it was planned from, and what is lost is fetched again next run.
 *
 * The level is set on the one SQLite connection, held for the whole of `fn` (Kysely
 * queues everyone else meanwhile), and restored before it is let go, so no other write
 * can ever run at the lower level. PostgreSQL is left as it is.
 */
export async function withImportDurability<T>(
  db: Kysely<Database>,
  fn: (db: Kysely<Database>) => Promise<T>,
): Promise<T> {
  const sqlite = nativeSqlite(db);
  if (!sqlite) return fn(db);
  const pragmas = synchronousPragmas(sqlite);
  return db.connection().execute(async (connection) => {
    const level = pragmas.read.get() as number;
    pragmas.set(NORMAL).run();
    try {
      return await fn(connection);
    } finally {
      pragmas.set(level).run();
    }
  });
}

const NORMAL = 1;
type SqliteHandle = NonNullable<ReturnType<typeof nativeSqlite>>;
type SqliteStatement = SqliteDatabase.Statement<[]>;

// Prepared once per handle: pragma() prepares afresh on every call, three times per page.
const synchronousStatements = new WeakMap<
  SqliteHandle,
  { read: SqliteStatement; set: (level: number) => SqliteStatement }
>();

function synchronousPragmas(sqlite: SqliteHandle) {
  let pragmas = synchronousStatements.get(sqlite);
  if (!pragmas) {
    const levels = new Map<number, SqliteStatement>();
    pragmas = {
      read: sqlite.prepare<[]>('pragma synchronous').pluck(),
      set: (level) => {
        if (!Number.isInteger(level) || level < 0 || level > 3) {
          throw new Error(`unexpected SQLite synchronous level ${level}`);
        }
        let statement = levels.get(level);
        if (!statement) {
          statement = sqlite.prepare<[]>(`pragma synchronous = ${level}`);
          levels.set(level, statement);
        }
        return statement;
      },
    };
    synchronousStatements.set(sqlite, pragmas);
  }
  return pragmas;
}

/**
 * Stores one page of lines with consecutive seq numbers from `firstSeq`. A page is
 * written in one DB transaction, in chunks, so a page is either fully there or absent.
 */
export async function insertTransactionPage(
  db: Kysely<Database>,
  input: {
    payoutId: string;
    paymentReference: string;
    firstSeq: number;
    records: readonly TransactionRecord[];
  },
): Promise<number> {
  const { payoutId, paymentReference, firstSeq, records } = input;
  if (records.length === 0) return 0;
  const rows = records.map((r, i) => transactionValues(payoutId, paymentReference, firstSeq + i, r));
  const native = nativeSqlite(db);
  if (native) {
    // SQLite: cached prepared statements in one transaction per page, about twice as fast
    // as Kysely preparing a fresh multi-row INSERT per chunk. It runs while holding
    // Kysely's connection, so it can never land inside someone else's transaction.
    const insert = nativeInsert(native);
    await withImportDurability(db, async () => insert(rows));
    return rows.length;
  }
  await db.transaction().execute(async (trx) => {
    for (let i = 0; i < rows.length; i += TRANSACTION_INSERT_CHUNK) {
      await trx
        .insertInto('klarna_transactions')
        .values(rows.slice(i, i + TRANSACTION_INSERT_CHUNK).map(transactionRowObject))
        .execute();
    }
  });
  return rows.length;
}

/** Typed columns that hold the line's field of the same name. */
const LINE_COLUMNS = [
  'payment_reference',
  'type',
  'detailed_type',
  'amount',
  'currency_code',
  'order_id',
  'capture_id',
  'refund_id',
  'short_order_id',
  'merchant_reference1',
  'merchant_reference2',
  'purchase_country',
  'vat_rate',
  'vat_amount',
  'sale_date',
  'capture_date',
] as const satisfies ReadonlyArray<keyof KlarnaTransactionTable & keyof KlarnaTransaction>;
type LineColumn = (typeof LINE_COLUMNS)[number];
const NUMERIC_LINE_COLUMNS = new Set<string>(['amount', 'vat_rate', 'vat_amount']);

const TRANSACTION_COLUMNS = [
  'payout_id',
  'seq',
  ...LINE_COLUMNS,
  'known_type',
  'extra_json',
] as const satisfies ReadonlyArray<keyof KlarnaTransactionTable>;
/** Where each line column sits in an insert's values. */
const LINE_COLUMN_AT = new Map<string, number>(LINE_COLUMNS.map((c, i) => [c, i + 2]));

type TransactionValues = unknown[];

const nativeInserts = new WeakMap<
  NonNullable<ReturnType<typeof nativeSqlite>>,
  (rows: TransactionValues[]) => void
>();

// Rows per statement on the SQLite path: each run() has a fixed cost in the driver, and
// ten rows a statement pays it a tenth as often (about 15 % of the insert time).
const NATIVE_ROWS_PER_STATEMENT = 10;

function nativeInsert(
  sqlite: NonNullable<ReturnType<typeof nativeSqlite>>,
): (rows: TransactionValues[]) => void {
  let insert = nativeInserts.get(sqlite);
  if (!insert) {
    const prepare = (rows: number) => {
      const tuple = `(${TRANSACTION_COLUMNS.map(() => '?').join(', ')})`;
      return sqlite.prepare(
        `insert into klarna_transactions (${TRANSACTION_COLUMNS.join(', ')}) values ${Array(rows).fill(tuple).join(', ')}`,
      );
    };
    const one = prepare(1);
    const many = prepare(NATIVE_ROWS_PER_STATEMENT);
    const width = TRANSACTION_COLUMNS.length;
    const values: unknown[] = new Array(width * NATIVE_ROWS_PER_STATEMENT);
    insert = sqlite.transaction((rows: TransactionValues[]) => {
      let i = 0;
      for (; i + NATIVE_ROWS_PER_STATEMENT <= rows.length; i += NATIVE_ROWS_PER_STATEMENT) {
        for (let r = 0; r < NATIVE_ROWS_PER_STATEMENT; r++) {
          const row = rows[i + r]!;
          for (let c = 0; c < width; c++) values[r * width + c] = row[c];
        }
        many.run(values);
      }
      for (; i < rows.length; i++) one.run(rows[i]!);
    });
    nativeInserts.set(sqlite, insert);
  }
  return insert;
}

/** One line as insert values, in TRANSACTION_COLUMNS order (the round-trip test holds it there). */
function transactionValues(
  payoutId: string,
  paymentReference: string,
  seq: number,
  record: TransactionRecord,
): TransactionValues {
  const t = record.transaction;
  const values: TransactionValues = [
    payoutId,
    seq,
    t.payment_reference || paymentReference,
    t.type,
    t.detailed_type ?? null,
    t.amount,
    t.currency_code,
    t.order_id ?? null,
    t.capture_id ?? null,
    t.refund_id ?? null,
    t.short_order_id ?? null,
    t.merchant_reference1 ?? null,
    t.merchant_reference2 ?? null,
    t.purchase_country ?? null,
    t.vat_rate ?? null,
    t.vat_amount ?? null,
    t.sale_date ?? null,
    t.capture_date ?? null,
    record.knownType ? 1 : 0,
    null,
  ];
  values[values.length - 1] = extraJson(record.raw, values);
  return values;
}

function transactionRowObject(values: TransactionValues): KlarnaTransactionTable {
  const row: Record<string, unknown> = {};
  TRANSACTION_COLUMNS.forEach((c, i) => {
    row[c] = values[i];
  });
  return row as unknown as KlarnaTransactionTable;
}

/**
 * What of a line its columns do not hold: every field beyond them, and every typed
 * field whose column does not equal what was sent (a null, which a NULL column would
 * confuse with a missing field, or a payment_reference the payout's filled in for).
 * Written key by key rather than as a copied object: fewer allocations per line, and a
 * field named __proto__ stays a field.
 */
function extraJson(raw: Record<string, unknown>, values: TransactionValues): string {
  let json = '';
  for (const key of Object.keys(raw)) {
    const value = raw[key];
    const at = LINE_COLUMN_AT.get(key);
    if (at !== undefined && value !== null && values[at] === value) continue;
    const encoded = JSON.stringify(value);
    // What JSON.stringify(raw) would leave out (undefined, functions) is not part of the line.
    if (encoded === undefined) continue;
    json += `${json === '' ? '{' : ','}${jsonKey(key)}:${encoded}`;
  }
  json = json === '' ? '{}' : `${json}}`;
  // payment_reference is the one column filled in from outside the line (the payout's);
  // every other column is NULL when its field is missing, so it cannot invent one.
  return raw.payment_reference === undefined ? `[${json},["payment_reference"]]` : json;
}

// Klarna sends the same few field names on every line; encoding each once saves a
// noticeable share of extraJson. Bounded, so odd payloads cannot grow it without end.
const encodedKeys = new Map<string, string>();
function jsonKey(key: string): string {
  let encoded = encodedKeys.get(key);
  if (encoded === undefined) {
    encoded = JSON.stringify(key);
    if (encodedKeys.size < 1_000) encodedKeys.set(key, encoded);
  }
  return encoded;
}

/**
 * The line exactly as Klarna sent it (field order aside), from a stored row: the typed
 * columns overlaid with the extras. A row written before migration 060 holds the whole
 * line as its extras, which gives the same result.
 */
export function transactionLine(
  row: Pick<Selectable<KlarnaTransactionTable>, LineColumn | 'extra_json'>,
): Record<string, unknown> {
  const stored = JSON.parse(row.extra_json) as Record<string, unknown> | [Record<string, unknown>, string[]];
  const [line, filledIn] = Array.isArray(stored) ? stored : [stored, [] as string[]];
  for (const c of LINE_COLUMNS) {
    const value = row[c];
    if (value === null || Object.hasOwn(line, c) || filledIn.includes(c)) continue;
    line[c] = NUMERIC_LINE_COLUMNS.has(c) ? Number(value) : value;
  }
  return line;
}

/** Marks the lines complete, with the reconciliation that was made from them. */
export async function completeTransactions(
  db: Kysely<Database>,
  payoutId: string,
  input: { count: number; reconciliation: Reconciliation },
): Promise<StoredPayout> {
  const stored = await countTransactions(db, payoutId);
  if (stored !== input.count) {
    // Never mark complete what is not: a later run must refetch instead of booking a gap.
    throw new Error(
      `payout ${payoutId}: ${stored} lines stored but ${input.count} fetched; not marked complete`,
    );
  }
  await db
    .updateTable('klarna_payouts')
    .set({
      transactions_complete: 1,
      transaction_count: input.count,
      unknown_types_json: JSON.stringify(input.reconciliation.unknownTypes),
      unknown_detailed_types_json: JSON.stringify(input.reconciliation.unknownDetailedTypes),
      reconciled: input.reconciliation.ok ? 1 : 0,
      reconciliation_json: JSON.stringify(input.reconciliation),
      updated_at: nowIso(),
    })
    .where('id', '=', payoutId)
    .execute();
  return (await getPayout(db, payoutId))!;
}

/** Replaces the stored reconciliation, e.g. after re-reconciling stored lines with a newer rule. */
export async function recordReconciliation(
  db: Kysely<Database>,
  payoutId: string,
  reconciliation: Reconciliation,
): Promise<void> {
  await db
    .updateTable('klarna_payouts')
    .set({
      unknown_types_json: JSON.stringify(reconciliation.unknownTypes),
      unknown_detailed_types_json: JSON.stringify(reconciliation.unknownDetailedTypes),
      reconciled: reconciliation.ok ? 1 : 0,
      reconciliation_json: JSON.stringify(reconciliation),
      updated_at: nowIso(),
    })
    .where('id', '=', payoutId)
    .execute();
}

export async function countTransactions(db: Db, payoutId: string): Promise<number> {
  const row = await db
    .selectFrom('klarna_transactions')
    .select((eb) => eb.fn.countAll().as('n'))
    .where('payout_id', '=', payoutId)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}

export async function getPayout(db: Kysely<Database>, id: string): Promise<StoredPayout | undefined> {
  const row = await db.selectFrom('klarna_payouts').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toPayout(row);
}

export async function findPayoutByReference(
  db: Kysely<Database>,
  integrationId: string,
  paymentReference: string,
  merchantId?: string,
): Promise<StoredPayout | undefined> {
  let q = db
    .selectFrom('klarna_payouts')
    .selectAll()
    .where('integration_id', '=', integrationId)
    .where('payment_reference', '=', paymentReference);
  if (merchantId) q = q.where('merchant_id', '=', merchantId);
  const row = await q.orderBy('fetched_at').executeTakeFirst();
  return row && toPayout(row);
}

export interface PayoutListFilter {
  integrationId: string;
  /** First payout day included, YYYY-MM-DD. */
  since?: string;
  /** Last payout day included, YYYY-MM-DD. */
  until?: string;
  transactionsComplete?: boolean;
  reconciled?: boolean;
  state?: string;
  limit?: number;
}

export async function listPayouts(db: Kysely<Database>, filter: PayoutListFilter): Promise<StoredPayout[]> {
  let q = db.selectFrom('klarna_payouts').selectAll().where('integration_id', '=', filter.integrationId);
  // payout_date is ISO-8601 text, so day bounds compare as strings.
  if (filter.since) q = q.where('payout_date', '>=', filter.since);
  if (filter.until) q = q.where('payout_date', '<', `${filter.until}T99`);
  if (filter.transactionsComplete !== undefined) {
    q = q.where('transactions_complete', '=', filter.transactionsComplete ? 1 : 0);
  }
  if (filter.reconciled !== undefined) q = q.where('reconciled', '=', filter.reconciled ? 1 : 0);
  if (filter.state) q = q.where('state', '=', filter.state);
  const rows = await q
    .orderBy('payout_date')
    .orderBy('payment_reference')
    .limit(filter.limit ?? 10_000)
    .execute();
  return rows.map(toPayout);
}

/** Lines of a payout in seq order, a slice at a time, for callers that walk 50,000 lines. */
export async function listTransactions(
  db: Kysely<Database>,
  payoutId: string,
  opts: { afterSeq?: number; limit?: number } = {},
): Promise<StoredTransaction[]> {
  const rows = await db
    .selectFrom('klarna_transactions')
    .selectAll()
    .where('payout_id', '=', payoutId)
    .where('seq', '>', opts.afterSeq ?? -1)
    .orderBy('seq')
    .limit(opts.limit ?? 1_000)
    .execute();
  return rows.map(toTransaction);
}

/** The same aggregates as createTransactionSums(), computed by the database over stored lines. */
export async function transactionSums(db: Kysely<Database>, payoutId: string): Promise<TransactionSums> {
  // One pass over the lines: grouped by currency and detailed type too, then folded per
  // type here.
  const rows = await db
    .selectFrom('klarna_transactions')
    .select((eb) => [
      'type',
      'currency_code',
      'detailed_type',
      eb.fn.countAll().as('count'),
      eb.fn.sum<number | string>('amount').as('sum'),
      eb.fn.sum<number | string>(sql`abs(amount)`).as('abs_sum'),
      eb.fn.sum<number | string>(sql`case when amount < 0 then 1 else 0 end`).as('negative_count'),
      eb.fn.sum<number | string>(sql`coalesce(vat_amount, 0)`).as('vat_sum'),
    ])
    .where('payout_id', '=', payoutId)
    .groupBy(['type', 'currency_code', 'detailed_type'])
    .execute();
  const byType: Record<string, TypeSums> = {};
  const detailed = new Map<string, Map<string, DetailedTypeSums>>();
  const currencies = new Set<string>();
  let count = 0;
  for (const r of rows) {
    const s = byType[r.type] ?? { count: 0, sum: 0, absSum: 0, negativeCount: 0, vatSum: 0 };
    byType[r.type] = s;
    s.count = safeAdd(s.count, toSafeInteger(r.count));
    s.sum = safeAdd(s.sum, toSafeInteger(r.sum));
    s.absSum = safeAdd(s.absSum, toSafeInteger(r.abs_sum));
    s.negativeCount = safeAdd(s.negativeCount, toSafeInteger(r.negative_count));
    s.vatSum = safeAdd(s.vatSum, toSafeInteger(r.vat_sum));
    count = safeAdd(count, toSafeInteger(r.count));
    currencies.add(r.currency_code);
    if (r.detailed_type !== null && r.detailed_type !== '') {
      let perType = detailed.get(r.type);
      if (!perType) {
        perType = new Map();
        detailed.set(r.type, perType);
      }
      const d = perType.get(r.detailed_type) ?? { count: 0, sum: 0 };
      perType.set(r.detailed_type, d);
      d.count = safeAdd(d.count, toSafeInteger(r.count));
      d.sum = safeAdd(d.sum, toSafeInteger(r.sum));
    }
  }
  const sorted = Object.fromEntries(
    Object.keys(byType)
      .sort()
      .map((t) => [t, byType[t]!]),
  );
  return {
    count,
    byType: sorted,
    currencies: [...currencies].sort(),
    detailedTypes: sortedDetailedTypes(detailed),
  };
}

function safeAdd(a: number, b: number): number {
  const n = a + b;
  if (!Number.isSafeInteger(n)) throw new Error(`aggregate out of the safe integer range: ${a} + ${b}`);
  return n;
}

// PostgreSQL returns SUM over bigint as numeric (a string) and COUNT as bigint.
function toSafeInteger(value: unknown): number {
  if (value === null || value === undefined) return 0;
  const n = typeof value === 'number' ? value : Number(value);
  if (!Number.isSafeInteger(n)) throw new Error(`aggregate out of the safe integer range: ${String(value)}`);
  return n;
}
