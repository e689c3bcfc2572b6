import { meteredFetch } from '../http/metered-fetch.ts';
import { isJsonContentType, networkErrorCode } from '../http/network-error.ts';
import { type RateBudget, UNLIMITED_BUDGET } from '../http/rate-budget.ts';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryPolicy } from '../http/retry.ts';
import { sleep as realSleep } from '../http/sleep.ts';
import type { Secret } from '../setup/secret.ts';
import { amountToMinor, minorToAmount } from './amount.ts';
import type { FetchLike } from './oauth.ts';
import {
  parseErrorEnvelope,
  parseTryAgainInMs,
  SpirisConnectionError,
  SpirisError,
  SpirisUnknownOutcomeError,
  spirisApiErrorFrom,
} from './spiris.errors.ts';
import {
  type AttachmentContentType,
  type BookedVoucher,
  type CreateVoucherOptions,
  DOCUMENT_TYPE_VOUCHER,
  type SpirisAccount,
  type SpirisAttachment,
  type SpirisAttachmentLink,
  type SpirisBankAccount,
  type SpirisCompanySettings,
  type SpirisFiscalYear,
  type SpirisPage,
  type SpirisVatCode,
  type SpirisVoucher,
  type SpirisVoucherRow,
  type VoucherDraft,
  type VoucherRowDraft,
} from './spiris.types.ts';
import type { SpirisTokenSource } from './token-store.ts';

export interface SpirisClientOptions {
  /** e.g. https://eaccountingapi.vismaonline.com/v2 */
  apiBaseUrl: string;
  tokens: SpirisTokenSource;
  fetch?: FetchLike;
  now?: () => Date;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  random?: () => number;
  retryPolicy?: RetryPolicy;
  /** Spiris counts 600 requests/minute per client and endpoint; the key is `${budgetKeyPrefix}${endpoint}`. */
  rateBudget?: RateBudget;
  budgetKeyPrefix?: string;
  /** Per attempt, including reading the body. */
  timeoutMs?: number;
  /** Default $pagesize; Spiris allows up to 1000. */
  pageSize?: number;
  /** Hard stop for a paging loop, so a server that ignores $page cannot spin us forever. */
  maxPages?: number;
  /** Called with a loggable reason before every retry wait. */
  onRetry?: (info: {
    method: string;
    path: string;
    attempt: number;
    delayMs: number;
    reason: string;
  }) => void;
}

export interface RequestOptions {
  signal?: AbortSignal;
}

export interface ListOptions extends RequestOptions {
  pageSize?: number;
  /** OData $filter, e.g. `VoucherDate eq 2026-03-12`. */
  filter?: string;
  orderBy?: string;
}

type Query = Record<string, string | number | boolean | undefined>;

// Connection failures where the request certainly never reached Spiris, so even a
// POST changed nothing and a plain connection error is the truth.
const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'ENETUNREACH', 'EHOSTUNREACH']);

/**
 * Typed access to the eAccounting API v2. Reads are retried on transport faults, 5xx
 * and 429; writes are never repeated after they may have reached Spiris (the API has
 * no idempotency keys), and surface as SpirisUnknownOutcomeError instead.
 */
export class SpirisClient {
  readonly #o: SpirisClientOptions;
  readonly #base: string;
  readonly #fetch: FetchLike;
  readonly #now: () => Date;
  readonly #sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  readonly #policy: RetryPolicy;
  readonly #budget: RateBudget;

  constructor(options: SpirisClientOptions) {
    this.#o = options;
    this.#base = options.apiBaseUrl.replace(/\/+$/, '');
    this.#fetch = meteredFetch('spiris', options.fetch ?? fetch);
    this.#now = options.now ?? (() => new Date());
    this.#sleep = options.sleep ?? realSleep;
    this.#policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.#budget = options.rateBudget ?? UNLIMITED_BUDGET;
  }

  // ---- company, years, accounts, VAT, bank -----------------------------------------

  getCompanySettings(opts: RequestOptions = {}): Promise<SpirisCompanySettings> {
    return this.#request<SpirisCompanySettings>('GET', '/companysettings', {}, opts);
  }

  listFiscalYears(opts: ListOptions = {}): AsyncIterable<SpirisFiscalYear> {
    return this.#paginate<SpirisFiscalYear>('/fiscalyears', {}, opts);
  }

