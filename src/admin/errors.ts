import { hasZodFastifySchemaValidationErrors, ResponseSerializationError } from 'fastify-type-provider-zod';
import { z } from 'zod';

/** Every code the HTTP API can answer with; clients switch on these, never on messages. */
export type ApiErrorCode =
  | 'invalid_request'
  | 'unauthorized'
  | 'forbidden'
  | 'csrf_failed'
  | 'not_found'
  | 'conflict'
  | 'go_live_refused'
  | 'unprocessable'
  | 'payload_too_large'
  | 'unsupported_media_type'
  | 'rate_limited'
  | 'unavailable'
  | 'upstream_error'
  | 'internal_error';

export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Structured detail a client can act on (the failing go-live checks); never a secret. */
    readonly details?: { checks?: unknown[]; field?: string },
  ) {
    super(message);
    this.name = 'ApiError';
  }

  toJSON(): ErrorBody {
    return { error: { code: this.code, message: this.message, ...this.details } };
  }
}

export const ErrorBodySchema = z
  .object({
    error: z.object({
      code: z.string().describe('Stable machine-readable code, e.g. not_found'),
      message: z.string().describe('Human-readable explanation'),
      field: z.string().optional().describe('The request field that was refused, when one was'),
    }),
  })
  .describe('Error');

/** A check as the go-live gate reports it; `fix` says what to do when it failed. */
export const GateCheckSchema = z.object({
  id: z.string(),
  ok: z.boolean(),
  message: z.string(),
  fix: z.string().nullable(),
});

/** 409 from a refused switch to live: every check of the gate, failing ones with their fix. */
export const GoLiveRefusedBodySchema = z
  .object({
    error: z.object({
      code: z.literal('go_live_refused'),
      message: z.string(),
      checks: z.array(GateCheckSchema),
    }),
  })
  .describe('GoLiveRefused');

export type ErrorBody = { error: { code: string; message: string; field?: string; checks?: unknown[] } };

/** Response schemas for the errors every authenticated API route can return. */
export const COMMON_ERROR_RESPONSES = {
  400: ErrorBodySchema,
  401: ErrorBodySchema,
  429: ErrorBodySchema,
} as const;

const STATUS_CODES: Record<number, ApiErrorCode> = {
  400: 'invalid_request',
  401: 'unauthorized',
  403: 'forbidden',
  404: 'not_found',
  409: 'conflict',
  422: 'unprocessable',
  413: 'payload_too_large',
  415: 'unsupported_media_type',
  429: 'rate_limited',
  503: 'unavailable',
};

/** Anything thrown in a handler, as the status, code and message a client may see. */
export function toApiError(err: unknown): ApiError {
  if (err instanceof ApiError) return err;
  if (hasZodFastifySchemaValidationErrors(err)) {
    const details = err.validation
      .map((v) => `${v.instancePath.slice(1).replace(/\//g, '.') || 'value'}: ${v.message}`)
      .join('; ');
    return new ApiError(400, 'invalid_request', `Invalid ${err.validationContext ?? 'request'}: ${details}`);
  }
  if (err instanceof ResponseSerializationError) {
    return new ApiError(500, 'internal_error', 'Internal server error');
  }
  const e = err as { statusCode?: number; message?: string; validation?: unknown };
  const status = typeof e.statusCode === 'number' ? e.statusCode : 500;
  if (status >= 400 && status < 500) {
    // Fastify's own 4xx errors (bad JSON, wrong content type, body too large) carry safe messages.
    return new ApiError(status, STATUS_CODES[status] ?? 'invalid_request', e.message ?? 'Bad request');
  }
  if (status === 503) return new ApiError(503, 'unavailable', 'Service unavailable');
  return new ApiError(500, 'internal_error', 'Internal server error');
}
