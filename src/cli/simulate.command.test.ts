import { InvalidArgumentError } from 'commander';
import { afterEach, describe, expect, it } from 'vitest';
import { Capture } from '../../test/support/cli.ts';
import { main } from './main.ts';
import { parseFaultSpec, SPIRIS_FAULT_KINDS } from './simulate.command.ts';

// `simulate klarna|spiris` in-process through main(), as `serve --demo` is tested: the
// simulator runs until SIGTERM, so each test reads what it printed, uses it over HTTP,
// then stops it the way Ctrl-C would.

const running: Array<Promise<number>> = [];
afterEach(async () => {
  // A failed assertion must not leave a simulator listening for the rest of the run.
  if (running.length > 0) process.emit('SIGTERM', 'SIGTERM');
  await Promise.all(running.splice(0));
});

async function start(argv: string[], ready: (stdout: string) => boolean) {
  const stdout = new Capture();
  const stderr = new Capture();
  const exit = main(argv, { KLARNA_SPIRIS_LOG_LEVEL: 'silent' }, stdout, stderr);
  running.push(exit);
  const deadline = Date.now() + 10_000;
  while (!ready(stdout.text) && Date.now() < deadline) {
    if (stderr.text) throw new Error(stderr.text);
    await new Promise((r) => setTimeout(r, 10));
  }
  const stop = async () => {
    process.emit('SIGTERM', 'SIGTERM');
    running.splice(running.indexOf(exit), 1);
    return exit;
  };
  return { stdout, stderr, stop };
}

const oneLine = (text: string) => text.endsWith('\n');

describe('klarna-spiris simulate spiris', () => {
  it('--json prints one line to connect with, and --fault fails the requests it names', async () => {
    const sim = await start(
      ['simulate', 'spiris', '--json', '--fault', '500:2@/companysettings', '--access-token-lifetime', '90'],
      oneLine,
    );
    expect(sim.stdout.text.trim().split('\n')).toHaveLength(1);
    const info = JSON.parse(sim.stdout.text);
    expect(info).toMatchObject({
      simulator: 'spiris',
      clientId: 'sim-client',
      clientSecret: 'sim-secret',
      company: { name: 'Testbolaget Nordic AB', orgNumber: '556677-8899' },
      accessTokenLifetimeSeconds: 90,
      faults: [{ kind: '500', times: 2, pathIncludes: '/companysettings' }],
    });
    expect(info.apiBaseUrl).toBe(`${info.url}/v2`);
    expect(info.tokenUrl).toBe(`${info.url}/identity/connect/token`);

    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) statuses.push((await fetch(`${info.apiBaseUrl}/companysettings`)).status);
    // Twice the injected failure, then the real answer to a request without a token.
    expect(statuses).toEqual([500, 500, 401]);
    expect((await fetch(`${info.apiBaseUrl}/fiscalyears`)).status).toBe(401);

    expect(await sim.stop()).toBe(0);
    expect(sim.stderr.text).toBe('');
    await expect(fetch(info.url)).rejects.toThrow();
  });

  it('prints the faults in the text output too', async () => {
    const sim = await start(['simulate', 'spiris', '--fault', '503:*'], (t) => t.includes('Fault:'));
    expect(sim.stdout.text).toContain('Client secret:     sim-secret');
    expect(sim.stdout.text).toContain('Fault: 503 on every request');
    const url = /listening on (http:\/\/\S+)/.exec(sim.stdout.text)![1]!;
    for (let i = 0; i < 3; i++) expect((await fetch(`${url}/v2/fiscalyears`)).status).toBe(503);
    expect(await sim.stop()).toBe(0);
  });
});

describe('klarna-spiris simulate klarna', () => {
  it('--json gives the keys that work, --fault fails the next request, --currencies adds payouts', async () => {
    const sim = await start(
      [
        'simulate',
        'klarna',
        '--json',
        '--seed',
        '5',
        '--days',
        '3',
        '--currencies',
        'sek,eur',
        '--fault',
        '503',
      ],
      oneLine,
    );
    const info = JSON.parse(sim.stdout.text);
    expect(info).toMatchObject({
      simulator: 'klarna',
      environment: 'playground',
      faults: [{ kind: '503', times: 1 }],
    });
    expect(info.apiBaseUrl).toBe(`${info.url}/settlements/v1`);
    const [m] = info.merchants;
    expect(m.currencies).toEqual(['SEK', 'EUR']);
    expect(m.payouts).toBe(6);
    expect(m.apiKey).toMatch(/^klarna_test_api_/);

    const auth = `Basic ${Buffer.from(`${m.username}:${m.apiKey}`).toString('base64')}`;
    const list = () => fetch(`${info.apiBaseUrl}/payouts?size=10`, { headers: { authorization: auth } });
    expect((await list()).status).toBe(503);
    const ok = await list();
    expect(ok.status).toBe(200);
    expect(((await ok.json()) as { payouts: unknown[] }).payouts).toHaveLength(6);

    expect(await sim.stop()).toBe(0);
  });

  it('--large-payout gives the last payout that many transactions', async () => {
    const sim = await start(
      ['simulate', 'klarna', '--json', '--days', '2', '--large-payout', '1200'],
      oneLine,
    );
    const [m] = JSON.parse(sim.stdout.text).merchants;
    expect(m.transactions).toBeGreaterThanOrEqual(1200);
    expect(await sim.stop()).toBe(0);
  });

  it('refuses a fault it does not know, before starting anything', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(['simulate', 'klarna', '--fault', 'teapot'], {}, stdout, stderr);
    expect(code).toBe(2);
    expect(stderr.text).toMatch(
      /KIND\[:TIMES\]\[@PATH\] with KIND one of 500, 502, 503, 429, slow, drop, malformed/,
    );
  });
});

describe('parseFaultSpec', () => {
  it('reads kind, count and path', () => {
    expect(parseFaultSpec('500', SPIRIS_FAULT_KINDS)).toEqual({ kind: '500', times: 1 });
    expect(parseFaultSpec('lostresponse:2@/v2/vouchers', SPIRIS_FAULT_KINDS)).toEqual({
      kind: 'lostResponse',
      times: 2,
      pathIncludes: '/v2/vouchers',
    });
    expect(parseFaultSpec('429:*', SPIRIS_FAULT_KINDS).times).toBe(Number.POSITIVE_INFINITY);
    for (const bad of ['502', '500:0', '500:x', 'slow@', '']) {
      expect(() => parseFaultSpec(bad, SPIRIS_FAULT_KINDS), bad).toThrow(InvalidArgumentError);
    }
  });
});
