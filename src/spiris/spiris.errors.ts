// One error hierarchy for everything that can go wrong talking to Spiris, built by
// the factories at the end. Messages are written for the merchant who reads them in
// the CLI or the admin page: what happened, and what to do about it.

export interface SpirisFieldError {
  field: string | null;
  code: string | null;
  message: string | null;
}

export interface SpirisErrorExplanation {
  /** The catalogue name (developer.vismaonline.com error codes). */
  name: string;
  /** What it means for the merchant, in plain words. */
  explanation: string;
  /** What to do next. */
  action: string;
}

const QUOTE_ERROR_ID =
  'If it keeps happening, contact Spiris API support (api@spiris.se) and quote the ErrorId.';

/**
 * The published eAccounting error catalogue, explained for a Swedish merchant.
 * Codes not listed here still surface with Spiris' own developer message.
 */
export const SPIRIS_ERROR_CODES: Readonly<Record<number, SpirisErrorExplanation>> = Object.freeze({
  2000: {
    name: 'DataModelValidationError',
    explanation: 'Spiris rejected the data sent: one or more fields broke its rules (see the field details).',
    action: 'Correct the fields listed and try again.',
  },
  3000: {
    name: 'ResourceNotFound',
    explanation: 'Something the request refers to does not exist in the Spiris company.',
    action:
      'Check that the referenced item exists in Spiris, or that you are connected to the right company.',
  },
  3001: {
    name: 'FiscalYearDoesNotExist',
    explanation: 'There is no fiscal year (räkenskapsår) in Spiris that covers this date.',
    action:
      'Create the fiscal year in Spiris (Settings → Fiscal years) or book on a date inside an existing one.',
  },
  3002: {
    name: 'AccountNotFound',
    explanation: 'An account number used does not exist in the chart of accounts for that fiscal year.',
    action: 'Add the account in Spiris (Settings → Chart of accounts) or change the account mapping.',
  },
  4000: {
    name: 'Conflict',
    explanation: 'Spiris already has an item like this and does not allow a duplicate.',
    action: 'Look up the existing item in Spiris instead of creating it again.',
  },
  4002: {
    name: 'CanNotBeCreatedOrUpdated',
    explanation:
      'Spiris could not save the item: it contains values that are not allowed, or the company lacks a module this needs.',
    action: 'Read the details below; if a module is missing, add it in Spiris, otherwise correct the data.',
  },
  4003: {
    name: 'StartupGuideNotCompleted',
    explanation: 'The Spiris company has not finished its start-up guide, so the API is not open for it yet.',
    action: 'Log in to Spiris with this company, complete the start-up guide, then try again.',
  },
  4004: {
    name: 'CompanyNotActive',
    explanation: 'The Spiris company is not active (for example the subscription has ended).',
    action: 'Reactivate the company in Spiris, or connect the company that is in use.',
  },
  4005: {
    name: 'NotAuthorized',
    explanation: 'Spiris did not accept the authorization for this request.',
    action: 'Reconnect with `klarna-spiris connect spiris`.',
  },
  4006: {
    name: 'NoAccessToScopes',
    explanation: 'The connection was not granted the permissions (scopes) this request needs.',
    action:
      'Reconnect with `klarna-spiris connect spiris` and approve all requested permissions (bookkeeping needs ea:accounting).',
  },
  4007: {
    name: 'PermissionDenied',
    explanation: 'The Spiris user who approved the connection lacks the rights for this in the company.',
    action: 'Give that user bookkeeping rights in Spiris, or reconnect as a user who has them.',
  },
  4009: {
    name: 'NoAccessDueToProductVariant',
    explanation:
      "The company's Spiris subscription does not include this feature; vouchers need a variant with bookkeeping (Standard, Bookkeeping, Solo or Pro), not Invoicing only.",
    action: 'Upgrade the Spiris subscription to one that includes bookkeeping, then try again.',
  },
  4010: {
    name: 'TooManyRequests',
    explanation:
      'Spiris limits each integration to 600 requests per minute per endpoint, and the limit was hit.',
    action: 'Nothing to do: the request is retried after the wait Spiris asks for.',
  },
  4011: {
    name: 'NoAccessForAuthenticatedUser',
    explanation: 'The user who approved the connection has no access to bookkeeping in this Spiris company.',
    action:
      'Give the user access in Spiris, or reconnect with `klarna-spiris connect spiris` as a user who has it.',
  },
  4012: {
    name: 'LicenceAgreementNotAccepted',
    explanation: 'The connected user has not accepted the Spiris licence agreement for this company.',
    action: 'Log in to Spiris once with that user and company and accept the agreement, then try again.',
  },
  4013: {
    name: 'CannotBookkeepInvoice',
    explanation: 'Spiris could not book the invoice, usually because its date is in a locked year or period.',
    action: 'Unlock the period in Spiris, or book on a date in an open period.',
  },
  4019: {
    name: 'NoPermissionForReadonlyUser',
    explanation: 'The connection was approved by a read-only user, who cannot create anything in Spiris.',
    action: 'Reconnect with `klarna-spiris connect spiris` as a user with bookkeeping rights.',
  },
  4023: {
    name: 'FutureDateCannotBeSet',
    explanation: 'Spiris does not accept a future date here.',
    action: 'Use today or an earlier date.',
  },
  4026: {
    name: 'VoucherDateIsInLockedPeriod',
    explanation: 'The voucher date falls in a bookkeeping period that is locked in Spiris.',
    action:
      'Unlock the period in Spiris (Settings → Bookkeeping → Lock accounting) or choose a date in an open period, then book again.',
  },
  4034: {
    name: 'NotAllowedWithSandboxClient',
    explanation: 'A sandbox (test) API client was used against a production company.',
    action: 'Use production API credentials, or connect a sandbox company.',
  },
  4037: {
    name: 'ReconciliationSetInLockedAccountingPeriod',
    explanation: 'A bank transaction in the reconciliation is dated in a locked period.',
    action: 'Unlock the period in Spiris or leave that transaction out.',
  },
  4038: {
    name: 'VoucherDateIsInLockedYearException',
    explanation: 'The voucher date falls in a fiscal year that is closed (locked) in Spiris.',
    action: 'Book on a date in an open fiscal year, or reopen the year in Spiris if your accountant agrees.',
  },
  4100: {
    name: 'ExternalServiceValidation',
    explanation: 'A service Spiris depends on rejected the data.',
    action: 'Read the details below and correct the data.',
  },
  5000: {
    name: 'InternalServerError',
    explanation: 'Spiris had an internal error.',
    action: `Try again later. ${QUOTE_ERROR_ID}`,
  },
  5001: {
    name: 'CantReachSystemDependency',
    explanation: 'A system Spiris depends on did not answer in time.',
    action: 'Try again later.',
  },
  5002: {
    name: 'OperationCanceled',
    explanation: 'Spiris cancelled the operation.',
    action: `Try again later. ${QUOTE_ERROR_ID}`,
  },
  5005: {
    name: 'ProjectEnded',
    explanation: 'A row refers to a project that has ended.',
    action: 'Reopen the project in Spiris or remove it from the row.',
  },
  5006: {
    name: 'InactiveCostCenter',
    explanation: 'A row refers to a cost centre that is inactive.',
    action: 'Activate the cost centre in Spiris or remove it from the row.',
  },
  5007: {
    name: 'ItemToAttachNotFound',
    explanation: 'The attachment (or the voucher) to link does not exist in Spiris.',
    action: 'Upload the file again and link the new attachment.',
  },
  6000: {
    name: 'QueryParameterError',
    explanation: 'A search filter sent to Spiris was not valid.',
    action: 'This is a bug in klarna-spiris; please report it with the details below.',
  },
  6001: {
    name: 'InvalidInput',
    explanation: 'A date or value sent to Spiris had the wrong format.',
    action: 'Use dates as yyyy-mm-dd.',
  },
});

