import { isJsonContentType } from '../http/network-error.ts';
import { ErrorResponseSchema } from './klarna.types.ts';

export interface KlarnaErrorDetails {
  status?: number;
  errorCode?: string;
  errorMessages?: string[];
  correlationId?: string;
  /** Method and path (with query) of the request, never its headers. */
  request?: string;
  /** Response headers that help support; never request headers. */
  headers?: Record<string, string>;
  cause?: unknown;
}

/** Anything the Klarna Settlements API client raises after a request was attempted. */
export class KlarnaError extends Error {
  readonly status: number | undefined;
  readonly errorCode: string | undefined;
  readonly errorMessages: string[];
  /** Quote this to Klarna support. */
  readonly correlationId: string | undefined;
  readonly request: string | undefined;
  readonly headers: Record<string, string>;

  constructor(message: string, details: KlarnaErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = new.target.name;
    this.status = details.status;
    this.errorCode = details.errorCode;
    this.errorMessages = details.errorMessages ?? [];
    this.correlationId = details.correlationId;
    this.request = details.request;
    this.headers = details.headers ?? {};
  }
}

/** Raised on 401/403: the key is revoked, disabled, for the other environment, or lacks access. */
export class KlarnaAuthenticationError extends KlarnaError {}
/** Raised on 404: e.g. an unknown payment_reference. */
export class KlarnaNotFoundError extends KlarnaError {}
/** Raised on 429 once retries are used up or the server asks for a longer wait than we accept. */
export class KlarnaRateLimitError extends KlarnaError {
  constructor(message: string, details: KlarnaErrorDetails & { retryAfterMs?: number } = {}) {
    super(message, details);
    this.retryAfterMs = details.retryAfterMs;
  }
  readonly retryAfterMs: number | undefined;
}
/** Raised on other 4xx: the request itself is wrong (bad dates, page size above 500, …). */
export class KlarnaBadRequestError extends KlarnaError {}
/** Raised on 5xx after retries. */
export class KlarnaServerError extends KlarnaError {}
/** Raised when no HTTP answer arrived: refused, reset, DNS, TLS or timeout, after retries. */
export class KlarnaConnectionError extends KlarnaError {
  constructor(message: string, details: KlarnaErrorDetails & { code?: string } = {}) {
    super(message, details);
    this.code = details.code ?? 'NETWORK_ERROR';
  }
  readonly code: string;
}
/** Raised when a 2xx answer cannot be used: not JSON, wrong content type, or not the documented shape. */
export class KlarnaResponseError extends KlarnaError {}

/** Parsed `ErrorResponse` body, when the answer carries one. */
export interface KlarnaErrorBody {
  errorCode?: string;
  errorMessages?: string[];
  correlationId?: string;
}

/**
 * Reads Klarna's `{error_code, error_messages, correlation_id}`. The CSV and PDF
 * endpoints declare that body under their own media types, so a JSON-looking body is
 * accepted there too; an HTML page from a proxy is never parsed.
 */
export function parseErrorBody(contentType: string | null, text: string): KlarnaErrorBody | undefined {
  const trimmed = text.trim();
  const jsonDeclared = isJsonContentType(contentType);
  const declaredAsReport = !contentType || /^(text\/csv|application\/pdf|text\/plain)/i.test(contentType);
  if (!jsonDeclared && !(declaredAsReport && trimmed.startsWith('{'))) return undefined;
  let json: unknown;
  try {
    json = JSON.parse(trimmed);
  } catch {
    return undefined;
  }
  const parsed = ErrorResponseSchema.safeParse(json);
  if (!parsed.success) return undefined;
  return {
    errorCode: parsed.data.error_code,
    errorMessages: parsed.data.error_messages ?? [],
    ...(parsed.data.correlation_id ? { correlationId: parsed.data.correlation_id } : {}),
  };
}

export interface ErrorResponseInput {
  status: number;
  request: string;
  contentType: string | null;
  bodyText: string;
  headers: Record<string, string>;
  /** e.g. "playground, eu, key klarna_test_api_…abc": context for auth errors, already masked. */
  target: string;
  /** Why retrying stopped, for 429 and 5xx. */
  retryReason?: string;
  retryAfterMs?: number;
}

/** The one place a failed HTTP answer becomes a typed error. */
export function klarnaErrorFromResponse(input: ErrorResponseInput): KlarnaError {
  const body = parseErrorBody(input.contentType, input.bodyText);
  const details: KlarnaErrorDetails = {
    status: input.status,
    request: input.request,
    headers: input.headers,
    ...(body?.errorCode ? { errorCode: body.errorCode } : {}),
    ...(body?.errorMessages ? { errorMessages: body.errorMessages } : {}),
    ...(body?.correlationId ? { correlationId: body.correlationId } : {}),
  };
  const said = describeBody(body, input.contentType, input.bodyText);
  const ref = body?.correlationId ? ` (correlation_id ${body.correlationId})` : '';
  const { status } = input;

  if (status === 401) {
    return new KlarnaAuthenticationError(
      `Klarna refused the credentials (401) for ${input.target}: key revoked or disabled, or wrong environment: ` +
        'a klarna_test_api_ key works only against the playground and a klarna_live_api_ key only against production, ' +
        'in the region it was created for. Check the key in the Merchant Portal → Settings → API credentials ' +
        '(keys unused for two months are disabled), then connect again with a working key.' +
        `${said}${ref}`,
      details,
    );
  }
  if (status === 403) {
    return new KlarnaAuthenticationError(
      `Klarna accepted the credentials but denied access (403) for ${input.target}: the key may lack the Settlements ` +
        'permission or the product is not on your contract. Ask an administrator to check the API credentials in the ' +
        `Merchant Portal.${said}${ref}`,
      details,
    );
  }
  if (status === 404) {
    return new KlarnaNotFoundError(`Klarna found nothing at ${input.request} (404).${said}${ref}`, details);
  }
  if (status === 429) {
    return new KlarnaRateLimitError(
      `Klarna rate limit (429) on ${input.request}${input.retryReason ? `: ${input.retryReason}` : ''}.${said}${ref}`,
      { ...details, ...(input.retryAfterMs === undefined ? {} : { retryAfterMs: input.retryAfterMs }) },
    );
  }
  if (status >= 500) {
    return new KlarnaServerError(
      `Klarna answered ${status} on ${input.request}${input.retryReason ? `: ${input.retryReason}` : ''}.${said}${ref}`,
      details,
    );
  }
  return new KlarnaBadRequestError(`Klarna rejected ${input.request} (${status}).${said}${ref}`, details);
}

function describeBody(body: KlarnaErrorBody | undefined, contentType: string | null, text: string): string {
  if (body) {
    const messages = body.errorMessages?.length ? `: ${body.errorMessages.join('; ')}` : '';
    return ` ${body.errorCode ?? 'ERROR'}${messages}`;
  }
  if (text.trim() === '') return '';
  return ` The answer was not a Klarna error body (${contentType ?? 'no content type'}, ${text.length} characters).`;
}
