import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../../test/support/cli.ts';
import { type IntegrationFixture, openIntegrationFixture } from '../../test/support/integration-fixture.ts';
import { formatMinorSv } from '../booking/decimal.ts';
import { CASH_MODE_EXPLANATION } from '../booking/mapping.ts';
import { listEvents } from '../store/events.repository.ts';

// The commands a merchant (or a cron job) runs, in-process through main() against both
// simulators: what they print, and the exit code a script would act on.

let f: IntegrationFixture;
beforeAll(async () => {
  f = await openIntegrationFixture({ merchant: { seed: 81, days: 4, startDate: '2026-03-01' } });
});
afterAll(async () => {
  await f?.close();
});

async function run(args: string[]) {
  return runCli(args, f.cliEnv());
}

const ref = (i: number) => f.merchant.payouts[i]!.payment_reference;

describe(`sync commands on ${process.env.KS_TEST_DB ?? 'sqlite'}`, () => {
  it('preview prints the voucher tables and posts nothing', async () => {
    const json = await run(['preview', '--json']);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout).counts).toEqual({ payouts: 4, ready: 4, blocking: 0, skip: 0 });
    const human = await run(['preview']);
    expect(human.stdout).toMatch(/4 ready, 0 blocked.*Nothing was posted\./);
    expect(human.stdout).toMatch(/OK, would be booked\n\s+Verifikation 2026-03-01: Klarna utbetalning /);
    expect(human.stdout).toMatch(/Konto\s+Text\s+Debet\s+Kredit/);
    expect(f.spiris.vouchers).toHaveLength(0);
  });

  it('sync books, reports what it booked, exits 0; status shows it in Swedish amounts', async () => {
    const r = await run(['sync', '--json']);
    expect(r.code, r.stderr).toBe(0);
    const result = JSON.parse(r.stdout);
    expect(result.booked.map((b: { paymentReference: string }) => b.paymentReference)).toEqual(
      [0, 1, 2, 3].map(ref),
    );
    expect(r.stderr).toBe('');

    const status = await run(['status', '--json']);
    const rows = JSON.parse(status.stdout).payouts as Array<Record<string, unknown>>;
    expect(rows.map((p) => [p.paymentReference, p.state, p.settlementAmount])).toEqual(
      f.merchant.payouts.map((p) => [p.payment_reference, 'booked', p.totals.settlement_amount]),
    );
    expect(rows.every((p) => /^A\d+$/.test(String(p.voucherNumber)))).toBe(true);

    const human = await run(['status']);
    const p0 = f.merchant.payouts[0]!;
    expect(human.stdout).toMatch(/Datum\s+Referens\s+Belopp\s+Valuta\s+Status\s+Verifikation\s+Bilaga/);
    // Amounts in Swedish notation (space between thousands, decimal comma), voucher and report shown.
    expect(human.stdout).toMatch(
      new RegExp(
        `${ref(0)}\\s+${formatMinorSv(p0.totals.settlement_amount)}\\s+SEK\\s+booked\\s+${rows[0]!.voucherNumber}\\s+ja`,
      ),
    );
    expect(formatMinorSv(p0.totals.settlement_amount)).toMatch(/^\d{1,3}( \d{3})*,\d\d$/);
  });

  it('mapping set validates, records who changed what, and show/reset read it back', async () => {
    const bad = await run(['mapping', 'set', 'fee_amount', 'abc']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/Not saved: accounts\.fee_amount: an account number is 1 to 10 digits/);
    const unknown = await run(['mapping', 'set', 'fees', '6064']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toMatch(/Unknown mapping key "fees"/);

    const eur = await run(['mapping', 'set', 'bank.EUR', '1932']);
    expect(eur.code).toBe(0);
    expect(eur.stdout).not.toContain('kontantmetoden');
    const cash = await run(['mapping', 'set', 'postingMode', 'cash']);
    expect(cash.code).toBe(0);
    expect(cash.stdout).toContain('postingMode is now cash (was clearing)');
    expect(cash.stdout).toContain(CASH_MODE_EXPLANATION);
    const cashJson = JSON.parse((await run(['mapping', 'set', 'postingMode', 'cash', '--json'])).stdout);
    expect(cashJson).toMatchObject({ path: 'postingMode', to: 'cash', note: CASH_MODE_EXPLANATION });
    const help = await run(['mapping', 'set', '--help']);
    expect(help.stdout.replace(/\s+/g, ' ')).toContain('one VAT rate per country');
    const shown = JSON.parse((await run(['mapping', 'show', '--json'])).stdout);
    expect(shown.mapping).toMatchObject({ postingMode: 'cash', foreignBankAccounts: { EUR: '1932' } });
    const human = await run(['mapping', 'show']);
    expect(human.stdout).toMatch(/bank\.EUR\s+1932 {2}\(set\)/);
    expect(human.stdout).toMatch(/fee_amount\s+6064\n/);

    expect((await run(['mapping', 'reset', 'postingMode'])).code).toBe(0);
    const events = await listEvents(f.store.db, { integrationId: f.integrationId, kindPrefix: 'mapping.' });
    expect(events.every((e) => /^cli(:|$)/.test(e.actor))).toBe(true);
    expect(events.map((e) => e.message)).toEqual([
      'Mapping changed: postingMode cash → clearing',
      'Mapping changed: postingMode clearing → cash',
      'Mapping changed: foreignBankAccounts {} → {"EUR":"1932"}',
    ]);
  });

  it('needs attention exits 3 with the reason; skip, retry and a fixed mapping clear it', async () => {
    expect((await run(['mapping', 'set', 'fee_amount', '6065'])).code).toBe(0);
    const reversed = await run(['reverse', ref(0), '--rebook', '--date', '2026-06-15']);
    expect(reversed.code).toBe(3);
    expect(reversed.stdout).toMatch(
      new RegExp(`Voucher A1 of payout ${ref(0)} is reversed by voucher A5 dated 2026-06-15\\.`),
    );
    expect(reversed.stdout).toMatch(
      /Needs attention:[\s\S]*Account 6065 Gammalt konto \(Klarna avgifter\) is inactive/,
    );
    expect(reversed.stderr).toMatch(/1 payout\(s\) need attention/);

    const again = await run(['sync']);
    expect(again.code).toBe(3);
    expect(again.stdout).toMatch(/What to do: Activate account 6065 in Spiris/);
    const waiting = JSON.parse((await run(['status', '--state', 'needs_attention', '--json'])).stdout);
    expect(waiting.payouts.map((p: { paymentReference: string }) => p.paymentReference)).toEqual([ref(0)]);

    expect((await run(['skip', ref(0), '--reason', 'bokförd för hand'])).code).toBe(0);
    expect((await run(['sync'])).code).toBe(0);
    expect((await run(['retry', ref(0)])).code).toBe(3);
    expect((await run(['mapping', 'reset'])).code).toBe(0);
    const fixed = await run(['retry', ref(0)]);
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(fixed.stdout).toMatch(new RegExp(`Payout ${ref(0)} is booked as voucher A6\\.`));
  });

  it('reverse without --rebook leaves it to the next sync; an integration that is off is refused with 1', async () => {
    const r = await run(['reverse', ref(1), '--date', '2026-06-15', '--json']);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ payout: { state: 'ready' }, reversal: { number: 'A7' } });
    const s = JSON.parse((await run(['sync', '--json'])).stdout);
    expect(s.booked).toMatchObject([{ paymentReference: ref(1), voucherNumber: 'A8' }]);

    await f.setMode('off');
    const off = await run(['sync']);
    expect(off.code).toBe(1);
    expect(off.stderr).toMatch(/is off, so nothing is booked/);
    await f.setMode('test');
  });
});