/**
 * Spiris has no dedicated code for an unbalanced voucher or for over-long texts; they
 * arrive as 2000/4002 with a message. These patterns turn the common ones into advice.
 */
const MESSAGE_HINTS: ReadonlyArray<{ pattern: RegExp; explanation: string; action: string }> = [
  {
    pattern: /balanc/i,
    explanation: 'The voucher does not balance: total debit must equal total credit.',
    action: 'Correct the rows so debit and credit are equal.',
  },
  {
    pattern: /decimal/i,
    explanation: 'An amount has more than two decimals.',
    action: 'Round amounts to whole öre.',
  },
  {
    pattern: /both.*(debit|credit)|(debit|credit).*both/i,
    explanation: 'A row has both a debit and a credit amount.',
    action: 'Put each amount on one side only, with 0 on the other.',
  },
  {
    pattern: /blocked for manual/i,
    explanation:
      'An account used is blocked for manual booking in Spiris (it is booked automatically, like the VAT settlement account 2650).',
    action: 'Book on another account, or lift the block on the account in Spiris.',
  },
  {
    pattern: /inactive|not active/i,
    explanation: 'An account used is inactive in the chart of accounts for that year.',
    action: 'Activate the account in Spiris or change the account mapping.',
  },
  {
    pattern: /too long|max(imum)?\s*length|exceed|at most \d+ characters|maximum of \d+ characters/i,
    explanation: 'A text is longer than Spiris allows (voucher text 1000, row text 60 characters).',
    action: 'Shorten the text.',
  },
];

