import { createHash } from 'node:crypto';
import { meteredFetch } from '../http/metered-fetch.ts';
import { isJsonContentType, networkErrorCode } from '../http/network-error.ts';
import { type RateBudget, TokenBucketBudget } from '../http/rate-budget.ts';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryPolicy } from '../http/retry.ts';
import { sleep as realSleep } from '../http/sleep.ts';
import { type KlarnaCredentials, type KlarnaEnvironment, SETTLEMENTS_PATH } from './key.ts';
import {
  KlarnaConnectionError,
  type KlarnaError,
  KlarnaResponseError,
  klarnaErrorFromResponse,
} from './klarna.errors.ts';
import {
  type KlarnaPayoutSummary,
  PaginationSchema,
  type PayoutPage,
  type PayoutRecord,
  type TransactionPage,
  type TransactionRecord,
} from './klarna.types.ts';
import { malformed, parsePayout, parsePayoutSummary, parseTransaction } from './parse.ts';

/** The largest page Klarna serves; the API refuses `size` above it. */
export const KLARNA_MAX_PAGE_SIZE = 500;
export const DEFAULT_TIMEOUT_MS = 30_000;
/**
 * Safety bound on any paging loop. 10,000 pages of 500 is 5 million rows, far beyond
 * any payout; reaching it means the server keeps sending pages and we would loop forever.
 */
export const DEFAULT_MAX_PAGES = 10_000;
/**
 * Pages requested ahead while the caller works on the current one, so Klarna prepares
 * the next page while this one is parsed and stored. With the caller asking for its
 * next page early as well, two requests are in flight; more bought no speed in the
 * benchmark (storing is the bottleneck there) and cost 25-40 MB of peak memory.
 */
export const DEFAULT_PAGES_AHEAD = 1;

/** pino-compatible subset, so the app logger fits and tests can pass a spy. */
export interface KlarnaLogger {
  debug(obj: object, msg?: string): void;
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
}

export interface KlarnaClientOptions {
  credentials: KlarnaCredentials;
  fetch?: typeof fetch;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  retryPolicy?: RetryPolicy;
  /**
   * Defaults to a token bucket shared per environment, a bit under Klarna's limits. A
   * function picks one by the key's environment (workers sharing a budget in the database).
   */
  rateBudget?: RateBudget | ((environment: KlarnaEnvironment) => RateBudget);
  /** Key within the budget; Klarna limits per merchant, so pass the merchant id when known. */
  budgetKey?: string;
  /** Per attempt, including reading the body. */
  timeoutMs?: number;
  logger?: KlarnaLogger;
  /** At most 500; smaller values are for tests. */
  pageSize?: number;
  maxPages?: number;
  /** Pages of a collection requested before the caller reaches them (0 to 4); default 1. */
  pagesAhead?: number;
  userAgent?: string;
}

/** A payout_date window in whole UTC days, both ends included. */
export interface PayoutWindow {
  since: string;
  until: string;
  currencyCode?: string;
}

export type TransactionFilter = { paymentReference: string } | { orderId: string };

export interface RequestOptions {
  signal?: AbortSignal;
}

// Klarna documents 200 requests/s in production and 50/s in the playground per merchant
// (docs.klarna.com/api/rate-limit). Staying ~20 % under leaves room for other tools
// using the same merchant id.
export const KLARNA_BUDGET_LIMITS: Readonly<
  Record<KlarnaEnvironment, { readonly capacity: number; readonly refillPerSecond: number }>
> = Object.freeze({
  production: Object.freeze({ capacity: 40, refillPerSecond: 160 }),
  playground: Object.freeze({ capacity: 10, refillPerSecond: 40 }),
});
const DEFAULT_BUDGETS: Record<KlarnaEnvironment, RateBudget> = {
  production: new TokenBucketBudget(KLARNA_BUDGET_LIMITS.production),
  playground: new TokenBucketBudget(KLARNA_BUDGET_LIMITS.playground),
};

const NOOP_LOGGER: KlarnaLogger = { debug() {}, info() {}, warn() {} };
const DATE = /^\d{4}-\d{2}-\d{2}$/;

interface RawResponse {
  status: number;
  contentType: string | null;
  headers: Record<string, string>;
  body: Buffer;
}