  getFiscalYear(id: string, opts: RequestOptions = {}): Promise<SpirisFiscalYear> {
    return this.#request<SpirisFiscalYear>('GET', `/fiscalyears/${enc(id)}`, {}, opts);
  }

  /** The fiscal year whose StartDate..EndDate covers `date` (yyyy-mm-dd), if any. */
  async findFiscalYearForDate(
    date: string,
    opts: RequestOptions = {},
  ): Promise<SpirisFiscalYear | undefined> {
    const day = dateOnly(date);
    for await (const fy of this.listFiscalYears(opts)) {
      if (dateOnly(fy.StartDate) <= day && day <= dateOnly(fy.EndDate)) return fy;
    }
    return undefined;
  }

  /** Accounts exist per fiscal year: validate against the year that contains the voucher date. */
  listAccounts(fiscalYearId: string, opts: ListOptions = {}): AsyncIterable<SpirisAccount> {
    return this.#paginate<SpirisAccount>(`/accounts/${enc(fiscalYearId)}`, {}, opts);
  }

  getAccount(
    fiscalYearId: string,
    accountNumber: number | string,
    opts: RequestOptions = {},
  ): Promise<SpirisAccount> {
    return this.#request<SpirisAccount>(
      'GET',
      `/accounts/${enc(fiscalYearId)}/${enc(String(accountNumber))}`,
      {},
      opts,
    );
  }

  listVatCodes(opts: ListOptions & { vatRateDate?: string } = {}): AsyncIterable<SpirisVatCode> {
    return this.#paginate<SpirisVatCode>('/vatcodes', { vatRateDate: opts.vatRateDate }, opts);
  }

  listBankAccounts(opts: ListOptions = {}): AsyncIterable<SpirisBankAccount> {
    return this.#paginate<SpirisBankAccount>('/bankaccounts', {}, opts);
  }

  // ---- vouchers ------------------------------------------------------------------------

  /** All vouchers, or one fiscal year's; `filter` narrows them (e.g. `VoucherDate eq 2026-03-12`). */
  listVouchers(opts: ListOptions & { fiscalYearId?: string } = {}): AsyncIterable<SpirisVoucher> {
    const path = opts.fiscalYearId ? `/vouchers/${enc(opts.fiscalYearId)}` : '/vouchers';
    return this.#paginate<SpirisVoucher>(path, {}, opts);
  }

  /** Vouchers dated `date`, read back in öre: what the booking layer searches after an unknown outcome. */
  async findVouchersByDate(
    date: string,
    opts: RequestOptions & { fiscalYearId?: string } = {},
  ): Promise<BookedVoucher[]> {
    const out: BookedVoucher[] = [];
    const iter = this.listVouchers({ ...opts, filter: `VoucherDate eq ${dateOnly(date)}` });
    for await (const v of iter) out.push(voucherFromApi(v));
    return out;
  }

  async getVoucher(
    fiscalYearId: string,
    voucherId: string,
    opts: RequestOptions = {},
  ): Promise<BookedVoucher> {
    const raw = await this.#request<SpirisVoucher>(
      'GET',
      `/vouchers/${enc(fiscalYearId)}/${enc(voucherId)}`,
      {},
      opts,
    );
    return voucherFromApi(raw);
  }

  /**
   * POST /vouchers. Never retried once it may have reached Spiris: a lost answer throws
   * SpirisUnknownOutcomeError and the caller looks the voucher up by date and text.
   */
  async createVoucher(
    draft: VoucherDraft,
    options: CreateVoucherOptions & RequestOptions = {},
  ): Promise<BookedVoucher> {
    const query: Query = {
      useAutomaticVatCalculation: options.useAutomaticVatCalculation,
      useDefaultVatCodes: options.useDefaultVatCodes,
      useDefaultVoucherSeries: options.useDefaultVoucherSeries,
    };
    const raw = await this.#request<SpirisVoucher>('POST', '/vouchers', query, options, voucherToApi(draft));
    return voucherFromApi(raw);
  }

  // ---- attachments ---------------------------------------------------------------------

  /** Uploads a file as base64 (PDF, JPEG, PNG or TIFF; at most 20 MB in Sweden). */
  uploadAttachment(
    input: { fileName: string; contentType: AttachmentContentType; data: Uint8Array; comment?: string },
    opts: RequestOptions = {},
  ): Promise<SpirisAttachment> {
    const body: Record<string, unknown> = {
      ContentType: input.contentType,
      FileName: sanitizeAttachmentFileName(input.fileName),
      Data: Buffer.from(input.data).toString('base64'),
    };
    if (input.comment) body.Comment = input.comment;
    return this.#request<SpirisAttachment>('POST', '/attachments', {}, opts, body);
  }

  /** Links uploaded attachments to a document; DocumentType 3 is a voucher. */
  linkAttachments(
    input: { documentId: string; attachmentIds: string[]; documentType?: number },
    opts: RequestOptions = {},
  ): Promise<SpirisAttachmentLink> {
    return this.#request<SpirisAttachmentLink>('POST', '/attachmentlinks', {}, opts, {
      DocumentId: input.documentId,
      DocumentType: input.documentType ?? DOCUMENT_TYPE_VOUCHER,
      AttachmentIds: input.attachmentIds,
    });
  }

  // ---- transport -----------------------------------------------------------------------

  async *#paginate<T>(path: string, query: Query, opts: ListOptions): AsyncGenerator<T> {
    const pageSize = Math.min(1000, Math.max(1, opts.pageSize ?? this.#o.pageSize ?? 500));
    const maxPages = this.#o.maxPages ?? 1000;
    const q: Query = { ...query };
    if (opts.filter) q.$filter = opts.filter;
    if (opts.orderBy) q.$orderby = opts.orderBy;
    let previous: string | undefined;
    let sawMeta = true;
    for (let page = 1; page <= maxPages; page++) {
      const res = await this.#request<Partial<SpirisPage<T>>>(
        'GET',
        path,
        { ...q, $page: page, $pagesize: pageSize },
        opts,
      );
      if (!res || typeof res !== 'object' || !Array.isArray(res.Data)) {
        throw new SpirisError(`Spiris returned a malformed page for GET ${path} (page ${page}): no Data.`);
      }
      const meta = res.Meta && typeof res.Meta === 'object' ? res.Meta : undefined;
      // $top/$skip are known to be ignored and to return page 1 forever; if $page is
      // ever ignored the same way, stop rather than yield duplicates.
      if (typeof meta?.CurrentPage === 'number' && meta.CurrentPage !== page) {
        throw new SpirisError(
          `Spiris returned page ${meta.CurrentPage} when page ${page} of GET ${path} was asked for.`,
        );
      }
      const total = meta?.TotalNumberOfPages;
      if (typeof total === 'number' && Number.isFinite(total)) {
        yield* res.Data;
        if (res.Data.length === 0 || page >= total) return;
        continue;
      }
      // Without a page count, trusting page 1 alone would silently drop every later page
      // (vouchers the unknown-outcome search must find), so read until a page comes back
      // short. With no CurrentPage either, an ignored $page shows up as a repeated page.
      sawMeta = false;
      if (res.Data.length > 0) {
        const fingerprint = JSON.stringify(res.Data);
        if (fingerprint === previous) {
          throw new SpirisError(
            `Spiris returned the same page again for page ${page} of GET ${path} and sent no paging metadata; it seems to ignore $page.`,
          );
        }
        previous = fingerprint;
      }
      yield* res.Data;
      if (res.Data.length < pageSize) return;
    }
    throw new SpirisError(
      sawMeta
        ? `GET ${path} has more than ${maxPages} pages; narrow the query.`
        : `GET ${path} sent no page count and was still returning full pages after ${maxPages} pages of ${pageSize}; stopped. Narrow the query.`,
    );
  }

  async #request<T>(
    method: 'GET' | 'POST',
    path: string,
    query: Query,
    opts: RequestOptions,
    body?: unknown,
  ): Promise<T> {
    const url = this.#url(path, query);
    const budgetKey = `${this.#o.budgetKeyPrefix ?? ''}${endpointKey(path)}`;
    const payload = body === undefined ? undefined : JSON.stringify(body);
    let rejected: Secret | undefined;
    let reauthorized = false;

    for (let attempt = 1; ; attempt++) {
      await this.#budget.take(budgetKey);
      const token = await this.#o.tokens.getAccessToken(rejected ? { rejected } : {});
      const timeout = AbortSignal.timeout(this.#o.timeoutMs ?? 30_000);
      const signal = opts.signal ? AbortSignal.any([opts.signal, timeout]) : timeout;

      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(url, {
          method,
          headers: {
            authorization: `Bearer ${token.reveal()}`,
            accept: 'application/json',
            ...(payload !== undefined ? { 'content-type': 'application/json' } : {}),
          },
          ...(payload !== undefined ? { body: payload } : {}),
          signal,
        });
        text = await res.text();
      } catch (err) {
        if (opts.signal?.aborted) throw err;
        const code = networkErrorCode(err);
        if (method === 'POST') {
          if (NOT_SENT_CODES.has(code)) {
            throw new SpirisConnectionError(
              `Could not reach Spiris for ${method} ${path} (${code}); nothing was sent.`,
              code,
              {
                cause: err,
              },
            );
          }
          throw new SpirisUnknownOutcomeError(method, path, `no complete answer: ${code}`, { cause: err });
        }
        const decision = decideRetry(
          { attempt, method, networkError: code },
          this.#policy,
          this.#now(),
          this.#o.random,
        );
        if (!decision.retry) {
          throw new SpirisConnectionError(
            `Could not reach Spiris for ${method} ${path} (${code}): ${decision.reason}.`,
            code,
            {
              cause: err,
            },
          );
        }
        await this.#wait(method, path, attempt, decision.delayMs, decision.reason, opts.signal);
        continue;
      }

      const json = parseJson(text, res.headers.get('content-type'));
      if (res.ok) {
        if (json === undefined && text !== '') {
          if (method === 'POST')
            throw new SpirisUnknownOutcomeError(method, path, `HTTP ${res.status} with an unreadable body`);
          throw new SpirisError(`Spiris answered ${method} ${path} with a body that is not JSON.`);
        }
        return json as T;
      }

      const envelope = parseErrorEnvelope(json);
      const headers = headerRecord(res.headers);

      if (res.status === 401 && !reauthorized) {
        // Spiris refused the token before doing anything, so repeating (even a POST) is
        // safe; the token source renews it, or reports that re-authorization is needed.
        reauthorized = true;
        rejected = token;
        attempt--;
        continue;
      }

      const rateLimited = res.status === 429 || envelope.errorCode === 4010;
      const hintMs = rateLimited ? parseTryAgainInMs(envelope.developerErrorMessage) : undefined;
      const errorInit = {
        status: res.status,
        method,
        path,
        ...envelope,
        headers,
        raw: json ?? text,
        ...(hintMs !== undefined ? { retryAfterMs: hintMs } : {}),
      };

      if (rateLimited) {
        // 4010 is the quota gate answering before the request is handled ("API calls quota
        // exceeded"), so nothing was saved and a POST may be repeated like a read. This is
        // an inference from the documented behaviour, not a Visma guarantee.
        const decision = decideRetry(
          { attempt, method: 'GET', status: 429, headers, ...(hintMs !== undefined ? { hintMs } : {}) },
          this.#policy,
          this.#now(),
          this.#o.random,
        );
        if (!decision.retry) throw spirisApiErrorFrom(errorInit);
        await this.#wait(method, path, attempt, decision.delayMs, decision.reason, opts.signal);
        continue;
      }

      if (res.status >= 500 || res.status === 408) {
        if (method === 'POST') {
          throw new SpirisUnknownOutcomeError(method, path, `HTTP ${res.status}`, {
            cause: spirisApiErrorFrom(errorInit),
          });
        }
        const decision = decideRetry(
          { attempt, method, status: res.status, headers },
          this.#policy,
          this.#now(),
          this.#o.random,
        );
        if (!decision.retry) throw spirisApiErrorFrom(errorInit);
        await this.#wait(method, path, attempt, decision.delayMs, decision.reason, opts.signal);
        continue;
      }

      throw spirisApiErrorFrom(errorInit);
    }
  }

  async #wait(
    method: string,
    path: string,
    attempt: number,
    delayMs: number,
    reason: string,
    signal?: AbortSignal,
  ) {
    this.#o.onRetry?.({ method, path, attempt, delayMs, reason });
    await this.#sleep(delayMs, signal);
  }

  #url(path: string, query: Query): string {
    const params = new URLSearchParams();
    for (const [k, v] of Object.entries(query)) if (v !== undefined) params.set(k, String(v));
    const qs = params.toString();
    return `${this.#base}${path}${qs ? `?${qs}` : ''}`;
  }
}

