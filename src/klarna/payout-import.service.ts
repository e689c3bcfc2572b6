import type { Store } from '../store/db.ts';
import {
  beginTransactionRefresh,
  completeTransactions,
  insertTransactionPage,
  type StoredPayout,
  transactionSums,
  type UpsertStatus,
  upsertPayout,
  withImportDurability,
} from '../store/payouts.repository.ts';
import type { KlarnaClient } from './klarna.client.ts';
import { KlarnaBadRequestError, KlarnaNotFoundError, KlarnaResponseError } from './klarna.errors.ts';
import type { PayoutRecord, TransactionPage } from './klarna.types.ts';
import { createTransactionSums, type Reconciliation, reconcile, type TransactionSums } from './reconcile.ts';

export type ImportProgress =
  | { kind: 'payout'; paymentReference: string; status: UpsertStatus }
  | { kind: 'transactions-page'; paymentReference: string; stored: number; total: number | undefined }
  | { kind: 'reconciled'; paymentReference: string; ok: boolean; problems: string[]; warnings: string[] }
  | { kind: 'failed'; paymentReference: string; error: string };

export interface ImportedPayout {
  paymentReference: string;
  payoutDate: string;
  currencyCode: string;
  settlementAmount: number;
  status: UpsertStatus;
  /** Lines stored in this run; 0 when they were already complete. */
  transactionsStored: number;
  reconciled: boolean | null;
  problems: string[];
  /** Transaction types this version does not know, kept and flagged. */
  unknownTypes: string[];
  /** detailed_type values this version does not know, kept and flagged; they do not fail the payout. */
  unknownDetailedTypes: string[];
  /** Reconciliation warnings: true of the payout, but no reason to stop it. */
  warnings: string[];
  error?: string;
}

export interface ImportResult {
  payoutsSeen: number;
  payoutsNew: number;
  payoutsChanged: number;
  /** Payouts whose lines were fetched in this run. */
  payoutsFetched: number;
  transactionsStored: number;
  reconciled: number;
  notReconciled: number;
  unknownTypes: string[];
  unknownDetailedTypes: string[];
  failed: number;
  payouts: ImportedPayout[];
}

export interface ImportPayoutsInput {
  store: Pick<Store, 'db'>;
  client: KlarnaClient;
  integrationId: string;
  /** First payout day, YYYY-MM-DD (UTC). */
  since: string;
  /** Last payout day, YYYY-MM-DD (UTC), included. */
  until: string;
  onProgress?: (event: ImportProgress) => void;
  signal?: AbortSignal;
  now?: () => Date;
}

/**
 * Fetches the payouts of a window and stores each once, then loads the lines of every
 * payout whose lines are not complete yet, page by page, and reconciles them. Re-runs
 * store nothing new: complete payouts are not fetched again.
 */
export async function importPayouts(input: ImportPayoutsInput): Promise<ImportResult> {
  const records: PayoutRecord[] = [];
  for await (const record of input.client.listPayouts(
    { since: input.since, until: input.until },
    input.signal ? { signal: input.signal } : {},
  )) {
    records.push(record);
  }
  return importRecords(input, records);
}

/** The same for a single payout, by its payment reference. */
export async function importPayout(
  input: Omit<ImportPayoutsInput, 'since' | 'until'> & { paymentReference: string },
): Promise<ImportResult> {
  const record = await input.client.getPayout(
    input.paymentReference,
    input.signal ? { signal: input.signal } : {},
  );
  return importRecords(input, [record]);
}

