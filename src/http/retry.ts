/**
 * Retry policy as pure functions: the request loops (Klarna, Spiris) ask `decideRetry`
 * after every failed attempt and sleep for the delay it returns. Keeping the decision
 * pure lets it be table-tested without a server or a clock.
 */

export interface RetryPolicy {
  /** Retries after the first attempt; 4 means at most 5 requests. */
  maxRetries: number;
  initialDelayMs: number;
  /** Cap on our own exponential backoff. */
  maxDelayMs: number;
  /** Cap on any wait the server asks for; a longer hint ends the retries instead of stalling a run. */
  maxWaitMs: number;
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = Object.freeze({
  maxRetries: 4,
  initialDelayMs: 500,
  maxDelayMs: 8_000,
  maxWaitMs: 60_000,
});

export type RetryDecision =
  | { retry: false; reason: string }
  | { retry: true; delayMs: number; reason: string };

const IDEMPOTENT_METHODS = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS']);

/** Retry-After as delta-seconds or HTTP-date → milliseconds from now; undefined when absent/invalid. */
export function parseRetryAfter(
  value: string | null | undefined,
  now: Date = new Date(),
): number | undefined {
  if (value == null) return undefined;
  const trimmed = value.trim();
  if (trimmed === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.ceil(Number(trimmed) * 1000);
  // RFC 9110 allows only delta-seconds or an IMF-fixdate; a bare number that is
  // negative or garbage is not a date either, so require a letter before Date.parse.
  if (!/[a-z]/i.test(trimmed)) return undefined;
  const at = Date.parse(trimmed);
  if (Number.isNaN(at)) return undefined;
  return Math.max(0, at - now.getTime());
}

/** Exponential from initialDelayMs, capped at maxDelayMs, jitter 50–100 %, never below initialDelayMs. attempt is 1-based. */
export function backoffDelayMs(
  attempt: number,
  policy: RetryPolicy,
  random: () => number = Math.random,
): number {
  const n = Math.max(1, Math.floor(attempt));
  const exponential = Math.min(policy.initialDelayMs * 2 ** (n - 1), policy.maxDelayMs);
  // Jitter spreads retries of parallel workers so they do not hit the server in lockstep.
  const jittered = exponential * (0.5 + 0.5 * clamp01(random()));
  return Math.round(Math.max(policy.initialDelayMs, jittered));
}

export interface RetryInput {
  /** 1-based number of the attempt that just failed. */
  attempt: number;
  /** Only idempotent methods (GET/HEAD/PUT/DELETE/OPTIONS) are retried; POST never blindly. */
  method: string;
  /** HTTP status, absent for network errors/timeouts. */
  status?: number;
  /** e.g. 'ECONNRESET', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'TIMEOUT', 'ECONNREFUSED'. */
  networkError?: string;
  /** Lower-case header names. */
  headers?: Record<string, string | undefined>;
  /** An API-specific wait hint the caller parsed (e.g. "Try again in N seconds"). */
  hintMs?: number;
}

/**
 * Retries network errors, 408, 429 and 5xx (except 501). For 429 (and 503 with a hint)
 * it waits the longest of Retry-After, x-ratelimit-reset (seconds) and hintMs, never
 * less than the backoff, capped at maxWaitMs: when the server asks for longer than
 * that, it gives up with a reason that says how long the server asked to wait.
 */
export function decideRetry(
  input: RetryInput,
  policy: RetryPolicy = DEFAULT_RETRY_POLICY,
  now: Date = new Date(),
  random: () => number = Math.random,
): RetryDecision {
  const method = input.method.toUpperCase();
  const what = describe(input);
  if (input.status === undefined && input.networkError === undefined) {
    return { retry: false, reason: 'nothing failed: neither a status nor a network error was given' };
  }
  if (input.status !== undefined && !isRetryableStatus(input.status)) {
    return { retry: false, reason: `${what} is not retryable` };
  }
  if (!IDEMPOTENT_METHODS.has(method)) {
    // A POST that failed mid-flight may have been applied; repeating it could book twice.
    return { retry: false, reason: `${what} on ${method} is not retried: the request is not idempotent` };
  }
  if (input.attempt > policy.maxRetries) {
    return {
      retry: false,
      reason: `${what}: gave up after ${input.attempt} attempt${input.attempt === 1 ? '' : 's'} (${policy.maxRetries} retries)`,
    };
  }

  const backoff = backoffDelayMs(input.attempt, policy, random);
  const hinted = serverHintMs(input, now);
  if (hinted === undefined) {
    return {
      retry: true,
      delayMs: backoff,
      reason: `${what}: retry ${input.attempt} of ${policy.maxRetries} after ${backoff} ms backoff`,
    };
  }
  if (hinted > policy.maxWaitMs) {
    return {
      retry: false,
      reason: `${what}: the server asked to wait ${formatDuration(hinted)}, longer than the ${formatDuration(policy.maxWaitMs)} we wait at most; try again later`,
    };
  }
  // A 429 hint is the server's own schedule, so it replaces the backoff (floored so a
  // reset of 0 does not spin); for 5xx the hint only lengthens our backoff.
  const delayMs = Math.max(hinted, input.status === 429 ? policy.initialDelayMs : backoff);
  return {
    retry: true,
    delayMs,
    reason: `${what}: retry ${input.attempt} of ${policy.maxRetries} after ${delayMs} ms as the server asked`,
  };
}

function isRetryableStatus(status: number): boolean {
  return status === 408 || status === 429 || (status >= 500 && status <= 599 && status !== 501);
}

/** The longest wait any hint asks for: the most restrictive one is the one that avoids another 429. */
function serverHintMs(input: RetryInput, now: Date): number | undefined {
  const headers = input.headers ?? {};
  const candidates: number[] = [];
  const retryAfter = parseRetryAfter(headers['retry-after'], now);
  if (retryAfter !== undefined) candidates.push(retryAfter);
  const reset = parseResetSeconds(headers['x-ratelimit-reset']);
  if (reset !== undefined) candidates.push(reset);
  if (input.hintMs !== undefined && Number.isFinite(input.hintMs) && input.hintMs >= 0)
    candidates.push(input.hintMs);
  return candidates.length === 0 ? undefined : Math.max(...candidates);
}

function parseResetSeconds(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const trimmed = value.trim();
  if (!/^\d+(\.\d+)?$/.test(trimmed)) return undefined;
  return Math.ceil(Number(trimmed) * 1000);
}

function describe(input: RetryInput): string {
  if (input.status !== undefined) return `HTTP ${input.status}`;
  return `network error ${input.networkError}`;
}

function formatDuration(ms: number): string {
  if (ms < 1000) return `${ms} ms`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 120) return `${seconds} s`;
  const minutes = Math.ceil(seconds / 60);
  if (minutes < 120) return `${minutes} min`;
  return `${Math.ceil(minutes / 60)} h`;
}

function clamp01(x: number): number {
  if (!Number.isFinite(x)) return 1;
  return Math.min(1, Math.max(0, x));
}
