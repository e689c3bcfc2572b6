// A Klarna Settlements API v1 simulator over real HTTP, written from Klarna's documentation
// and OpenAPI file. It never imports product code: a fake that shares the client's code would
// share its mistakes.
//
// Behaviour chosen where Klarna's docs are silent (each is a guess to revisit against the
// real API):
// - start_date / end_date bounds are inclusive; a date without a time means 00:00:00Z.
// - payouts and transactions are listed in ascending payout_date order.
// - an unknown payment_reference on /transactions yields an empty collection, not a 404.
// - errors on the report endpoints carry the JSON ErrorResponse body under the media type the
//   spec declares for them (text/csv or application/pdf); every other error is application/json.
// - rate limiting is a fixed one-second window per merchant_id (unauthenticated requests share
//   a bucket per remote address); once over budget every request gets 429 until the reset.

import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  DEFAULT_DAYS,
  defaultMerchantId,
  generateMerchant,
  type MerchantSpec,
  type SimCurrency,
  type SimEnvironment,
  type SimMerchant,
  type SimPayout,
  type SimTransaction,
} from './generator.ts';
import { payoutCsv, payoutPdf, summarize, summaryCsv, summaryPdf } from './reports.ts';

export type { MerchantSpec, SimMerchant, SimMerchantCredentials } from './generator.ts';

export interface KlarnaSimulatorOptions {
  /** Default 0 (any free port). */
  port?: number;
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 'playground'. */
  environment?: SimEnvironment;
  /** Default: one generated SEK merchant, 90 days of payouts, seed 1. */
  merchants?: MerchantSpec[];
  /** Requests per second per merchant_id; default 50 (playground) / 200 (production); 0 = off. */
  rateLimitPerSecond?: number;
  /** Pad every PDF report to about this many bytes. */
  pdfSizeBytes?: number;
}

export type KlarnaFaultKind = '429' | '500' | '502' | '503' | 'slow' | 'drop' | 'malformed';

export interface KlarnaFault {
  kind: KlarnaFaultKind;
  /** How many matching requests get the fault; default 1. */
  times?: number;
  /** For 'slow': how long to wait before answering normally; default 1000. */
  delayMs?: number;
  /** For '429': the X-Ratelimit-Reset value; default 1. */
  resetSeconds?: number;
  /** For '429': a Retry-After header value (Klarna does not document one; only sent if given). */
  retryAfter?: string;
  /** Only requests whose path and query contain this string. */
  pathIncludes?: string;
}

export interface KlarnaRequestLogEntry {
  method: string;
  /** Path and query string as requested. */
  path: string;
  /** 0 when the connection was dropped without a response. */
  status: number;
}

export interface KlarnaSimulator {
  /** Origin, e.g. http://127.0.0.1:41234; the API is served under `${url}/settlements/v1`. */
  readonly url: string;
  readonly environment: SimEnvironment;
  readonly merchants: SimMerchant[];
  addMerchant(spec: MerchantSpec): SimMerchant;
  injectFault(f: KlarnaFault): void;
  clearFaults(): void;
  /** Further requests with that key get 401. */
  revokeKey(apiKey: string): void;
  /** Total requests received, faults included. */
  readonly requestCount: number;
  /** The last 1000 requests. */
  requestLog: KlarnaRequestLogEntry[];
  close(): Promise<void>;
}

export const API_PREFIX = '/settlements/v1';
const MAX_PAGE_SIZE = 500;
const DEFAULT_PAGE_SIZE = 20;
const REQUEST_LOG_LIMIT = 1000;

interface Reply {
  status: number;
  contentType: string;
  body: string | Buffer;
  headers?: Record<string, string>;
}

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function errorReply(
  status: number,
  code: string,
  messages: string[],
  contentType = 'application/json',
): Reply {
  const correlationId = randomUUID();
  return {
    status,
    contentType,
    body: JSON.stringify({ error_code: code, error_messages: messages, correlation_id: correlationId }),
    headers: { 'Klarna-Correlation-Id': correlationId },
  };
}

const json = (body: unknown): Reply => ({
  status: 200,
  contentType: 'application/json',
  body: JSON.stringify(body),
});

// ---------------------------------------------------------------------------------------
// Query parsing

