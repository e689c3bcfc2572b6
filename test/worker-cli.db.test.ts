import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { main } from '../src/cli/main.ts';
import { listBookingPayouts } from '../src/store/booking.repository.ts';
import { Capture } from './support/cli.ts';
import { type IntegrationFixture, openIntegrationFixture } from './support/integration-fixture.ts';

// `klarna-spiris worker` as an operator runs it: a subprocess of the real binary, its
// settings from the environment, the shared rate budgets on, stopped with SIGTERM.

const BIN = fileURLToPath(new URL('../bin/klarna-spiris.js', import.meta.url));
const onPostgres = process.env.KS_TEST_DB === 'postgres';

describe('klarna-spiris worker', () => {
  let f: IntegrationFixture | undefined;
  afterAll(async () => {
    await f?.close();
  });

  it.skipIf(onPostgres)('refuses to start without PostgreSQL, saying what to set', async () => {
    const stdout = new Capture();
    const stderr = new Capture();
    const code = await main(['worker'], { KLARNA_SPIRIS_LOG_LEVEL: 'silent' }, stdout, stderr);
    expect(code).toBe(2);
    expect(stderr.text).toMatch(/DATABASE_URL=postgres:\/\//);
    const help = new Capture();
    expect(await main(['worker', '--help'], {}, help, new Capture())).toBe(0);
    expect(help.text).toContain('KLARNA_SPIRIS_WORKER_POST_CONCURRENCY');
  });

  it.skipIf(!onPostgres)(
    'books every payout once through the queue with shared budgets, and drains on SIGTERM (PostgreSQL only)',
    async () => {
      f = await openIntegrationFixture({ merchant: { seed: 61, days: 2, startDate: '2026-06-01' } });
      const fx = f;
      const child = spawn(
        process.execPath,
        [BIN, 'worker', '--sync-concurrency', '1', '--post-concurrency', '2', '--metrics-port', '0'],
        {
          env: { ...process.env, ...fx.cliEnv(), KLARNA_SPIRIS_LOG_LEVEL: 'info' },
          stdio: ['ignore', 'pipe', 'pipe'],
        },
      );
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d.toString();
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d.toString();
      });
      const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
      try {
        const deadline = Date.now() + 30_000;
        for (;;) {
          const payouts = await listBookingPayouts(fx.store.db, { integrationId: fx.integrationId });
          if (payouts.length === fx.merchant.payouts.length && payouts.every((p) => p.state === 'booked'))
            break;
          if (Date.now() > deadline || child.exitCode !== null) throw new Error(`not booked: ${stderr}`);
          await new Promise((r) => setTimeout(r, 200));
        }
        expect(stdout).toContain('klarna-spiris worker is running');
        const byRef = fx.vouchersByReference();
        for (const p of fx.merchant.payouts) expect(byRef.get(p.payment_reference)).toHaveLength(1);
        // The requests went through the budgets in PostgreSQL: one bucket per Spiris endpoint, one per merchant.
        const keys = (await fx.store.db.selectFrom('rate_buckets').select('key').execute()).map((r) => r.key);
        expect(keys).toContain(`klarna-playground:merchant:${fx.merchant.merchantId}`);
        expect(keys.some((k) => k.startsWith(`spiris:${fx.spiris.clientId}:`))).toBe(true);
        // Its own /metrics counts the jobs it ran.
        const metricsUrl = /"metrics":"([^"]+)"/.exec(stderr)?.[1];
        expect(metricsUrl, stderr).toBeDefined();
        const done = /klarna_spiris_jobs_total\{queue="post",outcome="completed"\} 2\b/;
        let scraped = '';
        for (let i = 0; i < 50 && !done.test(scraped); i++) {
          if (i > 0) await new Promise((r) => setTimeout(r, 100));
          scraped = await (await fetch(metricsUrl!)).text();
        }
        expect(scraped).toMatch(done);
        expect(scraped).toContain('klarna_spiris_upstream_requests_total');
      } finally {
        child.kill('SIGTERM');
      }
      expect(await exited).toBe(0);
      expect(stderr).toContain('worker stopped');
    },
    45_000,
  );
});
