/**
 * The code to log and to feed `decideRetry` for a failed `fetch`. undici wraps the
 * socket error in `TypeError('fetch failed')` with the real one in `cause`, and a
 * timeout surfaces as an AbortSignal.timeout `TimeoutError`.
 */
export function networkErrorCode(err: unknown): string {
  let current: unknown = err;
  for (let depth = 0; depth < 5 && current; depth++) {
    if (typeof current !== 'object') break;
    const e = current as { name?: unknown; code?: unknown; cause?: unknown };
    if (e.name === 'TimeoutError') return 'TIMEOUT';
    if (typeof e.code === 'string' && e.code !== '') return e.code;
    current = e.cause;
  }
  if (err instanceof Error && err.name === 'AbortError') return 'ABORTED';
  return 'NETWORK_ERROR';
}

/** True when a response body says it is JSON (application/json, application/problem+json, …). */
export function isJsonContentType(value: string | null | undefined): boolean {
  if (!value) return false;
  const type = value.split(';')[0]?.trim().toLowerCase() ?? '';
  return type === 'application/json' || /^application\/[a-z0-9.+-]*\+json$/.test(type);
}