export function explainSpirisErrorCode(code: number | undefined): SpirisErrorExplanation | undefined {
  return code === undefined ? undefined : SPIRIS_ERROR_CODES[code];
}

// ---- the hierarchy ---------------------------------------------------------------

/** Base of every Spiris failure. */
export class SpirisError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'SpirisError';
  }
}

export interface SpirisApiErrorInit {
  status: number;
  method: string;
  path: string;
  errorCode?: number;
  developerErrorMessage?: string;
  errorId?: string;
  fieldErrors?: SpirisFieldError[];
  headers?: Record<string, string>;
  raw?: unknown;
  retryAfterMs?: number;
}

/** Raised when the API answered with an error status; carries the envelope as data. */
export class SpirisApiError extends SpirisError {
  readonly status: number;
  readonly method: string;
  readonly path: string;
  readonly errorCode: number | undefined;
  readonly developerErrorMessage: string | undefined;
  readonly errorId: string | undefined;
  readonly fieldErrors: SpirisFieldError[];
  readonly headers: Record<string, string>;
  readonly raw: unknown;
  /** Our explanation and advice, from the catalogue or from the message. */
  readonly explanation: SpirisErrorExplanation | undefined;

  constructor(init: SpirisApiErrorInit) {
    const explanation = explainApiError(init);
    super(formatApiErrorMessage(init, explanation));
    this.name = 'SpirisApiError';
    this.status = init.status;
    this.method = init.method;
    this.path = init.path;
    this.errorCode = init.errorCode;
    this.developerErrorMessage = init.developerErrorMessage;
    this.errorId = init.errorId;
    this.fieldErrors = init.fieldErrors ?? [];
    this.headers = init.headers ?? {};
    this.raw = init.raw;
    this.explanation = explanation;
  }
}

/** Raised on 401/403 and the permission codes (4003–4012, 4019, 4034): the token, scopes, user or subscription do not allow the request. */
export class SpirisAuthError extends SpirisApiError {
  constructor(init: SpirisApiErrorInit) {
    super(init);
    this.name = 'SpirisAuthError';
  }
}

/** Raised on 429 / 4010 once the retries are used up; `retryAfterMs` is the wait Spiris asked for. */
export class SpirisRateLimitError extends SpirisApiError {
  readonly retryAfterMs: number | undefined;
  constructor(init: SpirisApiErrorInit) {
    super(init);
    this.name = 'SpirisRateLimitError';
    this.retryAfterMs = init.retryAfterMs;
  }
}

/** Raised on 400 with a definite rejection (field rules, locked period, missing year or account): nothing was saved. */
export class SpirisValidationError extends SpirisApiError {
  constructor(init: SpirisApiErrorInit) {
    super(init);
    this.name = 'SpirisValidationError';
  }
}

/** Raised on 404: the item asked for does not exist (in this company). */
export class SpirisNotFoundError extends SpirisApiError {
  constructor(init: SpirisApiErrorInit) {
    super(init);
    this.name = 'SpirisNotFoundError';
  }
}

/** Raised on 5xx for a read once retries are used up (a write gets SpirisUnknownOutcomeError instead). */
export class SpirisServerError extends SpirisApiError {
  constructor(init: SpirisApiErrorInit) {
    super(init);
    this.name = 'SpirisServerError';
  }
}

/** Raised when Spiris could not be reached (DNS, refused, reset, timeout) for a request that certainly changed nothing. */
export class SpirisConnectionError extends SpirisError {
  constructor(
    message: string,
    readonly code: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpirisConnectionError';
  }
}

/**
 * Raised when a write (POST) may or may not have been applied: the response was lost,
 * timed out or was a 5xx after the request went out. The API has no idempotency keys,
 * so the caller must look the item up (e.g. the voucher by date and text) before trying again.
 */