type Accept = 'json' | 'csv' | 'pdf';
const ACCEPT_HEADER: Record<Accept, string> = {
  json: 'application/json',
  csv: 'text/csv, application/json;q=0.5',
  pdf: 'application/pdf, application/json;q=0.5',
};

/** Read-only client for Klarna's Settlements API v1. */
export class KlarnaClient {
  readonly credentials: KlarnaCredentials;
  readonly #fetch: typeof fetch;
  readonly #now: () => Date;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #random: () => number;
  readonly #policy: RetryPolicy;
  readonly #budget: RateBudget;
  readonly #budgetKey: string;
  readonly #timeoutMs: number;
  readonly #logger: KlarnaLogger;
  readonly #pageSize: number;
  readonly #maxPages: number;
  readonly #pagesAhead: number;
  readonly #userAgent: string;
  readonly #apiRoot: URL;

  constructor(options: KlarnaClientOptions) {
    this.credentials = options.credentials;
    this.#fetch = meteredFetch('klarna', options.fetch ?? globalThis.fetch);
    this.#now = options.now ?? (() => new Date());
    this.#sleep = options.sleep ?? realSleep;
    this.#random = options.random ?? Math.random;
    this.#policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    const env = options.credentials.environment;
    this.#budget =
      typeof options.rateBudget === 'function'
        ? options.rateBudget(env)
        : (options.rateBudget ?? DEFAULT_BUDGETS[env]);
    // A digest, never the key itself, so the budget map cannot leak it.
    this.#budgetKey =
      options.budgetKey ??
      `key:${createHash('sha256').update(options.credentials.apiKey.reveal()).digest('hex').slice(0, 16)}`;
    this.#timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.#logger = options.logger ?? NOOP_LOGGER;
    const pageSize = options.pageSize ?? KLARNA_MAX_PAGE_SIZE;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > KLARNA_MAX_PAGE_SIZE) {
      throw new RangeError(`pageSize must be an integer from 1 to ${KLARNA_MAX_PAGE_SIZE}, got ${pageSize}`);
    }
    this.#pageSize = pageSize;
    this.#maxPages = options.maxPages ?? DEFAULT_MAX_PAGES;
    const pagesAhead = options.pagesAhead ?? DEFAULT_PAGES_AHEAD;
    if (!Number.isInteger(pagesAhead) || pagesAhead < 0 || pagesAhead > 4) {
      throw new RangeError(`pagesAhead must be an integer from 0 to 4, got ${pagesAhead}`);
    }
    this.#pagesAhead = pagesAhead;
    this.#userAgent = options.userAgent ?? 'klarna-spiris';
    this.#apiRoot = new URL(`${options.credentials.baseUrl}${SETTLEMENTS_PATH}/`);
  }

  /** "playground, eu, key klarna_test_api_…abc": names the target in messages without the key. */
  get target(): string {
    const c = this.credentials;
    const where = c.customBaseUrl ? `, ${c.baseUrl}` : '';
    return `${c.environment}, ${c.region}${where}, key ${c.apiKey.masked}`;
  }

  // ---- payouts ----

  /** Payouts whose payout_date falls in the window, page by page. */
  async *payoutPages(window: PayoutWindow, opts: RequestOptions = {}): AsyncGenerator<PayoutPage> {
    const query = {
      ...windowQuery(window),
      ...(window.currencyCode ? { currency_code: window.currencyCode } : {}),
    };
    for await (const page of this.#pages('payouts', query, 'payouts', opts.signal)) {
      const records = page.items.map((raw, i) => parsePayout(raw, `payouts[${page.offset + i}]`));
      yield { records, offset: page.offset, total: page.total, index: page.index };
    }
  }

  async *listPayouts(window: PayoutWindow, opts: RequestOptions = {}): AsyncGenerator<PayoutRecord> {
    for await (const page of this.payoutPages(window, opts)) yield* page.records;
  }

  /** One payout; throws KlarnaNotFoundError for an unknown reference. */
  async getPayout(paymentReference: string, opts: RequestOptions = {}): Promise<PayoutRecord> {
    const url = this.#url(`payouts/${encodeURIComponent(requireText(paymentReference, 'paymentReference'))}`);
    return parsePayout(await this.#getJson(url, opts.signal), 'payout');
  }

  /** Per-currency totals over the window. */
  async getPayoutsSummary(
    window: PayoutWindow,
    opts: RequestOptions = {},
  ): Promise<Array<{ summary: KlarnaPayoutSummary; raw: Record<string, unknown> }>> {
    const query = {
      ...windowQuery(window),
      ...(window.currencyCode ? { currency_code: window.currencyCode } : {}),
    };
    const url = this.#url('payouts/summary', query);
    const json = await this.#getJson(url, opts.signal);
    if (!Array.isArray(json)) {
      throw new KlarnaResponseError(
        `Klarna sent ${describeJson(json)} for the payouts summary, expected a list.`,
        {
          request: requestLabel(url),
        },
      );
    }
    return json.map((raw, i) => parsePayoutSummary(raw, `summary[${i}]`));
  }

  // ---- transactions ----

  /**
   * Transactions of one payout (or one order) page by page, so a caller can store each
   * page before the next arrives: a payout can hold 50,000+ lines.
   */
  async *transactionPages(
    filter: TransactionFilter,
    opts: RequestOptions = {},
  ): AsyncGenerator<TransactionPage> {
    const query: Record<string, string> =
      'paymentReference' in filter
        ? { payment_reference: requireText(filter.paymentReference, 'paymentReference') }
        : { order_id: requireText(filter.orderId, 'orderId') };
    for await (const page of this.#pages('transactions', query, 'transactions', opts.signal)) {
      const records = page.items.map((raw, i) => parseTransaction(raw, `transactions[${page.offset + i}]`));
      yield { records, offset: page.offset, total: page.total, index: page.index };
    }
  }

  async *transactions(
    filter: TransactionFilter,
    opts: RequestOptions = {},
  ): AsyncGenerator<TransactionRecord> {
    for await (const page of this.transactionPages(filter, opts)) yield* page.records;
  }

  // ---- reports ----

  /** The payout summary PDF, as bytes. */
  async getPayoutPdf(paymentReference: string, opts: RequestOptions = {}): Promise<Buffer> {
    const url = this.#url('reports/payout', {
      payment_reference: requireText(paymentReference, 'paymentReference'),
    });
    const res = await this.#request(url, 'pdf', opts.signal);
    if (!/^application\/(pdf|octet-stream)/i.test(res.contentType ?? '') && !isPdf(res.body)) {
      throw new KlarnaResponseError(
        `Klarna sent ${res.contentType ?? 'no content type'} for the payout PDF of ${paymentReference}, expected application/pdf.`,
        { request: requestLabel(url), status: res.status },
      );
    }
    return res.body;
  }

  /** The payout with its transactions as CSV, in the merchant's report configuration. */
  async getPayoutCsv(paymentReference: string, opts: RequestOptions = {}): Promise<string> {
    const url = this.#url('reports/payout-with-transactions', {
      payment_reference: requireText(paymentReference, 'paymentReference'),
    });
    const res = await this.#request(url, 'csv', opts.signal);
    if (!/^text\/(csv|plain)/i.test(res.contentType ?? 'text/csv')) {
      throw new KlarnaResponseError(
        `Klarna sent ${res.contentType} for the payout CSV of ${paymentReference}, expected text/csv.`,
        { request: requestLabel(url), status: res.status },
      );
    }
    return res.body.toString('utf8');
  }

  /**
   * Proves the credentials work with one small request. Returns the merchant id when
   * the answer names one (i.e. the merchant has at least one payout).
   */
  async probe(opts: RequestOptions = {}): Promise<{ merchantId: string | undefined }> {
    const url = this.#url('payouts', { size: '1', offset: '0' });
    const json = (await this.#getJson(url, opts.signal)) as { payouts?: Array<{ merchant_id?: unknown }> };
    const merchantId = json?.payouts?.[0]?.merchant_id;
    return { merchantId: typeof merchantId === 'string' ? merchantId : undefined };
  }

  // ---- paging ----

  /**
   * Offset paging driven by pagination.count/total (offset += count while offset <
   * total). Without a total, a `next` link means "more to come"; the offset still comes
   * from our own count, because Klarna's documented example `next` is off by one.
   *
   * Once a total is known, the next pages are requested before the caller is done with
   * this one (pagesAhead of them, each still through the rate budget), so Klarna
   * prepares them while the caller stores; they are used strictly in order and checked
   * exactly as if fetched one by one. Should a page come back shorter than asked before
   * the end, what was sent ahead assumed the wrong offsets: it is dropped and paging
   * goes on from the right one.
   */
  async *#pages(
    path: string,
    query: Record<string, string>,
    itemsKey: 'payouts' | 'transactions',
    signal: AbortSignal | undefined,
  ): AsyncGenerator<{ items: unknown[]; offset: number; total: number | undefined; index: number }> {
    const size = this.#pageSize;
    let offset = 0;
    let firstTotal: number | undefined;
    const ahead: Array<{ offset: number; json: Promise<unknown>; cancel: AbortController }> = [];
    const dropAhead = () => {
      for (const a of ahead.splice(0)) a.cancel.abort();
    };
    try {
      for (let index = 0; ; index++) {
        if (index >= this.#maxPages) {
          throw new KlarnaResponseError(
            `Paging ${path} did not end after ${this.#maxPages} pages of ${size}; stopping rather than looping forever.`,
          );
        }
        const url = this.#url(path, { ...query, offset: String(offset), size: String(size) });
        const label = requestLabel(url);
        const sent = ahead.shift();
        if (sent && sent.offset !== offset) {
          sent.cancel.abort();
          dropAhead();
        }
        const json = await (sent?.offset === offset ? sent.json : this.#getJson(url, signal));
        const page = parseCollection(json, itemsKey, label);
        const { items, pagination } = page;
        if (pagination.count !== items.length) {
          throw new KlarnaResponseError(
            `Klarna's page at offset ${offset} says count ${pagination.count} but holds ${items.length} ${itemsKey}.`,
            { request: label },
          );
        }
        if (items.length > size) {
          throw new KlarnaResponseError(`Klarna sent ${items.length} ${itemsKey} for a page of ${size}.`, {
            request: label,
          });
        }
        const total = pagination.total;
        if (index === 0) firstTotal = total;
        else if (total !== undefined && firstTotal !== undefined && total !== firstTotal) {
          // Offset paging over a changing collection skips or repeats rows; start over later.
          throw new KlarnaResponseError(
            `The ${itemsKey} collection changed while paging (total ${firstTotal}, now ${total}); run again.`,
            { request: label },
          );
        }
        if (pagination.offset !== undefined && pagination.offset !== offset) {
          throw new KlarnaResponseError(
            `Klarna answered offset ${pagination.offset} for a request at offset ${offset}.`,
            { request: label },
          );
        }
        if (total !== undefined && items.length === size) {
          let next = offset + size * (ahead.length + 1);
          while (
            ahead.length < this.#pagesAhead &&
            next < total &&
            index + ahead.length + 1 < this.#maxPages
          ) {
            ahead.push(this.#requestAhead(path, query, next, size, signal));
            next += size;
          }
        }
        yield { items, offset, total, index };

        if (items.length === 0) {
          if (total !== undefined && offset < total) {
            throw new KlarnaResponseError(
              `Klarna sent an empty page at offset ${offset} although the ${itemsKey} total is ${total}.`,
              { request: label },
            );
          }
          return;
        }
        offset += items.length;
        if (total !== undefined) {
          if (offset >= total) return;
          continue;
        }
        if (pagination.next) {
          this.#crossCheckNext(pagination.next, offset, label);
          continue;
        }
        // No total and no next: a short page is the last one; a full one may have a successor.
        if (items.length < size) return;
      }
    } finally {
      // Stopped early (an error, or the caller left): nothing sent ahead may stay open.
      dropAhead();
    }
  }

  /** A page requested ahead of its turn: cancellable, and its failure waits until it is used. */
  #requestAhead(
    path: string,
    query: Record<string, string>,
    offset: number,
    size: number,
    signal: AbortSignal | undefined,
  ): { offset: number; json: Promise<unknown>; cancel: AbortController } {
    const cancel = new AbortController();
    const url = this.#url(path, { ...query, offset: String(offset), size: String(size) });
    const json = this.#getJson(url, signal ? AbortSignal.any([signal, cancel.signal]) : cancel.signal);
    json.catch(() => undefined);
    return { offset, json, cancel };
  }

  #crossCheckNext(next: string, offset: number, label: string): void {
    let nextOffset: string | null = null;
    try {
      nextOffset = new URL(next, this.#apiRoot).searchParams.get('offset');
    } catch {
      // An unparseable link carries no information we rely on.
    }
    if (nextOffset !== null && Number(nextOffset) !== offset) {
      this.#logger.warn(
        { request: label, nextOffset: Number(nextOffset), offset },
        'Klarna next link disagrees with count-based offset; using the count',
      );
    }
  }

  // ---- transport ----

  #url(path: string, query: Record<string, string> = {}): URL {
    const url = new URL(path, this.#apiRoot);
    for (const [k, v] of Object.entries(query)) url.searchParams.set(k, v);
    return url;
  }

  async #getJson(url: URL, signal: AbortSignal | undefined): Promise<unknown> {
    const res = await this.#request(url, 'json', signal);
    const label = requestLabel(url);
    if (res.contentType !== null && !isJsonContentType(res.contentType)) {
      throw new KlarnaResponseError(`Klarna sent ${res.contentType} on ${label}, expected JSON.`, {
        request: label,
        status: res.status,
        headers: res.headers,
      });
    }
    try {
      return JSON.parse(res.body.toString('utf8'));
    } catch (err) {
      throw new KlarnaResponseError(
        `Klarna sent malformed JSON on ${label} (${res.body.length} bytes): ${(err as Error).message}.`,
        { request: label, status: res.status, headers: res.headers, cause: err },
      );
    }
  }

  #authorization(): string {
    const { username, apiKey } = this.credentials;
    // RFC 7617 Basic with the portal's UUID as user and the key as password is the form
    // Klarna documents and third-party clients use. For a key without username the docs
    // print `Basic <API key>`, rendering the UUID form the same way before encoding, so
    // we base64 the key alone as well; storing the UUID avoids the ambiguity entirely.
    const credentials = username ? `${username}:${apiKey.reveal()}` : apiKey.reveal();
    return `Basic ${Buffer.from(credentials, 'utf8').toString('base64')}`;
  }

  async #request(url: URL, accept: Accept, signal: AbortSignal | undefined): Promise<RawResponse> {
    const label = requestLabel(url);
    for (let attempt = 1; ; attempt++) {
      signal?.throwIfAborted();
      await this.#budget.take(this.#budgetKey);
      const started = Date.now();
      const attemptSignal = signal
        ? AbortSignal.any([signal, AbortSignal.timeout(this.#timeoutMs)])
        : AbortSignal.timeout(this.#timeoutMs);
      let res: RawResponse;
      try {
        const response = await this.#fetch(url, {
          method: 'GET',
          headers: {
            authorization: this.#authorization(),
            accept: ACCEPT_HEADER[accept],
            'user-agent': this.#userAgent,
          },
          signal: attemptSignal,
          redirect: 'error',
        });
        res = {
          status: response.status,
          contentType: response.headers.get('content-type'),
          headers: pickHeaders(response.headers),
          body: Buffer.from(await response.arrayBuffer()),
        };
      } catch (err) {
        if (signal?.aborted) throw signal.reason;
        const code = networkErrorCode(err);
        const decision = decideRetry(
          { attempt, method: 'GET', networkError: code },
          this.#policy,
          this.#now(),
          this.#random,
        );
        if (!decision.retry) {
          throw new KlarnaConnectionError(
            code === 'TIMEOUT'
              ? `Klarna did not answer ${label} within ${this.#timeoutMs} ms (${decision.reason}).`
              : `Could not reach Klarna at ${this.#apiRoot.origin} for ${label}: ${code} (${decision.reason}).`,
            { request: label, code, cause: err },
          );
        }
        this.#logger.warn({ request: label, attempt, code, delayMs: decision.delayMs }, decision.reason);
        await this.#sleep(decision.delayMs, signal);
        continue;
      }

      this.#logger.debug(
        { request: label, status: res.status, attempt, ms: Date.now() - started },
        'klarna request',
      );
      if (res.status >= 200 && res.status < 300) return res;

      const decision = decideRetry(
        { attempt, method: 'GET', status: res.status, headers: res.headers },
        this.#policy,
        this.#now(),
        this.#random,
      );
      if (decision.retry) {
        this.#logger.warn(
          {
            request: label,
            attempt,
            status: res.status,
            delayMs: decision.delayMs,
            correlationId: correlationIdOf(res),
          },
          decision.reason,
        );
        await this.#sleep(decision.delayMs, signal);
        continue;
      }
      throw this.#errorFrom(res, label, decision.reason);
    }
  }

  #errorFrom(res: RawResponse, label: string, reason: string): KlarnaError {
    const retryAfter = res.headers['x-ratelimit-reset'] ?? res.headers['retry-after'];
    const retryAfterMs = retryAfter && /^\d+$/.test(retryAfter) ? Number(retryAfter) * 1000 : undefined;
    return klarnaErrorFromResponse({
      status: res.status,
      request: label,
      contentType: res.contentType,
      bodyText: res.body.toString('utf8', 0, Math.min(res.body.length, 64 * 1024)),
      headers: res.headers,
      target: this.target,
      ...(res.status === 429 || res.status >= 500 ? { retryReason: reason } : {}),
      ...(retryAfterMs === undefined ? {} : { retryAfterMs }),
    });
  }
}

