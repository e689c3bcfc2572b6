import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/** Error codes from the published eAccounting catalogue. */
export const ErrorCodes = {
  DataModelValidationError: 2000,
  ResourceNotFound: 3000,
  FiscalYearDoesNotExist: 3001,
  AccountNotFound: 3002,
  Conflict: 4000,
  CanNotBeCreatedOrUpdated: 4002,
  NotAuthorized: 4005,
  NoAccessToScopes: 4006,
  NoAccessDueToProductVariant: 4009,
  TooManyRequests: 4010,
  VoucherDateIsInLockedPeriod: 4026,
  VoucherDateIsInLockedYearException: 4038,
  InternalServerError: 5000,
  CantReachSystemDependency: 5001,
  ItemToAttachNotFound: 5007,
  QueryParameterError: 6000,
  InvalidInput: 6001,
} as const;

export interface FieldError {
  Field: string | null;
  ErrorCode: string | null;
  Message: string | null;
  Key: string | null;
}

/** An API failure carrying the `CommonExtendedBadRequest` envelope. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
    readonly errors: FieldError[] | null = null,
  ) {
    super(message);
  }

  toBody(): Record<string, unknown> {
    const body: Record<string, unknown> = {
      ErrorCode: this.errorCode,
      DeveloperErrorMessage: this.message,
      ErrorId: randomUUID(),
    };
    if (this.errors && this.errors.length > 0) body.Errors = this.errors;
    return body;
  }
}

export function fieldError(field: string, message: string, code = 'ValidationError'): FieldError {
  return { Field: field, ErrorCode: code, Message: message, Key: field };
}

export function validationError(errors: FieldError[]): ApiError {
  const summary = errors.map((e) => `${e.Field}: ${e.Message}`).join(' ');
  return new ApiError(400, ErrorCodes.DataModelValidationError, summary, errors);
}

export class BodyTooLargeError extends Error {}

export async function readBody(req: IncomingMessage, limitBytes: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    size += buf.length;
    if (size > limitBytes) throw new BodyTooLargeError(`request body exceeds ${limitBytes} bytes`);
    chunks.push(buf);
  }
  return Buffer.concat(chunks);
}

export function mediaType(req: IncomingMessage): string {
  return (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
}

/** ISO timestamp without milliseconds, the way the API prints `ServerTimeUtc`. */
export function utcSeconds(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export function utcMillis(ms: number): string {
  return new Date(ms).toISOString();
}

/** Dates are serialised as local midnight without an offset, e.g. `2026-03-12T00:00:00`. */
export function apiDate(isoDate: string): string {
  return `${isoDate}T00:00:00`;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export function isGuid(value: unknown): value is string {
  return typeof value === 'string' && GUID.test(value);
}
