import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { updateIntegration } from '../store/integrations.repository.ts';

// The first sync of an integration without a catch-up day in its settings: `--since` is
// then the only thing that says where the merchant's own bookkeeping ends, so a payout
// before it must be neither fetched nor booked.

let f: IntegrationFixture;
beforeAll(async () => {
  f = await openIntegrationFixture({ merchant: { seed: 83, days: 6, startDate: '2026-03-01' } });
  // The fixture sets catchUpSince, which would decide the first day on its own.
  await updateIntegration(f.store.db, f.integrationId, { settings: {} });
});
afterAll(async () => {
  await f?.close();
});

async function run(args: string[]) {
  return runCli(args, f.cliEnv());
}

describe(`first sync with --since on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('books only the payouts on or after the day given, and says which', async () => {
    expect((await f.integration()).settings).not.toHaveProperty('catchUpSince');
    const payouts = f.merchant.payouts;
    expect(payouts.length).toBeGreaterThanOrEqual(4);
    const since = payouts[2]!.payout_date.slice(0, 10);
    const before = payouts.filter((p) => p.payout_date.slice(0, 10) < since).map((p) => p.payment_reference);
    const after = payouts.filter((p) => p.payout_date.slice(0, 10) >= since).map((p) => p.payment_reference);
    expect(before.length).toBeGreaterThan(0);
    expect(after.length).toBeGreaterThan(0);

    const r = await run(['sync', '--since', since]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`: ${after.length} booked, 0 need attention, 0 skipped\\.`));
    expect(r.stdout).toMatch(
      new RegExp(`Fetched payouts ${since} to \\d{4}-\\d{2}-\\d{2}: ${after.length} seen`),
    );
    const bookedTable = r.stdout.slice(r.stdout.indexOf('Booked:'));
    for (const ref of after)
      expect(bookedTable).toMatch(new RegExp(`${ref}\\s+[\\d ]+,\\d\\d\\s+SEK\\s+A\\d+`));
    for (const ref of before) expect(r.stdout).not.toContain(ref);

    expect([...f.vouchersByReference().keys()].sort()).toEqual([...after].sort());
    const status = JSON.parse((await run(['status', '--json'])).stdout);
    expect(
      status.payouts.map((p: { paymentReference: string; state: string }) => [p.paymentReference, p.state]),
    ).toEqual(after.map((ref) => [ref, 'booked']));
  });

  it('does not reach back before that day on the next run', async () => {
    const r = await run(['sync', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).booked).toEqual([]);
    const since = f.merchant.payouts[2]!.payout_date.slice(0, 10);
    const booked = [...f.vouchersByReference().keys()];
    expect(booked.length).toBeGreaterThan(0);
    for (const ref of booked) {
      expect(f.merchant.payout(ref)!.payout_date.slice(0, 10) >= since, ref).toBe(true);
    }
  });
});