function parseCollection(
  json: unknown,
  itemsKey: 'payouts' | 'transactions',
  request: string,
): { items: unknown[]; pagination: { count: number; total?: number; offset?: number; next?: string } } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new KlarnaResponseError(
      `Klarna sent ${describeJson(json)} on ${request}, expected a page of ${itemsKey}.`,
      {
        request,
      },
    );
  }
  const obj = json as Record<string, unknown>;
  const items = obj[itemsKey];
  if (!Array.isArray(items)) {
    throw new KlarnaResponseError(`Klarna's page on ${request} has no ${itemsKey} list.`, { request });
  }
  const pagination = PaginationSchema.safeParse(obj.pagination);
  if (!pagination.success) throw malformed('pagination', pagination.error, request);
  return { items, pagination: pagination.data };
}

function windowQuery(window: PayoutWindow): Record<string, string> {
  for (const [name, value] of [
    ['since', window.since],
    ['until', window.until],
  ] as const) {
    if (
      !DATE.test(value) ||
      Number.isNaN(Date.parse(`${value}T00:00:00Z`)) ||
      new Date(`${value}T00:00:00Z`).toISOString().slice(0, 10) !== value
    ) {
      throw new RangeError(`${name} must be a date like 2026-03-01, got "${value}"`);
    }
  }
  if (window.since > window.until)
    throw new RangeError(`since (${window.since}) is after until (${window.until})`);
  // Klarna reads a bare date as midnight, which would drop the last day; full datetimes
  // make both ends whole days as Klarna advises.
  return { start_date: `${window.since}T00:00:00Z`, end_date: `${window.until}T23:59:59Z` };
}

