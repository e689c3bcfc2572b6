import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { type SpirisSimulator, startSpirisSimulator } from './index.ts';
import { api, payoutVoucher, TODAY } from './test-helpers.ts';

let sim: SpirisSimulator;
let token: string;

beforeEach(async () => {
  sim = await startSpirisSimulator({ today: TODAY, rateLimitPerMinute: 5 });
  token = sim.issueTokens().accessToken;
});
afterEach(async () => {
  await sim.close();
});

describe('rate limit', () => {
  it('answers 429/4010 past the budget, per endpoint, without Retry-After, until the minute has passed', async () => {
    for (let i = 0; i < 5; i++) expect((await api(sim, token, 'GET', '/fiscalyears')).status).toBe(200);
    const limited = await api(sim, token, 'GET', '/fiscalyears');
    expect(limited.status).toBe(429);
    expect(limited.json.ErrorCode).toBe(4010);
    expect(limited.json.DeveloperErrorMessage).toMatch(
      /^API calls quota exceeded! maximum admitted 5 per Minute\. Try again in \d+ seconds\.$/,
    );
    expect(limited.headers.get('retry-after')).toBeNull();

    // Another endpoint has its own budget; another client token of the same client shares it.
    expect((await api(sim, token, 'GET', '/vatcodes')).status).toBe(200);
    expect((await api(sim, sim.issueTokens().accessToken, 'GET', '/fiscalyears')).status).toBe(429);

    sim.advanceTime(60_000);
    expect((await api(sim, token, 'GET', '/fiscalyears')).status).toBe(200);
  });

  it('counts one budget per endpoint template, whatever the ids in the URL', async () => {
    const fy = (await api(sim, token, 'GET', '/fiscalyears')).json.Data[1].Id;
    const ids = ['a', 'b', 'c', 'd', 'e', 'f'].map((c) => `0000000${c}-0000-4000-8000-000000000000`);
    const statuses: number[] = [];
    for (const id of ids) statuses.push((await api(sim, token, 'GET', `/vouchers/${fy}/${id}`)).status);
    expect(statuses).toEqual([404, 404, 404, 404, 404, 429]);
  });

  it('defaults to 600 per minute', async () => {
    const local = await startSpirisSimulator({ today: TODAY });
    try {
      const t = local.issueTokens().accessToken;
      const results: number[] = [];
      const one = async () => {
        const r = await fetch(`${local.apiBaseUrl}/currencies`, {
          headers: { authorization: `Bearer ${t}` },
        });
        await r.arrayBuffer();
        results.push(r.status);
      };
      for (let i = 0; i < 600; i += 25) await Promise.all(Array.from({ length: 25 }, one));
      await one();
      expect(results.filter((s) => s === 200)).toHaveLength(600);
      expect(results.filter((s) => s === 429)).toHaveLength(1);
    } finally {
      await local.close();
    }
  });
});

describe('fault switches', () => {
  it('500 and 503 for the given number of matching requests', async () => {
    sim.injectFault({ kind: '500', times: 2, pathIncludes: '/vouchers', method: 'POST' });
    expect((await api(sim, token, 'GET', '/fiscalyears')).status).toBe(200);
    const first = await api(sim, token, 'POST', '/vouchers', payoutVoucher('2026-03-04'));
    expect(first.status).toBe(500);
    expect(first.json.ErrorCode).toBe(5000);
    expect((await api(sim, token, 'POST', '/vouchers', payoutVoucher('2026-03-04'))).status).toBe(500);
    expect((await api(sim, token, 'POST', '/vouchers', payoutVoucher('2026-03-04'))).status).toBe(201);
    expect(sim.vouchers).toHaveLength(1);

    sim.injectFault({ kind: '503' });
    expect((await api(sim, token, 'GET', '/fiscalyears')).status).toBe(503);
  });

  it('lostResponse stores the voucher and then drops the connection', async () => {
    sim.injectFault({ kind: 'lostResponse', pathIncludes: '/vouchers', method: 'POST' });
    await expect(api(sim, token, 'POST', '/vouchers', payoutVoucher('2026-03-04'))).rejects.toThrow();
    expect(sim.vouchers).toHaveLength(1);
    expect(sim.requestLog.at(-1)).toMatchObject({ method: 'POST', status: 0 });
    const found = await api(
      sim,
      token,
      'GET',
      `/vouchers?$filter=${encodeURIComponent("VoucherDate eq 2026-03-04 and contains(VoucherText,'K1234567')")}`,
    );
    expect(found.json.Data).toHaveLength(1);
  });

  it('slow delays the response, 429 answers like the rate limit, clearFaults removes pending faults', async () => {
    sim.injectFault({ kind: 'slow', delayMs: 150 });
    const started = Date.now();
    expect((await api(sim, token, 'GET', '/fiscalyears')).status).toBe(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);

    sim.injectFault({ kind: '429', delayMs: 2000 });
    const limited = await api(sim, token, 'GET', '/fiscalyears');
    expect(limited.status).toBe(429);
    expect(limited.json.DeveloperErrorMessage).toMatch(/Try again in 2 seconds/);

    sim.injectFault({ kind: '500', times: 5 });
    sim.clearFaults();
    expect((await api(sim, token, 'GET', '/vatcodes')).status).toBe(200);
  });
});