export class SpirisUnknownOutcomeError extends SpirisError {
  constructor(
    readonly method: string,
    readonly path: string,
    readonly detail: string,
    options?: { cause?: unknown },
  ) {
    super(
      `The outcome of ${method} ${path} is unknown (${detail}): Spiris may or may not have saved it. ` +
        'Look it up in Spiris before trying again; it was not retried, to avoid booking twice.',
      options,
    );
    this.name = 'SpirisUnknownOutcomeError';
  }
}

/** Raised when the identity server rejects a token request (RFC 6749 §5.2 error). */
export class SpirisOAuthError extends SpirisError {
  constructor(
    readonly error: string,
    readonly errorDescription: string | undefined,
    readonly status: number,
    message?: string,
  ) {
    super(
      message ??
        `The Visma identity server refused the token request (${error}${errorDescription ? `: ${errorDescription}` : ''}).`,
    );
    this.name = 'SpirisOAuthError';
  }
}

/** Raised when the code or refresh token is invalid, expired, revoked or already used. */
export class SpirisInvalidGrantError extends SpirisOAuthError {
  constructor(errorDescription: string | undefined, status: number) {
    super(
      'invalid_grant',
      errorDescription,
      status,
      'The Visma identity server rejected the authorization (invalid_grant): the refresh token or code is expired, revoked or was already used.',
    );
    this.name = 'SpirisInvalidGrantError';
  }
}

/** Raised when the client id or client secret is wrong. */
export class SpirisInvalidClientError extends SpirisOAuthError {
  constructor(errorDescription: string | undefined, status: number) {
    super(
      'invalid_client',
      errorDescription,
      status,
      'The Visma identity server did not accept the client id and client secret (invalid_client).',
    );
    this.name = 'SpirisInvalidClientError';
  }
}

/**
 * Raised, without calling Spiris, when the connection needs the merchant to authorize
 * again (refresh token rejected, issued access token expired). The message says why.
 */
export class SpirisReauthorizationRequiredError extends SpirisError {
  constructor(
    readonly connectionId: string,
    reason: string,
  ) {
    super(reason);
    this.name = 'SpirisReauthorizationRequiredError';
  }
}

export const isSpirisUnknownOutcome = (e: unknown): e is SpirisUnknownOutcomeError =>
  e instanceof SpirisUnknownOutcomeError;
export const isSpirisReauthorizationRequired = (e: unknown): e is SpirisReauthorizationRequiredError =>
  e instanceof SpirisReauthorizationRequiredError;

// ---- factories ---------------------------------------------------------------------

const AUTH_CODES = new Set([4003, 4004, 4005, 4006, 4007, 4009, 4011, 4012, 4019, 4034]);

/** The envelope fields, tolerant of a body that is not the documented shape. */
export function parseErrorEnvelope(body: unknown): {
  errorCode?: number;
  developerErrorMessage?: string;
  errorId?: string;
  fieldErrors: SpirisFieldError[];
} {
  if (!body || typeof body !== 'object') return { fieldErrors: [] };
  const b = body as Record<string, unknown>;
  const code = typeof b.ErrorCode === 'number' ? b.ErrorCode : Number(b.ErrorCode);
  const fieldErrors: SpirisFieldError[] = [];
  if (Array.isArray(b.Errors)) {
    for (const e of b.Errors) {
      if (!e || typeof e !== 'object') continue;
      const fe = e as Record<string, unknown>;
      fieldErrors.push({
        field: str(fe.Field),
        code: str(fe.ErrorCode),
        message: str(fe.Message),
      });
    }
  }
  // Some clients report an `ErrorMessages` map keyed by field; keep it if it shows up.
  if (b.ErrorMessages && typeof b.ErrorMessages === 'object' && !Array.isArray(b.ErrorMessages)) {
    for (const [field, msg] of Object.entries(b.ErrorMessages as Record<string, unknown>)) {
      const messages = Array.isArray(msg) ? msg : [msg];
      for (const m of messages) fieldErrors.push({ field, code: null, message: str(m) });
    }
  }
  return {
    ...(Number.isFinite(code) ? { errorCode: code } : {}),
    ...(str(b.DeveloperErrorMessage) ? { developerErrorMessage: str(b.DeveloperErrorMessage)! } : {}),
    ...(str(b.ErrorId) ? { errorId: str(b.ErrorId)! } : {}),
    fieldErrors,
  };
}