function intParam(q: URLSearchParams, name: string, fallback: number, min: number, max?: number): number {
  const raw = q.get(name);
  if (raw === null) return fallback;
  if (!/^-?\d+$/.test(raw)) throw new HttpError(400, 'BAD_VALUE', `${name} must be an integer`);
  const n = Number(raw);
  if (n < min) throw new HttpError(400, 'BAD_VALUE', `${name} must be greater than or equal to ${min}`);
  if (max !== undefined && n > max) {
    throw new HttpError(400, 'BAD_VALUE', `${name} must be less than or equal to ${max}`);
  }
  return n;
}

const DATE_ONLY = /^\d{4}-\d{2}-\d{2}$/;
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/i;

/** Parses a date filter; a date without a time means the start of that day (UTC), as documented. */
function dateParam(q: URLSearchParams, name: string, required: boolean): number | undefined {
  let raw = q.get(name);
  if (raw === null || raw === '') {
    if (required) throw new HttpError(400, 'BAD_VALUE', `${name} is required`);
    return undefined;
  }
  // An unencoded '+' in an offset arrives as a space.
  raw = raw.replace(' ', '+');
  let ms = Number.NaN;
  if (DATE_ONLY.test(raw)) ms = Date.parse(`${raw}T00:00:00Z`);
  else if (DATE_TIME.test(raw)) ms = Date.parse(raw);
  if (Number.isNaN(ms)) {
    throw new HttpError(400, 'BAD_VALUE', `${name} must be an ISO 8601 date-time, e.g. 2020-01-23T00:00:00Z`);
  }
  return ms;
}

function dateRange(q: URLSearchParams, required: boolean): { start?: number; end?: number } {
  const start = dateParam(q, 'start_date', required);
  const end = dateParam(q, 'end_date', required);
  if (start !== undefined && end !== undefined && start > end) {
    throw new HttpError(400, 'BAD_VALUE', 'start_date must not be after end_date');
  }
  return { start, end };
}

function currencyParam(q: URLSearchParams): string | undefined {
  const c = q.get('currency_code');
  if (c === null || c === '') return undefined;
  if (!/^[A-Z]{3}$/.test(c)) throw new HttpError(400, 'BAD_VALUE', 'currency_code must be an ISO 4217 code');
  return c;
}

function paymentReferenceParam(q: URLSearchParams): string {
  const ref = q.get('payment_reference');
  if (ref === null || ref === '') throw new HttpError(400, 'BAD_VALUE', 'payment_reference is required');
  return ref;
}

const isoSeconds = (ms: number): string => `${new Date(ms).toISOString().slice(0, 19)}Z`;

function inRange(
  p: SimPayout,
  start: number | undefined,
  end: number | undefined,
  currency?: string,
): boolean {
  const t = Date.parse(p.payout_date);
  return (
    (start === undefined || t >= start) &&
    (end === undefined || t <= end) &&
    (currency === undefined || p.currency_code === currency)
  );
}

// ---------------------------------------------------------------------------------------
// Pagination

interface Pagination {
  count: number;
  total: number;
  offset: number;
  next?: string;
  prev?: string;
}

function pagination(
  base: string,
  url: URL,
  offset: number,
  size: number,
  count: number,
  total: number,
): Pagination {
  const link = (o: number) => {
    const params = new URLSearchParams(url.searchParams);
    params.set('offset', String(o));
    params.set('size', String(size));
    return `${base}${url.pathname}?${params.toString()}`;
  };
  const page: Pagination = { count, total, offset };
  if (offset + count < total) page.next = link(offset + count);
  if (offset > 0) page.prev = link(Math.max(0, offset - size));
  return page;
}

// ---------------------------------------------------------------------------------------
// Transactions across payouts

function transactionsPage(
  m: SimMerchant,
  ref: string | undefined,
  orderId: string | undefined,
  offset: number,
  size: number,
): { items: readonly SimTransaction[]; total: number } {
  if (ref !== undefined) {
    if (!m.payout(ref)) return { items: [], total: 0 };
    let txs = m.transactionsFor(ref);
    if (orderId !== undefined) txs = txs.filter((t) => t.order_id === orderId);
    return { items: txs.slice(offset, offset + size), total: txs.length };
  }
  if (orderId !== undefined) {
    // Orders are not indexed (that would hold every transaction in memory); scan payout by
    // payout instead, which is fast at test scale and bounded in memory at benchmark scale.
    const matches: SimTransaction[] = [];
    for (const { transactions } of m.eachPayoutTransactions()) {
      for (const t of transactions) if (t.order_id === orderId) matches.push(t);
    }
    return { items: matches.slice(offset, offset + size), total: matches.length };
  }
  const items: SimTransaction[] = [];
  let skipped = 0;
  for (const p of m.payouts) {
    if (items.length >= size) break;
    const n = m.transactionCountFor(p.payment_reference);
    if (skipped + n <= offset) {
      skipped += n;
      continue;
    }
    const txs = m.transactionsFor(p.payment_reference);
    const from = Math.max(0, offset - skipped);
    skipped += n;
    for (let i = from; i < txs.length && items.length < size; i++) items.push(txs[i]!);
  }
  return { items, total: m.transactionCount };
}

