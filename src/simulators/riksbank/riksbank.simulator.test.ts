import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RiksbankSimulator, startRiksbankSimulator } from './riksbank.simulator.ts';

describe('Riksbank simulator', () => {
  let sim: RiksbankSimulator;
  beforeAll(async () => {
    sim = await startRiksbankSimulator({
      rates: {
        EUR: [
          { date: '2026-03-12', value: 11.0671 },
          { date: '2026-03-13', value: '11.07040' },
          { date: '2026-03-14', value: 99 }, // a Saturday: never published
          { date: '2026-03-16', value: 11.1002 },
        ],
      },
    });
  });
  afterAll(() => sim.close());

  const get = (path: string, headers: Record<string, string> = {}) => fetch(`${sim.url}${path}`, { headers });

  it('serves observations in a range, without weekends, values as JSON numbers', async () => {
    const res = await get('/Observations/SEKEURPMI/2026-03-10/2026-03-16');
    expect(res.status).toBe(200);
    expect(await res.text()).toBe(
      '[{"date":"2026-03-12","value":11.0671},{"date":"2026-03-13","value":11.07040},{"date":"2026-03-16","value":11.1002}]',
    );
  });

  it('answers 204 with an empty body when the range has no observations', async () => {
    const res = await get('/Observations/SEKEURPMI/2026-03-14/2026-03-15');
    expect(res.status).toBe(204);
    expect(await res.text()).toBe('');
  });

  it('serves the open-ended form and the latest observation', async () => {
    expect(await (await get('/Observations/SEKEURPMI/2026-03-16')).json()).toEqual([
      { date: '2026-03-16', value: 11.1002 },
    ]);
    expect(await (await get('/Observations/Latest/SEKEURPMI')).json()).toEqual({
      date: '2026-03-16',
      value: 11.1002,
    });
  });

  it.each([
    ['/Observations/SEKXXXPMI/2026-03-10/2026-03-16', 404],
    ['/Observations/SEKEURPMI/2026-02-30/2026-03-16', 400],
    ['/Observations/SEKEURPMI/2026-03-16/2026-03-10', 400],
    ['/Series', 404],
  ])('%s → %i with ProblemDetails', async (path, status) => {
    const res = await get(path);
    expect(res.status).toBe(status);
    expect(res.headers.get('content-type')).toContain('application/problem+json');
    expect(await res.json()).toMatchObject({ status, title: expect.any(String), detail: expect.any(String) });
  });

  it('plays queued faults first, then answers normally', async () => {
    sim.fail({ status: 429, body: '{"statusCode":429,"message":"Try again in 2 seconds."}' });
    expect((await get('/Observations/SEKEURPMI/2026-03-12/2026-03-12')).status).toBe(429);
    expect((await get('/Observations/SEKEURPMI/2026-03-12/2026-03-12')).status).toBe(200);
  });

  it('generates a weekday series per currency when no rates are given', async () => {
    const generated = await startRiksbankSimulator();
    try {
      const res = await fetch(`${generated.url}/Observations/SEKUSDPMI/2026-03-09/2026-03-15`);
      const body = (await res.json()) as Array<{ date: string; value: number }>;
      expect(body.map((o) => o.date)).toEqual([
        '2026-03-09',
        '2026-03-10',
        '2026-03-11',
        '2026-03-12',
        '2026-03-13',
      ]);
      expect(body.every((o) => o.value > 9 && o.value < 11)).toBe(true);
    } finally {
      await generated.close();
    }
  });

  it('requires the subscription key when configured, and respects publishedThrough', async () => {
    const keyed = await startRiksbankSimulator({ subscriptionKey: 'k-1', publishedThrough: '2026-03-12' });
    try {
      const url = `${keyed.url}/Observations/SEKEURPMI/2026-03-12/2026-03-13`;
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: { 'Ocp-Apim-Subscription-Key': 'k-1' } });
      expect(((await ok.json()) as Array<{ date: string }>).map((o) => o.date)).toEqual(['2026-03-12']);
    } finally {
      await keyed.close();
    }
  });
});