// ---- mapping between öre and the wire ------------------------------------------------------

/** Domain draft → VoucherApi; amounts go out with at most two decimals, exactly. */
export function voucherToApi(draft: VoucherDraft): SpirisVoucher {
  const out: SpirisVoucher = {
    VoucherDate: dateOnly(draft.date),
    VoucherText: draft.text,
    Rows: draft.rows.map(rowToApi),
  };
  if (draft.numberSeries) out.NumberSeries = draft.numberSeries;
  if (draft.attachmentIds && draft.attachmentIds.length > 0) {
    out.Attachments = { DocumentType: DOCUMENT_TYPE_VOUCHER, AttachmentIds: draft.attachmentIds };
  }
  return out;
}

function rowToApi(row: VoucherRowDraft): SpirisVoucherRow {
  const out: SpirisVoucherRow = {
    AccountNumber: row.accountNumber,
    DebitAmount: minorToAmount(row.debitMinor),
    CreditAmount: minorToAmount(row.creditMinor),
  };
  if (row.text !== undefined) out.TransactionText = row.text;
  if (row.vatCodeId) out.VatCodeId = row.vatCodeId;
  const [cc1, cc2, cc3] = row.costCenterItemIds ?? [];
  if (cc1) out.CostCenterItemId1 = cc1;
  if (cc2) out.CostCenterItemId2 = cc2;
  if (cc3) out.CostCenterItemId3 = cc3;
  if (row.projectId) out.ProjectId = row.projectId;
  return out;
}

