import type { ApiError } from './http-util.ts';

/** A response computed in full before anything is written, so faults can drop it after the work is done. */
export interface Reply {
  status: number;
  headers: Record<string, string>;
  body: string | Buffer;
}

export function jsonReply(status: number, body: unknown, headers: Record<string, string> = {}): Reply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: body === undefined ? '' : JSON.stringify(body),
  };
}

export function errorReply(err: ApiError, headers: Record<string, string> = {}): Reply {
  return jsonReply(err.status, err.toBody(), headers);
}

export function emptyReply(status: number): Reply {
  return { status, headers: {}, body: '' };
}