/** The subclass for a response, by status first and ErrorCode second. */
export function spirisApiErrorFrom(init: SpirisApiErrorInit): SpirisApiError {
  if (init.status === 429 || init.errorCode === 4010) return new SpirisRateLimitError(init);
  if (init.status === 401 || init.status === 403 || (init.errorCode && AUTH_CODES.has(init.errorCode)))
    return new SpirisAuthError(init);
  if (init.status === 404) return new SpirisNotFoundError(init);
  if (init.status >= 500) return new SpirisServerError(init);
  if (init.status >= 400) return new SpirisValidationError(init);
  return new SpirisApiError(init);
}

/** RFC 6749 error body → the matching OAuth error. */
export function spirisOAuthErrorFrom(status: number, body: unknown): SpirisOAuthError {
  const b = body && typeof body === 'object' ? (body as Record<string, unknown>) : {};
  const error = str(b.error) ?? `http_${status}`;
  const description = str(b.error_description) ?? undefined;
  if (error === 'invalid_grant') return new SpirisInvalidGrantError(description, status);
  if (error === 'invalid_client' || error === 'unauthorized_client')
    return new SpirisInvalidClientError(description, status);
  return new SpirisOAuthError(error, description, status);
}

/**
 * "…maximum admitted 600 per Minute. Try again in 55 seconds." → 55000. Spiris often
 * sends no Retry-After, so this message is the only schedule it gives.
 */
export function parseTryAgainInMs(message: string | undefined | null): number | undefined {
  if (!message) return undefined;
  const m = /try again in\s+(\d+(?:\.\d+)?)\s*(milliseconds?|ms|seconds?|secs?|s|minutes?|mins?|m)\b/i.exec(
    message,
  );
  if (!m) return undefined;
  const n = Number(m[1]);
  const unit = m[2]!.toLowerCase();
  if (unit.startsWith('ms') || unit.startsWith('milli')) return Math.ceil(n);
  if (unit.startsWith('m')) return Math.ceil(n * 60_000);
  return Math.ceil(n * 1000);
}

function explainApiError(init: SpirisApiErrorInit): SpirisErrorExplanation | undefined {
  const fromCode = explainSpirisErrorCode(init.errorCode);
  const generic = init.errorCode === undefined || init.errorCode === 2000 || init.errorCode === 4002;
  if (generic) {
    const text = [
      init.developerErrorMessage,
      ...(init.fieldErrors ?? []).map((f) => `${f.field} ${f.message}`),
    ]
      .filter(Boolean)
      .join(' ');
    const hint = MESSAGE_HINTS.find((h) => h.pattern.test(text));
    if (hint)
      return {
        name: fromCode?.name ?? 'ValidationError',
        explanation: hint.explanation,
        action: hint.action,
      };
  }
  if (fromCode) return fromCode;
  if (init.status === 401) {
    return {
      name: 'Unauthorized',
      explanation: 'Spiris did not accept the access token.',
      action: 'Reconnect with `klarna-spiris connect spiris` if this persists.',
    };
  }
  return undefined;
}

function formatApiErrorMessage(
  init: SpirisApiErrorInit,
  explanation: SpirisErrorExplanation | undefined,
): string {
  const codePart = init.errorCode !== undefined ? `, error ${init.errorCode}` : '';
  const namePart = explanation ? ` ${explanation.name}` : '';
  const head = `Spiris rejected ${init.method} ${init.path} (HTTP ${init.status}${codePart}${namePart})`;
  const parts = [explanation ? `${head}: ${explanation.explanation} ${explanation.action}` : `${head}.`];
  if (init.developerErrorMessage) parts.push(`Spiris says: ${init.developerErrorMessage}`);
  const fields = (init.fieldErrors ?? [])
    .filter((f) => f.message)
    .map((f) => (f.field ? `${f.field}: ${f.message}` : f.message));
  if (fields.length > 0 && !fields.every((f) => init.developerErrorMessage?.includes(f!))) {
    parts.push(`Fields: ${fields.join('; ')}`);
  }
  if (init.errorId) parts.push(`ErrorId ${init.errorId}`);
  return parts.join(' | ');
}

function str(v: unknown): string | null {
  if (typeof v === 'string' && v !== '') return v;
  if (typeof v === 'number') return String(v);
  return null;
}