function requireText(value: string, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new RangeError(`${name} must not be empty`);
  return value;
}

/** The request as shown in logs and errors: path and query below the API root, never headers. */
function requestLabel(url: URL): string {
  return `GET ${url.pathname}${url.search}`;
}

const KEPT_HEADERS = [
  'content-type',
  'retry-after',
  'x-ratelimit-limit',
  'x-ratelimit-remaining',
  'x-ratelimit-reset',
  'klarna-correlation-id',
];

function pickHeaders(headers: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of KEPT_HEADERS) {
    const v = headers.get(name);
    if (v !== null) out[name] = v;
  }
  return out;
}

function correlationIdOf(res: RawResponse): string | undefined {
  if (res.headers['klarna-correlation-id']) return res.headers['klarna-correlation-id'];
  if (!isJsonContentType(res.contentType)) return undefined;
  try {
    const body = JSON.parse(res.body.toString('utf8')) as { correlation_id?: unknown };
    return typeof body.correlation_id === 'string' ? body.correlation_id : undefined;
  } catch {
    return undefined;
  }
}

function describeJson(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'a list';
  return typeof json === 'object' ? 'an object' : `a ${typeof json}`;
}

function isPdf(body: Buffer): boolean {
  return body.subarray(0, 5).toString('latin1') === '%PDF-';
}
