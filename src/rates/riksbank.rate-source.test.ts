import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RiksbankSimulator, startRiksbankSimulator } from '../simulators/riksbank/riksbank.simulator.ts';
import {
  RiksbankRateError,
  RiksbankRateSource,
  type RiksbankRateSourceOptions,
} from './riksbank.rate-source.ts';

const EUR = [
  { date: '2026-03-12', value: 11.0671 },
  { date: '2026-03-13', value: 11.0704 }, // Friday
  { date: '2026-03-16', value: 11.1002 }, // Monday
];
// 2026-03-20 (Friday) noon in Stockholm: every date asked about below is over.
const LATER = () => new Date('2026-03-20T11:00:00Z');

describe('RiksbankRateSource against the simulator', () => {
  let sim: RiksbankSimulator;
  const delays: number[] = [];
  const source = (options: RiksbankRateSourceOptions = {}) =>
    new RiksbankRateSource({
      baseUrl: sim.url,
      now: LATER,
      sleep: async (ms) => {
        delays.push(ms);
      },
      ...options,
    });

  beforeAll(async () => {
    sim = await startRiksbankSimulator({ rates: { EUR, USD: [{ date: '2026-03-13', value: 10.2113 }] } });
  });
  afterAll(() => sim.close());

  it('asks for D−10 … D of series SEK{ISO}PMI and takes the quote of D', async () => {
    const before = sim.requests.length;
    expect(await source().rateFor('EUR', '2026-03-16')).toEqual({
      sekPerUnit: '11.1002',
      date: '2026-03-16',
      source: 'Riksbanken SEKEURPMI',
    });
    expect(sim.requests.slice(before).map((r) => r.path)).toEqual([
      '/swea/v1/Observations/SEKEURPMI/2026-03-06/2026-03-16',
    ]);
  });

  it.each([
    ['2026-03-14', '2026-03-13', '11.0704'], // Saturday → Friday
    ['2026-03-15', '2026-03-13', '11.0704'], // Sunday → Friday
    ['2026-03-17', '2026-03-16', '11.1002'], // a day with no quote → the latest before it
  ])('on %s uses the latest quote on or before it (%s)', async (date, quoted, rate) => {
    expect(await source().rateFor('eur', date)).toMatchObject({ date: quoted, sekPerUnit: rate });
  });

  it('returns null when the Riksbank answers 204 (no quote in the window)', async () => {
    const before = sim.requests.length;
    expect(await source().rateFor('EUR', '2026-01-20')).toBeNull();
    expect(sim.requests.length).toBe(before + 1);
  });

  it('returns null for a currency the Riksbank has no series for', async () => {
    expect(await source().rateFor('XYZ', '2026-03-16')).toBeNull();
  });

  it('answers SEK without asking', async () => {
    const before = sim.requests.length;
    expect(await source().rateFor('SEK', '2026-03-16')).toEqual({
      sekPerUnit: '1',
      date: '2026-03-16',
      source: 'SEK',
    });
    expect(sim.requests.length).toBe(before);
  });

  it('caches per (currency, date), including concurrent asks', async () => {
    const s = source();
    const before = sim.requests.length;
    const [a, b] = await Promise.all([s.rateFor('USD', '2026-03-14'), s.rateFor('USD', '2026-03-14')]);
    await s.rateFor('USD', '2026-03-14');
    expect(a).toEqual(b);
    expect(sim.requests.length).toBe(before + 1);
    await s.rateFor('USD', '2026-03-15');
    expect(sim.requests.length).toBe(before + 2);
  });

  it('does not answer for a day whose own quote may still be published, and asks again later', async () => {
    let now = new Date('2026-03-17T09:00:00Z'); // Tuesday morning; Tuesday's quote comes at 16:15
    const s = source({ now: () => now });
    expect(await s.rateFor('EUR', '2026-03-17')).toBeNull();
    expect(await s.rateFor('EUR', '2026-03-18')).toBeNull(); // the future
    now = new Date('2026-03-18T09:00:00Z'); // the 17th is over and had no quote
    expect(await s.rateFor('EUR', '2026-03-17')).toMatchObject({ date: '2026-03-16' });
  });

  it('answers for today once today’s quote is out', async () => {
    const s = source({ now: () => new Date('2026-03-16T16:30:00Z') });
    expect(await s.rateFor('EUR', '2026-03-16')).toMatchObject({ date: '2026-03-16' });
  });

  it('sends the subscription key when one is configured', async () => {
    const keyed = await startRiksbankSimulator({ rates: { EUR }, subscriptionKey: 'secret-key' });
    try {
      const ok = new RiksbankRateSource({ baseUrl: keyed.url, now: LATER, subscriptionKey: 'secret-key' });
      expect(await ok.rateFor('EUR', '2026-03-16')).toMatchObject({ sekPerUnit: '11.1002' });
      expect(keyed.requests[0]?.headers['ocp-apim-subscription-key']).toBe('secret-key');
      const missing = new RiksbankRateSource({ baseUrl: keyed.url, now: LATER });
      await expect(missing.rateFor('EUR', '2026-03-16')).rejects.toThrow(
        /HTTP 401 is not retryable.*invalid subscription key/,
      );
    } finally {
      await keyed.close();
    }
  });

  it('retries a 429 after the wait the body asks for, and 5xx with backoff', async () => {
    delays.length = 0;
    sim.fail({ status: 429, body: '{"statusCode":429,"message":"Try again in 2 seconds."}' });
    sim.fail({ status: 503, body: '' });
    expect(await source().rateFor('EUR', '2026-03-12')).toMatchObject({ sekPerUnit: '11.0671' });
    expect(delays[0]).toBe(2_000);
    expect(delays).toHaveLength(2);
  });

  it('gives up with a RiksbankRateError after the retries, and does not cache the failure', async () => {
    const s = source({ retryPolicy: { maxRetries: 1, initialDelayMs: 1, maxDelayMs: 1, maxWaitMs: 1_000 } });
    sim.fail({ status: 500, body: '' });
    sim.fail({ status: 500, body: '' });
    const err = await s.rateFor('EUR', '2026-03-13').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RiksbankRateError);
    expect((err as RiksbankRateError).status).toBe(500);
    expect(await s.rateFor('EUR', '2026-03-13')).toMatchObject({ sekPerUnit: '11.0704' });
  });

  it('does not retry a 400 and reports the problem detail', async () => {
    sim.fail({
      status: 400,
      headers: { 'content-type': 'application/problem+json' },
      body: '{"title":"Bad Request","status":400,"detail":"Invalid date"}',
    });
    await expect(source().rateFor('EUR', '2026-03-12')).rejects.toThrow(
      /HTTP 400 is not retryable \(Bad Request: Invalid date\)/,
    );
  });

  it('times out a silent server and retries the network error', async () => {
    delays.length = 0;
    sim.fail({ status: 200, body: '[]', delayMs: 2_000 });
    const s = source({ timeoutMs: 100 });
    expect(await s.rateFor('EUR', '2026-03-13')).toMatchObject({ date: '2026-03-13' });
    expect(delays).toHaveLength(1);
  });

  it('retries a dropped connection', async () => {
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls++;
      if (calls === 1)
        throw new TypeError('fetch failed', {
          cause: Object.assign(new Error('reset'), { code: 'ECONNRESET' }),
        });
      return fetch(input, init);
    };
    expect(await source({ fetch: flaky }).rateFor('EUR', '2026-03-13')).toMatchObject({ date: '2026-03-13' });
    expect(calls).toBe(2);
  });

  it('refuses an answer that is not a list of observations', async () => {
    sim.fail({ status: 200, body: '{"date":"2026-03-12","value":11}' });
    await expect(source().rateFor('EUR', '2026-03-12')).rejects.toThrow(/expected a list of observations/);
    sim.fail({ status: 200, body: '[{"date":"2026-03-12","value":"11"}]' });
    await expect(source().rateFor('EUR', '2026-03-12')).rejects.toThrow(/malformed observation/);
  });

  it('rejects a malformed question before asking', async () => {
    await expect(source().rateFor('EURO', '2026-03-12')).rejects.toThrow(RangeError);
    await expect(source().rateFor('EUR', '2026-3-12')).rejects.toThrow(RangeError);
  });
});
