import { describe, expect, it } from 'vitest';
import {
  backoffDelayMs,
  DEFAULT_RETRY_POLICY,
  decideRetry,
  parseRetryAfter,
  type RetryPolicy,
} from './retry.ts';

const NOW = new Date('2026-03-02T10:00:00Z');
const policy: RetryPolicy = { maxRetries: 3, initialDelayMs: 100, maxDelayMs: 1_000, maxWaitMs: 10_000 };
const noJitter = () => 1;
const fullJitter = () => 0;

describe('parseRetryAfter', () => {
  it.each([
    [undefined, undefined],
    [null, undefined],
    ['', undefined],
    ['  ', undefined],
    ['0', 0],
    ['3', 3_000],
    [' 12 ', 12_000],
    ['1.5', 1_500],
    ['-1', undefined],
    ['soon', undefined],
    ['Mon, 02 Mar 2026 10:00:30 GMT', 30_000],
    ['Mon, 02 Mar 2026 09:59:00 GMT', 0],
    ['Monday, 02-Mar-26 10:01:00 GMT', 60_000],
  ])('%j → %j', (value, expected) => {
    expect(parseRetryAfter(value as string | null | undefined, NOW)).toBe(expected);
  });
});

describe('backoffDelayMs', () => {
  it.each([
    [1, noJitter, 100],
    [2, noJitter, 200],
    [3, noJitter, 400],
    [4, noJitter, 800],
    [5, noJitter, 1_000],
    [30, noJitter, 1_000],
    [1, fullJitter, 100],
    [3, fullJitter, 200],
    [5, fullJitter, 500],
    [4, () => 0.5, 600],
    [0, noJitter, 100],
  ])('attempt %i → %i ms', (attempt, random, expected) => {
    expect(backoffDelayMs(attempt, policy, random)).toBe(expected);
  });

  it('stays within 50–100 % of the exponential value and never below the initial delay', () => {
    for (let attempt = 1; attempt <= 10; attempt++) {
      for (const r of [0, 0.1, 0.33, 0.5, 0.9, 0.999]) {
        const d = backoffDelayMs(attempt, DEFAULT_RETRY_POLICY, () => r);
        const cap = Math.min(500 * 2 ** (attempt - 1), 8_000);
        expect(d).toBeGreaterThanOrEqual(Math.max(500, cap / 2));
        expect(d).toBeLessThanOrEqual(cap);
      }
    }
  });
});