async function importRecords(
  input: Omit<ImportPayoutsInput, 'since' | 'until'>,
  records: PayoutRecord[],
): Promise<ImportResult> {
  const { db } = input.store;
  const result: ImportResult = {
    payoutsSeen: 0,
    payoutsNew: 0,
    payoutsChanged: 0,
    payoutsFetched: 0,
    transactionsStored: 0,
    reconciled: 0,
    notReconciled: 0,
    unknownTypes: [],
    unknownDetailedTypes: [],
    failed: 0,
    payouts: [],
  };
  // The list may repeat a payout when pages shift; the natural key makes that harmless,
  // and this keeps a repeated reference from being counted or loaded twice.
  const seen = new Set<string>();
  const toLoad: Array<{ payout: StoredPayout; entry: ImportedPayout }> = [];

  for (const record of records) {
    const key = `${record.payout.merchant_id}\u0000${record.payout.payment_reference}`;
    if (seen.has(key)) continue;
    seen.add(key);
    const { payout, status } = await withImportDurability(db, (conn) =>
      upsertPayout(
        conn,
        { integrationId: input.integrationId, payout: record.payout, raw: record.raw },
        input.now,
      ),
    );
    result.payoutsSeen += 1;
    if (status === 'new') result.payoutsNew += 1;
    if (status === 'changed') result.payoutsChanged += 1;
    input.onProgress?.({ kind: 'payout', paymentReference: payout.paymentReference, status });

    const entry: ImportedPayout = {
      paymentReference: payout.paymentReference,
      payoutDate: payout.payoutDate,
      currencyCode: payout.currencyCode,
      settlementAmount: payout.settlementAmount,
      status,
      transactionsStored: 0,
      reconciled: payout.reconciled,
      problems: payout.reconciliation?.problems ?? [],
      unknownTypes: payout.unknownTypes,
      unknownDetailedTypes: payout.unknownDetailedTypes,
      warnings: payout.reconciliation?.warnings ?? [],
    };
    result.payouts.push(entry);
    if (!payout.transactionsComplete) toLoad.push({ payout, entry });
  }

  // Each payout's first page is asked for while the payout before it is being stored,
  // so Klarna prepares it meanwhile instead of the sync waiting a round trip per payout.
  let upcoming = toLoad[0] && openPages(input, toLoad[0].payout);
  try {
    for (let i = 0; i < toLoad.length; i++) {
      const { payout, entry } = toLoad[i]!;
      const pages = upcoming!;
      upcoming = toLoad[i + 1] && openPages(input, toLoad[i + 1]!.payout);
      try {
        const loaded = await loadTransactions(input, payout, entry.status, pages).finally(() => {
          // Leaving early (a bad page) must not leave a request sent ahead dangling open.
          pages.close();
        });
        result.payoutsFetched += 1;
        result.transactionsStored += loaded.stored;
        entry.transactionsStored = loaded.stored;
        entry.reconciled = loaded.reconciliation.ok;
        entry.problems = loaded.reconciliation.problems;
        entry.unknownTypes = loaded.reconciliation.unknownTypes;
        entry.unknownDetailedTypes = loaded.reconciliation.unknownDetailedTypes;
        entry.warnings = loaded.reconciliation.warnings;
      } catch (err) {
        // A payout Klarna cannot serve (gone, malformed) must not block the others; the
        // next run retries it because its lines stay incomplete. Anything that affects
        // every request (auth, network, rate limit) aborts the run.
        if (
          !(
            err instanceof KlarnaResponseError ||
            err instanceof KlarnaNotFoundError ||
            err instanceof KlarnaBadRequestError
          )
        ) {
          throw err;
        }
        entry.error = err.message;
        entry.reconciled = null;
        result.failed += 1;
        input.onProgress?.({ kind: 'failed', paymentReference: payout.paymentReference, error: err.message });
      }
    }
  } finally {
    upcoming?.close();
  }

  const unknown = new Set<string>();
  const unknownDetailed = new Set<string>();
  for (const entry of result.payouts) {
    if (entry.error !== undefined) continue;
    if (entry.reconciled === true) result.reconciled += 1;
    else if (entry.reconciled === false) result.notReconciled += 1;
    for (const t of entry.unknownTypes) unknown.add(t);
    for (const t of entry.unknownDetailedTypes) unknownDetailed.add(t);
  }
  result.unknownTypes = [...unknown].sort();
  result.unknownDetailedTypes = [...unknownDetailed].sort();
  return result;
}

/** A payout's pages with the first one already asked for; close() drops what is in flight. */
interface OpenPages {
  next(): Promise<IteratorResult<TransactionPage>>;
  close(): void;
}