/** VoucherApi → domain, amounts back in öre. */
export function voucherFromApi(raw: SpirisVoucher): BookedVoucher {
  return {
    id: raw.Id ?? '',
    date: dateOnly(raw.VoucherDate),
    text: raw.VoucherText,
    number: raw.NumberAndNumberSeries ?? null,
    rows: (raw.Rows ?? []).map((r) => {
      const row: VoucherRowDraft = {
        accountNumber: r.AccountNumber,
        debitMinor: amountToMinor(r.DebitAmount ?? 0),
        creditMinor: amountToMinor(r.CreditAmount ?? 0),
      };
      if (r.TransactionText) row.text = r.TransactionText;
      if (r.VatCodeId) row.vatCodeId = r.VatCodeId;
      if (r.ProjectId) row.projectId = r.ProjectId;
      return row;
    }),
    attachmentIds: raw.Attachments?.AttachmentIds ?? [],
    raw,
  };
}

/**
 * Spiris allows only letters, digits and `- _ ( )` in FileName (max 200); the
 * extension's dot is kept, as Visma's own examples do.
 */
export function sanitizeAttachmentFileName(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf('.');
  const stem = dot > 0 ? base.slice(0, dot) : base;
  const ext =
    dot > 0
      ? base
          .slice(dot + 1)
          .replace(/[^A-Za-z0-9]/g, '')
          .slice(0, 10)
      : '';
  const cleanStem = stem.replace(/[^\p{L}\p{N}\-_()]+/gu, '-').replace(/^-+|-+$/g, '') || 'attachment';
  const suffix = ext ? `.${ext}` : '';
  return cleanStem.slice(0, 200 - suffix.length) + suffix;
}

/** The endpoint a request counts against for the per-endpoint rate limit: path without ids. */
export function endpointKey(path: string): string {
  const first = path.split('?')[0]!.split('/').filter(Boolean)[0] ?? '';
  return `/${first}`;
}

function dateOnly(value: string): string {
  return value.slice(0, 10);
}

function enc(s: string): string {
  return encodeURIComponent(s);
}

function parseJson(text: string, contentType: string | null): unknown {
  if (text === '') return undefined;
  if (contentType && !isJsonContentType(contentType) && !/^\s*[[{]/.test(text)) return undefined;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function headerRecord(h: Headers): Record<string, string> {
  const out: Record<string, string> = {};
  h.forEach((v, k) => {
    out[k.toLowerCase()] = v;
  });
  return out;
}