describe('decideRetry', () => {
  const cases: Array<{
    name: string;
    input: Parameters<typeof decideRetry>[0];
    retry: boolean;
    delayMs?: number;
    reason?: RegExp;
  }> = [
    {
      name: 'network error on GET',
      input: { attempt: 1, method: 'GET', networkError: 'ECONNRESET' },
      retry: true,
      delayMs: 100,
    },
    {
      name: 'timeout on GET, second attempt',
      input: { attempt: 2, method: 'get', networkError: 'TIMEOUT' },
      retry: true,
      delayMs: 200,
    },
    { name: '500', input: { attempt: 1, method: 'GET', status: 500 }, retry: true, delayMs: 100 },
    { name: '502', input: { attempt: 3, method: 'GET', status: 502 }, retry: true, delayMs: 400 },
    { name: '503 on PUT', input: { attempt: 1, method: 'PUT', status: 503 }, retry: true, delayMs: 100 },
    { name: '504 on DELETE', input: { attempt: 1, method: 'DELETE', status: 504 }, retry: true },
    { name: '408', input: { attempt: 1, method: 'GET', status: 408 }, retry: true },
    {
      name: '501 is a permanent answer',
      input: { attempt: 1, method: 'GET', status: 501 },
      retry: false,
      reason: /HTTP 501 is not retryable/,
    },
    { name: '400', input: { attempt: 1, method: 'GET', status: 400 }, retry: false },
    { name: '401', input: { attempt: 1, method: 'GET', status: 401 }, retry: false },
    { name: '404', input: { attempt: 1, method: 'GET', status: 404 }, retry: false },
    { name: '409', input: { attempt: 1, method: 'GET', status: 409 }, retry: false },
    {
      name: 'POST never retried on 503',
      input: { attempt: 1, method: 'POST', status: 503 },
      retry: false,
      reason: /POST is not retried/,
    },
    {
      name: 'POST never retried on network error',
      input: { attempt: 1, method: 'POST', networkError: 'ECONNRESET' },
      retry: false,
      reason: /not idempotent/,
    },
    {
      name: 'POST never retried on 429',
      input: { attempt: 1, method: 'POST', status: 429, headers: { 'retry-after': '1' } },
      retry: false,
    },
    { name: 'PATCH is not idempotent', input: { attempt: 1, method: 'PATCH', status: 500 }, retry: false },
    {
      name: 'gives up after maxRetries',
      input: { attempt: 4, method: 'GET', status: 500 },
      retry: false,
      reason: /gave up after 4 attempts \(3 retries\)/,
    },
    { name: 'last allowed retry', input: { attempt: 3, method: 'GET', status: 500 }, retry: true },
    {
      name: '429 without hint uses backoff',
      input: { attempt: 2, method: 'GET', status: 429 },
      retry: true,
      delayMs: 200,
    },
    {
      name: '429 Retry-After seconds',
      input: { attempt: 1, method: 'GET', status: 429, headers: { 'retry-after': '3' } },
      retry: true,
      delayMs: 3_000,
    },
    {
      name: '429 Retry-After HTTP-date',
      input: {
        attempt: 1,
        method: 'GET',
        status: 429,
        headers: { 'retry-after': 'Mon, 02 Mar 2026 10:00:05 GMT' },
      },
      retry: true,
      delayMs: 5_000,
    },
    {
      name: '429 x-ratelimit-reset',
      input: { attempt: 1, method: 'GET', status: 429, headers: { 'x-ratelimit-reset': '2' } },
      retry: true,
      delayMs: 2_000,
    },
    {
      name: '429 takes the longest of all hints',
      input: {
        attempt: 1,
        method: 'GET',
        status: 429,
        headers: { 'retry-after': '2', 'x-ratelimit-reset': '4' },
        hintMs: 3_000,
      },
      retry: true,
      delayMs: 4_000,
    },
    {
      name: '429 caller hint',
      input: { attempt: 1, method: 'GET', status: 429, hintMs: 7_000 },
      retry: true,
      delayMs: 7_000,
    },
    {
      name: '429 reset 0 is floored at the initial delay',
      input: { attempt: 1, method: 'GET', status: 429, headers: { 'x-ratelimit-reset': '0' } },
      retry: true,
      delayMs: 100,
    },
    {
      name: '429 asking for longer than maxWaitMs gives up and says how long',
      input: { attempt: 1, method: 'GET', status: 429, headers: { 'retry-after': '3600' } },
      retry: false,
      reason: /asked to wait 60 min, longer than the 10 s we wait at most/,
    },
    {
      name: '429 hint exactly at the cap',
      input: { attempt: 1, method: 'GET', status: 429, headers: { 'retry-after': '10' } },
      retry: true,
      delayMs: 10_000,
    },
    {
      name: '503 Retry-After lengthens the backoff',
      input: { attempt: 1, method: 'GET', status: 503, headers: { 'retry-after': '2' } },
      retry: true,
      delayMs: 2_000,
    },
    {
      name: '503 short Retry-After keeps the backoff',
      input: { attempt: 3, method: 'GET', status: 503, headers: { 'retry-after': '0' } },
      retry: true,
      delayMs: 400,
    },
    {
      name: 'garbage headers are ignored',
      input: {
        attempt: 1,
        method: 'GET',
        status: 429,
        headers: { 'retry-after': 'later', 'x-ratelimit-reset': 'x' },
      },
      retry: true,
      delayMs: 100,
    },
    { name: 'nothing failed', input: { attempt: 1, method: 'GET' }, retry: false, reason: /nothing failed/ },
  ];

  it.each(cases)('$name', ({ input, retry, delayMs, reason }) => {
    const decision = decideRetry(input, policy, NOW, noJitter);
    expect(decision.retry).toBe(retry);
    if (decision.retry && delayMs !== undefined) expect(decision.delayMs).toBe(delayMs);
    if (reason) expect(decision.reason).toMatch(reason);
    expect(decision.reason.length).toBeGreaterThan(0);
  });

  it('uses the default policy when none is given', () => {
    const d = decideRetry({ attempt: 5, method: 'GET', status: 500 });
    expect(d).toMatchObject({ retry: false });
    expect(decideRetry({ attempt: 4, method: 'GET', status: 500 }).retry).toBe(true);
  });
});