function openPages(input: Omit<ImportPayoutsInput, 'since' | 'until'>, payout: StoredPayout): OpenPages {
  const cancel = new AbortController();
  const signal = input.signal ? AbortSignal.any([input.signal, cancel.signal]) : cancel.signal;
  const pages = input.client
    .transactionPages({ paymentReference: payout.paymentReference }, { signal })
    [Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<TransactionPage>> | undefined = pages.next();
  // A failure is reported when the page is used; one never used must not go unhandled.
  pending.catch(() => undefined);
  return {
    next() {
      const step = pending ?? pages.next();
      pending = undefined;
      step.catch(() => undefined);
      return step;
    },
    close() {
      cancel.abort();
      void pages.return(undefined).catch(() => undefined);
    },
  };
}

async function loadTransactions(
  input: Omit<ImportPayoutsInput, 'since' | 'until'>,
  payout: StoredPayout,
  status: UpsertStatus,
  pages: OpenPages,
): Promise<{ stored: number; reconciliation: Reconciliation }> {
  const { db } = input.store;
  // A payout first stored in this run cannot have lines or marks to clear yet.
  if (status !== 'new') await beginTransactionRefresh(db, payout.id);
  const sums = createTransactionSums();
  let stored = 0;
  let reportedTotal: number | undefined;
  let upcoming = pages.next();
  for (;;) {
    const step = await upcoming;
    if (step.done) break;
    const page = step.value;
    // Ask for the next page before storing this one, so Klarna (or the network) works on
    // it meanwhile; a failure there surfaces when it is awaited, never unhandled.
    upcoming = pages.next();
    await new Promise<void>((resolve) => setImmediate(resolve));
    if (page.index === 0) reportedTotal = page.total;
    for (const r of page.records) {
      if (r.transaction.payment_reference && r.transaction.payment_reference !== payout.paymentReference) {
        throw new KlarnaResponseError(
          `Klarna listed a line of payout ${r.transaction.payment_reference} among the lines of ${payout.paymentReference}.`,
        );
      }
      sums.add(r.transaction);
    }
    stored += await insertTransactionPage(db, {
      payoutId: payout.id,
      paymentReference: payout.paymentReference,
      firstSeq: stored,
      records: page.records,
    });
    input.onProgress?.({
      kind: 'transactions-page',
      paymentReference: payout.paymentReference,
      stored,
      total: page.total,
    });
  }
  if (reportedTotal !== undefined && stored !== reportedTotal) {
    throw new KlarnaResponseError(
      `Klarna reported ${reportedTotal} lines for payout ${payout.paymentReference} but sent ${stored}.`,
    );
  }
  const streamed = sums.result();
  const reconciliation = reconcile({
    totals: payout.totals,
    sums: streamed,
    currencyCode: payout.currencyCode,
  });
  await withImportDurability(db, async (conn) => {
    // The database's own GROUP BY must agree with what was streamed in: this proves the
    // stored lines, which bookkeeping will use, are the ones that were reconciled.
    const fromDb = await transactionSums(conn, payout.id);
    if (!sameSums(streamed, fromDb)) {
      throw new Error(`stored lines of payout ${payout.paymentReference} differ from the lines received`);
    }
    await completeTransactions(conn, payout.id, { count: stored, reconciliation });
  });
  input.onProgress?.({
    kind: 'reconciled',
    paymentReference: payout.paymentReference,
    ok: reconciliation.ok,
    problems: reconciliation.problems,
    warnings: reconciliation.warnings,
  });
  return { stored, reconciliation };
}

function sameSums(a: TransactionSums, b: TransactionSums): boolean {
  if (a.count !== b.count || a.currencies.join() !== b.currencies.join()) return false;
  // Both builders sort their keys, so equal detail serialises alike.
  if (JSON.stringify(a.detailedTypes) !== JSON.stringify(b.detailedTypes)) return false;
  const types = new Set([...Object.keys(a.byType), ...Object.keys(b.byType)]);
  for (const t of types) {
    const x = a.byType[t];
    const y = b.byType[t];
    if (!x || !y) return false;
    if (
      x.count !== y.count ||
      x.sum !== y.sum ||
      x.absSum !== y.absSum ||
      x.negativeCount !== y.negativeCount ||
      x.vatSum !== y.vatSum
    ) {
      return false;
    }
  }
  return true;
}