// ---------------------------------------------------------------------------------------
// Server

export async function startKlarnaSimulator(options: KlarnaSimulatorOptions = {}): Promise<KlarnaSimulator> {
  const environment: SimEnvironment = options.environment ?? 'playground';
  if (environment !== 'playground' && environment !== 'production') {
    throw new Error(`environment must be 'playground' or 'production', got ${String(environment)}`);
  }
  const rateLimit = options.rateLimitPerSecond ?? (environment === 'production' ? 200 : 50);
  const advertisedLimit = rateLimit > 0 ? rateLimit : environment === 'production' ? 200 : 50;
  const keyPrefix = environment === 'production' ? 'klarna_live_api_' : 'klarna_test_api_';
  const otherPrefix = environment === 'production' ? 'klarna_test_api_' : 'klarna_live_api_';

  const merchants: SimMerchant[] = [];
  const byKey = new Map<string, SimMerchant>();
  const revoked = new Set<string>();
  const faults: Array<KlarnaFault & { remaining: number }> = [];
  const windows = new Map<string, { start: number; count: number }>();
  const timers = new Set<NodeJS.Timeout>();
  const requestLog: KlarnaRequestLogEntry[] = [];
  let requestCount = 0;
  let origin = '';

  const server: Server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      if (!res.headersSent && !res.destroyed) {
        const r = errorReply(500, 'INTERNAL_ERROR', [err instanceof Error ? err.message : String(err)]);
        res.writeHead(r.status, { 'Content-Type': r.contentType, ...r.headers });
        res.end(r.body);
      }
    });
  });

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${host}:${address.port}`;
  const apiBase = `${origin}${API_PREFIX}`;

  function addMerchant(spec: MerchantSpec): SimMerchant {
    const taken = new Set(merchants.map((m) => m.merchantId));
    let merchantSpec: MerchantSpec = { ...spec, environment };
    if (spec.merchantId !== undefined) {
      if (taken.has(spec.merchantId)) throw new Error(`merchant ${spec.merchantId} already exists`);
    } else {
      // Two specs with the same seed would otherwise share an id (and so the same keys).
      let n = Number(defaultMerchantId(spec.seed ?? 1).slice(1));
      while (taken.has(`K${n}`)) n = n >= 999_999 ? 100_000 : n + 1;
      merchantSpec = { ...merchantSpec, merchantId: `K${n}` };
    }
    const merchant = generateMerchant(merchantSpec, { apiBase });
    if (byKey.has(merchant.credentials.apiKey)) throw new Error('API key already in use by another merchant');
    merchants.push(merchant);
    byKey.set(merchant.credentials.apiKey, merchant);
    return merchant;
  }

  for (const spec of options.merchants ?? [{ seed: 1, days: DEFAULT_DAYS }]) addMerchant(spec);

  function rateState(key: string, consume: boolean): { limited: boolean; headers: Record<string, string> } {
    const now = Date.now();
    const windowStart = now - (now % 1000);
    let w = windows.get(key);
    if (!w || w.start !== windowStart) {
      w = { start: windowStart, count: 0 };
      windows.set(key, w);
      if (windows.size > 10_000) windows.clear();
    }
    if (consume && rateLimit > 0) w.count++;
    const limited = rateLimit > 0 && w.count > rateLimit;
    const remaining = rateLimit > 0 ? Math.max(0, rateLimit - w.count) : advertisedLimit;
    return {
      limited,
      headers: {
        'X-Ratelimit-Limit': `${advertisedLimit}, ${advertisedLimit};w=1`,
        'X-Ratelimit-Remaining': String(remaining),
        'X-Ratelimit-Reset': String(Math.max(1, Math.ceil((windowStart + 1000 - now) / 1000))),
      },
    };
  }

  function takeFault(pathAndQuery: string): KlarnaFault | undefined {
    const i = faults.findIndex((f) => f.pathIncludes === undefined || pathAndQuery.includes(f.pathIncludes));
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.remaining--;
    if (f.remaining <= 0) faults.splice(i, 1);
    return f;
  }

  function log(entry: KlarnaRequestLogEntry): void {
    requestLog.push(entry);
    if (requestLog.length > REQUEST_LOG_LIMIT) requestLog.splice(0, requestLog.length - REQUEST_LOG_LIMIT);
  }

  function send(
    req: IncomingMessage,
    res: ServerResponse,
    reply: Reply,
    rateHeaders: Record<string, string>,
  ): void {
    log({ method: req.method ?? 'GET', path: req.url ?? '', status: reply.status });
    if (res.destroyed || res.writableEnded) return;
    const body = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, {
      'Content-Type': reply.contentType,
      'Content-Length': String(body.length),
      ...rateHeaders,
      ...reply.headers,
    });
    res.end(body);
  }

  /** Resolves the merchant from HTTP Basic credentials, or explains the refusal. */
  function authenticate(header: string | undefined): SimMerchant | Reply {
    const refuse = (code: string, message: string) => errorReply(401, code, [message]);
    if (!header) return refuse('UNAUTHORIZED', 'Missing Authorization header');
    const match = /^Basic\s+(\S+)\s*$/i.exec(header);
    if (!match) return refuse('UNAUTHORIZED', 'Authorization must use the Basic scheme');
    const token = match[1]!;
    if (token.startsWith('klarna_')) {
      return refuse('BAD_CREDENTIALS', 'Credentials must be base64 encoded (RFC 7617)');
    }
    const decoded = Buffer.from(token, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const username = colon < 0 ? '' : decoded.slice(0, colon);
    const apiKey = colon < 0 ? decoded : decoded.slice(colon + 1);
    if (apiKey.startsWith(otherPrefix)) {
      return refuse(
        'BAD_CREDENTIALS',
        `A ${environment === 'production' ? 'playground (test)' : 'production (live)'} API key cannot be used in the ${environment} environment`,
      );
    }
    const merchant = byKey.get(apiKey);
    if (!merchant || !apiKey.startsWith(keyPrefix) || revoked.has(apiKey)) {
      return refuse('BAD_CREDENTIALS', 'Invalid credentials');
    }
    if (username !== '' && username !== merchant.credentials.username) {
      return refuse('BAD_CREDENTIALS', 'The username does not belong to this API key');
    }
    return merchant;
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requestCount++;
    const rawPath = req.url ?? '/';
    const url = new URL(rawPath, origin);
    const fault = takeFault(rawPath);
    const anonKey = `anon:${req.socket.remoteAddress ?? ''}`;

    if (fault) {
      switch (fault.kind) {
        case 'drop':
          log({ method: req.method ?? 'GET', path: rawPath, status: 0 });
          req.socket.destroy();
          return;
        case '429': {
          const reset = fault.resetSeconds ?? 1;
          const headers: Record<string, string> = {
            'X-Ratelimit-Limit': `${advertisedLimit}, ${advertisedLimit};w=1`,
            'X-Ratelimit-Remaining': '0',
            'X-Ratelimit-Reset': String(reset),
          };
          if (fault.retryAfter !== undefined) headers['Retry-After'] = fault.retryAfter;
          send(req, res, errorReply(429, 'TOO_MANY_REQUESTS', ['Rate limit exceeded']), headers);
          return;
        }
        case '500':
        case '502':
        case '503': {
          const code = { '500': 'INTERNAL_ERROR', '502': 'BAD_GATEWAY', '503': 'SERVICE_UNAVAILABLE' }[
            fault.kind
          ];
          const status = Number(fault.kind);
          send(
            req,
            res,
            errorReply(status, code, ['Simulated server failure']),
            rateState(anonKey, false).headers,
          );
          return;
        }
        case 'slow':
          await new Promise<void>((resolve) => {
            const t = setTimeout(() => {
              timers.delete(t);
              resolve();
            }, fault.delayMs ?? 1000);
            timers.add(t);
          });
          if (res.destroyed) return;
          break;
        case 'malformed':
          break;
      }
    }

    const auth = authenticate(req.headers.authorization);
    let reply: Reply;
    let rate: ReturnType<typeof rateState>;
    if (!('merchantId' in auth)) {
      rate = rateState(anonKey, true);
      reply = rate.limited ? errorReply(429, 'TOO_MANY_REQUESTS', ['Rate limit exceeded']) : auth;
    } else {
      rate = rateState(`merchant:${auth.merchantId}`, true);
      if (rate.limited) {
        reply = errorReply(429, 'TOO_MANY_REQUESTS', ['Rate limit exceeded']);
      } else {
        try {
          reply = route(req.method ?? 'GET', url, auth);
        } catch (err) {
          if (!(err instanceof HttpError)) throw err;
          reply = errorReply(err.status, err.code, [err.message], reportMediaType(url.pathname));
        }
      }
    }

    if (fault?.kind === 'malformed') {
      const body = reply.status === 200 && reply.contentType === 'application/json' ? String(reply.body) : '';
      const broken =
        body.length > 2
          ? body.slice(0, Math.floor(body.length / 2))
          : '{"payouts":[{"totals":{"sale_amount":';
      reply = { status: 200, contentType: 'application/json', body: broken };
    }
    send(req, res, reply, rate.headers);
  }

  function reportMediaType(pathname: string): string {
    const p = pathname.slice(API_PREFIX.length);
    if (p === '/reports/payout-with-transactions' || p === '/reports/payouts-summary-with-transactions') {
      return 'text/csv';
    }
    if (p === '/reports/payout' || p === '/reports/payouts-summary') return 'application/pdf';
    return 'application/json';
  }

  function route(method: string, url: URL, m: SimMerchant): Reply {
    if (!url.pathname.startsWith(`${API_PREFIX}/`)) {
      return errorReply(404, 'NOT_FOUND', [`No resource at ${url.pathname}`]);
    }
    const path = url.pathname.slice(API_PREFIX.length);
    const q = url.searchParams;
    const known =
      path === '/payouts' ||
      path === '/payouts/summary' ||
      path.startsWith('/payouts/') ||
      path === '/transactions' ||
      path.startsWith('/reports/');
    if (known && method !== 'GET') {
      return {
        ...errorReply(405, 'METHOD_NOT_ALLOWED', [`${method} is not allowed`]),
        headers: { Allow: 'GET' },
      };
    }

    switch (path) {
      case '/payouts': {
        const { start, end } = dateRange(q, false);
        const currency = currencyParam(q);
        const size = intParam(q, 'size', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
        const offset = intParam(q, 'offset', 0, 0);
        const all = m.payouts.filter((p) => inRange(p, start, end, currency));
        const page = all.slice(offset, offset + size);
        return json({
          payouts: page,
          pagination: pagination(origin, url, offset, size, page.length, all.length),
        });
      }
      case '/payouts/summary': {
        const { start, end } = dateRange(q, true);
        const currency = currencyParam(q);
        const payouts = m.payouts.filter((p) => inRange(p, start, end, currency));
        return json(summarize(payouts, isoSeconds(start!), isoSeconds(end!)));
      }
      case '/transactions': {
        const ref = q.get('payment_reference') || undefined;
        const orderId = q.get('order_id') || undefined;
        const size = intParam(q, 'size', DEFAULT_PAGE_SIZE, 1, MAX_PAGE_SIZE);
        const offset = intParam(q, 'offset', 0, 0);
        const { items, total } = transactionsPage(m, ref, orderId, offset, size);
        return json({
          transactions: items,
          pagination: pagination(origin, url, offset, size, items.length, total),
        });
      }
      case '/reports/payout-with-transactions': {
        const payout = findPayout(m, paymentReferenceParam(q), 'text/csv');
        if ('status' in payout) return payout;
        return {
          status: 200,
          contentType: 'text/csv',
          body: payoutCsv(payout, m.transactionsFor(payout.payment_reference)),
          headers: { 'Content-Disposition': `attachment; filename="${payout.payment_reference}.csv"` },
        };
      }
      case '/reports/payout': {
        const payout = findPayout(m, paymentReferenceParam(q), 'application/pdf');
        if ('status' in payout) return payout;
        return {
          status: 200,
          contentType: 'application/pdf',
          body: payoutPdf(payout, options.pdfSizeBytes),
          headers: { 'Content-Disposition': `attachment; filename="${payout.payment_reference}.pdf"` },
        };
      }
      case '/reports/payouts-summary-with-transactions': {
        const { start, end } = dateRange(q, true);
        const payouts = m.payouts.filter((p) => inRange(p, start, end));
        const summaries = summarize(payouts, isoSeconds(start!), isoSeconds(end!));
        return {
          status: 200,
          contentType: 'text/csv',
          body: summaryCsv(
            summaries,
            payouts.map((p) => m.transactionsFor(p.payment_reference)),
          ),
        };
      }
      case '/reports/payouts-summary': {
        const { start, end } = dateRange(q, true);
        const payouts = m.payouts.filter((p) => inRange(p, start, end));
        const body = summaryPdf(
          summarize(payouts, isoSeconds(start!), isoSeconds(end!)),
          isoSeconds(start!),
          isoSeconds(end!),
          options.pdfSizeBytes,
        );
        return { status: 200, contentType: 'application/pdf', body };
      }
    }
    if (path.startsWith('/payouts/') && path.split('/').length === 3) {
      let ref: string;
      try {
        ref = decodeURIComponent(path.slice('/payouts/'.length));
      } catch {
        throw new HttpError(400, 'BAD_VALUE', 'payment_reference is not valid');
      }
      const payout = findPayout(m, ref, 'application/json');
      return 'status' in payout ? payout : json(payout);
    }
    return errorReply(404, 'NOT_FOUND', [`No resource at ${url.pathname}`]);
  }

  function findPayout(m: SimMerchant, ref: string, errorType: string): SimPayout | Reply {
    return m.payout(ref) ?? errorReply(404, 'NOT_FOUND', [`Payout ${ref} not found`], errorType);
  }

  return {
    url: origin,
    environment,
    merchants,
    addMerchant,
    injectFault(f) {
      faults.push({ ...f, remaining: f.times ?? 1 });
    },
    clearFaults() {
      faults.length = 0;
    },
    revokeKey(apiKey) {
      revoked.add(apiKey);
    },
    get requestCount() {
      return requestCount;
    },
    requestLog,
    async close() {
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
}

// ---------------------------------------------------------------------------------------
// CLI

export interface KlarnaSimulatorCliOptions {
  port?: number;
  environment?: string;
  seed?: number;
  days?: number;
  /** Default ['SEK']; one payout per currency per day. */
  currencies?: SimCurrency[];
  /** Gives the last payout (of the first currency) exactly this many transactions. */
  largePayoutTransactions?: number;
  log: (line: string) => void;
}

/**
 * Starts a simulator for `klarna-spiris simulate klarna`. Payouts run up to yesterday so a
 * sync over a trailing window finds recent ones. The listening server keeps the process alive.
 */
export async function runKlarnaSimulatorCli(opts: KlarnaSimulatorCliOptions): Promise<KlarnaSimulator> {
  const environment = opts.environment ?? 'playground';
  if (environment !== 'playground' && environment !== 'production') {
    throw new Error(`--environment must be playground or production, got ${environment}`);
  }
  const days = opts.days ?? DEFAULT_DAYS;
  const seed = opts.seed ?? 1;
  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const startDate = new Date(today - days * 86_400_000).toISOString().slice(0, 10);
  const sim = await startKlarnaSimulator({
    port: opts.port ?? 0,
    environment,
    merchants: [
      {
        seed,
        days,
        startDate,
        ...(opts.currencies?.length ? { currencies: opts.currencies } : {}),
        // The last day, so a first sync over the default trailing window already meets it.
        ...(opts.largePayoutTransactions
          ? { largePayouts: [{ index: days - 1, transactions: opts.largePayoutTransactions }] }
          : {}),
      },
    ],
  });
  opts.log(`Klarna Settlements API simulator (${environment}) listening on ${sim.url}`);
  opts.log(`API base URL: ${sim.url}${API_PREFIX}`);
  for (const m of sim.merchants) {
    const first = m.payouts[0]?.payout_date ?? '-';
    const last = m.payouts[m.payouts.length - 1]?.payout_date ?? '-';
    opts.log(
      `Merchant ${m.merchantId} (${m.currencies.join(', ')}): ${m.payouts.length} payouts, ${m.transactionCount} transactions, ${first} .. ${last}`,
    );
    opts.log(`  username: ${m.credentials.username}`);
    opts.log(`  API key:  ${m.credentials.apiKey}`);
  }
  return sim;
}
