import type { App } from '../app.ts';
import { isIsoDate } from '../booking/calendar.ts';
import { formatMinorSv } from '../booking/decimal.ts';
import { currencyMinorDigits } from '../booking/fx.ts';
import { BOOKED_TOTALS, CASH_MODE_EXPLANATION, DEFAULT_BOOKING_MAPPING } from '../booking/mapping.ts';
import { KlarnaNotConnectedError } from '../klarna/klarna.connection.ts';
import { KlarnaError } from '../klarna/klarna.errors.ts';
import { cliActor } from '../setup/audit.ts';
import { MappingRejectedError, saveMapping } from '../setup/mapping-settings.ts';
import { SpirisError } from '../spiris/spiris.errors.ts';
import { countPayoutsByState, listBookingPayouts } from '../store/booking.repository.ts';
import {
  DEFAULT_INTEGRATION_NAME,
  findIntegration,
  type Integration,
  listIntegrations,
} from '../store/integrations.repository.ts';
import { InvalidSettingsError, parseIntegrationSettings } from '../sync/integration-settings.ts';
import { PAYOUT_STATES, type PayoutState } from '../sync/payout-state.ts';
import { type PreviewResult, previewIntegration } from '../sync/preview.service.ts';
import { ReversalRefusedError, reversePayout } from '../sync/reverse.service.ts';
import {
  retryPayout,
  type SyncPayoutLine,
  type SyncProgress,
  type SyncResult,
  skipPayout,
  syncIntegration,
} from '../sync/sync.service.ts';
import { type SyncDeps, SyncRefusedError } from '../sync/sync-context.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

/** Exit code when the run went through but payouts wait for the merchant. */
export const EXIT_NEEDS_ATTENTION = 3;

const EXIT_CODES_HELP =
  '\nExit codes: 0 everything booked or skipped; 3 something needs attention (the reasons are listed);\n' +
  '1 the run failed or left something to retry (run it again); 2 wrong usage.\n';

export const registerSyncCommands: RegisterCommands = (program, ctx) => {
  program
    .command('preview')
    .description(
      'Show the vouchers the next sync would post, as debit/credit tables with every check; posts nothing',
    )
    .option('--since <date>', 'first payout day to fetch, YYYY-MM-DD')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: SyncCliOptions) => preview(ctx, opts));

  program
    .command('sync')
    .description('Fetch new Klarna payouts and book each one into Spiris exactly once, with its PDF attached')
    .option('--since <date>', 'first payout day to fetch (the first run catches up from here), YYYY-MM-DD')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (opts: SyncCliOptions) => sync(ctx, opts));

  program
    .command('status')
    .description('List payouts with their state, voucher number, amount and reason')
    .option('--state <state>', `only this state: ${PAYOUT_STATES.join(', ')}`)
    .option('--since <date>', 'first payout day, YYYY-MM-DD')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output (amounts in minor units)')
    .action(async (opts: StatusOptions) => status(ctx, opts));

  program
    .command('reverse')
    .description(
      'Post a reversing voucher for a booked payout (Spiris vouchers cannot be deleted); it is booked again on the next sync',
    )
    .argument('<payment-reference>', 'the payout to reverse')
    .option('--rebook', 'book it again right away under the current settings')
    .option('--date <date>', 'date of the reversing voucher, YYYY-MM-DD (default today, Europe/Stockholm)')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (reference: string, opts: ReverseCliOptions) => reverse(ctx, reference, opts));

  program
    .command('retry')
    .description('Check a payout that needs attention (or was skipped) again now, and book it if it passes')
    .argument('<payment-reference>', 'the payout to retry')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .addHelpText('after', EXIT_CODES_HELP)
    .action(async (reference: string, opts: SyncCliOptions) => retry(ctx, reference, opts));

  program
    .command('skip')
    .description('Leave a payout out of the automatic booking (you book it another way); the reason is kept')
    .argument('<payment-reference>', 'the payout to skip')
    .requiredOption('--reason <text>', 'why, for the audit log')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (reference: string, opts: SkipOptions) => skip(ctx, reference, opts));

  const mapping = program
    .command('mapping')
    .description('Show or change which accounts the vouchers book to');
  mapping
    .command('show')
    .description('Show the account mapping in effect')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (opts: SyncCliOptions) => mappingShow(ctx, opts));
  mapping
    .command('set')
    .description('Set one mapping key, e.g. `fee_amount 6064`, `bank.EUR 1932`, `postingMode cash`')
    .argument(
      '<key>',
      'a Klarna total (fee_amount …), bankAccount, bank.<CUR>, postingMode, fxRoundingAccount, feeSplit.<…>, cash.<CC>.<field>',
    )
    .argument('<value>', 'an account number, or the value for the key')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .addHelpText('after', `\npostingMode is clearing (the default) or cash. ${CASH_MODE_EXPLANATION}\n`)
    .action(async (key: string, value: string, opts: SyncCliOptions) => mappingSet(ctx, key, value, opts));
  mapping
    .command('reset')
    .description('Back to the default BAS mapping (all keys, or the one given)')
    .argument('[key]', 'only this key')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (key: string | undefined, opts: SyncCliOptions) => mappingReset(ctx, key, opts));
};

interface SyncCliOptions {
  since?: string;
  integration?: string;
  json?: boolean;
}
interface StatusOptions extends SyncCliOptions {
  state?: string;
}
interface ReverseCliOptions extends SyncCliOptions {
  rebook?: boolean;
  date?: string;
}
interface SkipOptions extends SyncCliOptions {
  reason: string;
}

// ---- commands ----------------------------------------------------------------------------

async function preview(ctx: CliContext, opts: SyncCliOptions): Promise<void> {
  const since = optionalDate(opts.since, '--since');
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const result = await friendly(() =>
    previewIntegration(deps(app), { integrationId: integration.id, ...(since ? { since } : {}) }),
  );
  emit(ctx, !!opts.json, result, () => humanPreview(result));
}

async function sync(ctx: CliContext, opts: SyncCliOptions): Promise<void> {
  const since = optionalDate(opts.since, '--since');
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const progress = progressPrinter(ctx, !!opts.json);
  let result: SyncResult;
  try {
    result = await friendly(() =>
      syncIntegration(deps(app), {
        integrationId: integration.id,
        ...(since ? { since } : {}),
        ...(progress ? { onProgress: progress.update } : {}),
      }),
    );
  } finally {
    progress?.done();
  }
  emit(ctx, !!opts.json, result, () => humanSync(`Sync of "${integration.name}"`, result));
  exitFor(result);
}

async function status(ctx: CliContext, opts: StatusOptions): Promise<void> {
  const since = optionalDate(opts.since, '--since');
  if (opts.state && !PAYOUT_STATES.includes(opts.state as PayoutState)) {
    throw new CliError(`--state must be one of ${PAYOUT_STATES.join(', ')}; got "${opts.state}".`, 2);
  }
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const payouts = await listBookingPayouts(app.store.db, {
    integrationId: integration.id,
    ...(opts.state ? { states: [opts.state as PayoutState] } : {}),
    ...(since ? { since } : {}),
  });
  const counts = await countPayoutsByState(app.store.db, integration.id);
  const data = {
    integration: { id: integration.id, name: integration.name, mode: integration.mode },
    counts,
    payouts: payouts.map((p) => ({
      paymentReference: p.paymentReference,
      payoutDate: p.payoutDate.slice(0, 10),
      currencyCode: p.currencyCode,
      settlementAmount: p.settlementAmount,
      state: p.state,
      voucherNumber: p.voucherNumber,
      generation: p.generation,
      attachment: p.attachmentState,
      reason: p.stateReason,
    })),
  };
  emit(ctx, !!opts.json, data, () => {
    const lines = [
      `Payouts of "${integration.name}" (${integration.mode}): ${
        Object.entries(counts)
          .map(([s, n]) => `${n} ${s}`)
          .join(', ') || 'none yet'
      }.`,
    ];
    if (payouts.length > 0) {
      lines.push(
        table(
          ['Datum', 'Referens', 'Belopp', 'Valuta', 'Status', 'Verifikation', 'Bilaga'],
          data.payouts.map((p) => [
            p.payoutDate,
            p.paymentReference,
            money(p.settlementAmount, p.currencyCode),
            p.currencyCode,
            p.state,
            p.voucherNumber ?? '',
            p.attachment === 'attached' ? 'ja' : p.attachment === 'pending' ? 'väntar' : '',
          ]),
          [2],
        ),
      );
    }
    // Booked payouts carry a reason only when something needs a look (Klarna changed it since).
    const withReason = payouts.filter((p) => p.stateReason);
    for (const p of withReason) lines.push('', `${p.paymentReference} (${p.state}):`, indent(p.stateReason!));
    return lines.join('\n');
  });
}

async function reverse(ctx: CliContext, reference: string, opts: ReverseCliOptions): Promise<void> {
  const date = optionalDate(opts.date, '--date');
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const result = await friendly(() =>
    reversePayout(deps(app), {
      integrationId: integration.id,
      paymentReference: reference,
      rebook: !!opts.rebook,
      ...(date ? { date } : {}),
    }),
  );
  emit(ctx, !!opts.json, result, () => {
    const lines: string[] = [];
    const original = result.reversedVoucher.number ?? result.reversedVoucher.id;
    if (result.reversal) {
      lines.push(
        `Voucher ${original} of payout ${reference} is reversed by voucher ${result.reversal.number ?? result.reversal.id} dated ${result.reversal.date}.`,
      );
    }
    if (result.unresolved) {
      lines.push(
        `The reversing voucher of payout ${reference} was sent, but Spiris did not answer and could not be asked: ${result.unresolved}. The next sync (or running reverse again) finds out whether it is there; nothing is posted twice.`,
      );
    }
    if (result.rebook) lines.push('', humanSync(`Booked again`, result.rebook));
    else if (result.reversal)
      lines.push('It is booked again under the current settings on the next sync (or now with --rebook).');
    return lines.join('\n');
  });
  if (result.unresolved)
    throw new CliError(`The reversal of ${reference} is not settled yet; run it again later.`);
  if (result.rebook) exitFor(result.rebook);
}

async function retry(ctx: CliContext, reference: string, opts: SyncCliOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const result = await friendly(() =>
    retryPayout(deps(app), { integrationId: integration.id, paymentReference: reference }),
  );
  emit(ctx, !!opts.json, result, () => {
    const p = result.payout;
    const head =
      p.state === 'booked'
        ? `Payout ${reference} is booked as voucher ${p.voucherNumber}.`
        : `Payout ${reference} is ${p.state}.`;
    return [head, ...(p.reason && p.state !== 'booked' ? [indent(p.reason)] : [])].join('\n');
  });
  if (result.error || result.failed.length > 0) {
    throw new CliError(
      `Payout ${reference} could not be settled in this run${result.error ? `: ${result.error}` : ''}.`,
    );
  }
  if (result.payout.state === 'needs_attention') {
    throw new CliError(`Payout ${reference} still needs attention (see above).`, EXIT_NEEDS_ATTENTION);
  }
}

async function skip(ctx: CliContext, reference: string, opts: SkipOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const line = await friendly(() =>
    skipPayout(deps(app), {
      integrationId: integration.id,
      paymentReference: reference,
      reason: opts.reason,
    }),
  );
  emit(ctx, !!opts.json, line, () => `Payout ${reference} is skipped: ${opts.reason}`);
}

// ---- mapping ---------------------------------------------------------------------------

type Json = Record<string, unknown>;

async function mappingShow(ctx: CliContext, opts: SyncCliOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const { mapping } = settingsOf(integration);
  const stored = (integration.settings.mapping ?? {}) as Json;
  const overridden = new Set(flattenMapping(stored as never).map(([k]) => k));
  emit(
    ctx,
    !!opts.json,
    { integration: { id: integration.id, name: integration.name }, mapping, overrides: stored },
    () =>
      [
        `Account mapping of "${integration.name}" (${mapping.postingMode} mode):`,
        ...flattenMapping(mapping as unknown as Json).map(
          ([k, v]) => `  ${k.padEnd(34)} ${String(v)}${overridden.has(k) ? '  (set)' : ''}`,
        ),
      ].join('\n'),
  );
}

async function mappingSet(ctx: CliContext, key: string, value: string, opts: SyncCliOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const { mapping: effective } = settingsOf(integration);
  const path = mappingPath(key);
  const before = getPath(effective as unknown as Json, path);
  const next = structuredClone(effective) as unknown as Json;
  setPath(next, path, parseValue(path, value));
  const { mapping } = await storeMapping(app, integration, next);
  const after = getPath(mapping as unknown as Json, path);
  // Cash mode books sales VAT from a rate the merchant enters per country; what that cannot
  // cover has to be read at the moment of choosing it, not first in a connection-test warning.
  const note = path[0] === 'postingMode' && after === 'cash' ? CASH_MODE_EXPLANATION : undefined;
  emit(
    ctx,
    !!opts.json,
    { key, path: path.join('.'), from: before ?? null, to: after, mapping, ...(note ? { note } : {}) },
    () =>
      `${key} is now ${String(after)} (was ${String(before ?? 'not set')}). Payouts that need attention are checked again on the next sync.` +
      (note ? `\n\n${note}` : ''),
  );
}

async function mappingReset(ctx: CliContext, key: string | undefined, opts: SyncCliOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationFor(app, opts.integration);
  const { mapping: effective } = settingsOf(integration);
  let next: Json = structuredClone(DEFAULT_BOOKING_MAPPING) as unknown as Json;
  if (key) {
    const path = mappingPath(key);
    next = structuredClone(effective) as unknown as Json;
    setPath(next, path, structuredClone(getPath(DEFAULT_BOOKING_MAPPING as unknown as Json, path)));
    if (getPath(next, path) === undefined) deletePath(next, path);
  }
  const { mapping } = await storeMapping(app, integration, next);
  emit(ctx, !!opts.json, { reset: key ?? 'all', mapping }, () =>
    key ? `${key} is back to its default.` : 'The mapping is back to the default BAS mapping.',
  );
}

/** The admin's mapping editor and this command share one writer, so both audit alike. */
async function storeMapping(app: App, integration: Integration, mapping: Json) {
  try {
    return await saveMapping(app.store.db, { integrationId: integration.id, mapping, actor: cliActor() });
  } catch (err) {
    if (err instanceof MappingRejectedError || err instanceof InvalidSettingsError) {
      throw new CliError(err.message, 2);
    }
    throw err;
  }
}

/** `fee_amount` → accounts.fee_amount, `bank.EUR` → foreignBankAccounts.EUR, `cash.SE.vatAccount` → cashMethod.countries.SE.vatAccount. */
export function mappingPath(key: string): string[] {
  const parts = key.split('.');
  const [head, ...rest] = parts;
  if ((BOOKED_TOTALS as readonly string[]).includes(key)) return ['accounts', key];
  if (head === 'accounts' && rest.length === 1) return parts;
  if (key === 'bank' || key === 'bank.SEK' || key === 'bankAccount') return ['bankAccount'];
  if (head === 'bank' && rest.length === 1) return ['foreignBankAccounts', rest[0]!.toUpperCase()];
  if (head === 'cash' && rest.length === 2)
    return ['cashMethod', 'countries', rest[0]!.toUpperCase(), rest[1]!];
  const known = new Set(['postingMode', 'fxRoundingAccount', 'fxRoundingLimitMinor']);
  if (known.has(key)) return [key];
  if (head === 'feeSplit' && rest.length === 1) return parts;
  if (head === 'foreignBankAccounts' && rest.length === 1) return parts;
  throw new CliError(
    `Unknown mapping key "${key}". Use a Klarna total (${BOOKED_TOTALS.slice(0, 4).join(', ')} …), bankAccount, bank.<currency>, postingMode, fxRoundingAccount, fxRoundingLimitMinor, feeSplit.enabled|fixed|percentage|other or cash.<country>.vatRatePercent|revenueAccount|vatAccount.`,
    2,
  );
}

function parseValue(path: string[], value: string): unknown {
  const last = path[path.length - 1];
  if (last === 'enabled') {
    if (value === 'true' || value === 'false') return value === 'true';
    throw new CliError(`${path.join('.')} is true or false, not "${value}".`, 2);
  }
  if (last === 'fxRoundingLimitMinor') {
    if (/^\d+$/.test(value)) return Number(value);
    throw new CliError(`${path.join('.')} is a whole number of öre, not "${value}".`, 2);
  }
  return value;
}

function settingsOf(integration: Pick<Integration, 'name' | 'settings'>) {
  try {
    return parseIntegrationSettings(integration.name, integration.settings);
  } catch (err) {
    if (err instanceof InvalidSettingsError) throw new CliError(err.message, 2);
    throw err;
  }
}

function flattenMapping(value: Json, prefix: string[] = []): Array<[string, unknown]> {
  const out: Array<[string, unknown]> = [];
  for (const [k, v] of Object.entries(value ?? {})) {
    const path = [...prefix, k];
    if (v && typeof v === 'object' && !Array.isArray(v)) out.push(...flattenMapping(v as Json, path));
    else out.push([displayKey(path), v]);
  }
  return out;
}

function displayKey(path: string[]): string {
  if (path[0] === 'accounts' && path.length === 2) return path[1]!;
  if (path[0] === 'foreignBankAccounts' && path.length === 2) return `bank.${path[1]}`;
  if (path[0] === 'cashMethod' && path[1] === 'countries') return `cash.${path.slice(2).join('.')}`;
  return path.join('.');
}

function getPath(obj: Json, path: string[]): unknown {
  let cur: unknown = obj;
  for (const p of path) cur = cur && typeof cur === 'object' ? (cur as Json)[p] : undefined;
  return cur;
}

function setPath(obj: Json, path: string[], value: unknown): void {
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p] as Json;
  }
  cur[path[path.length - 1]!] = value;
}

function deletePath(obj: Json, path: string[]): void {
  const parent = getPath(obj, path.slice(0, -1));
  if (parent && typeof parent === 'object') delete (parent as Json)[path[path.length - 1]!];
}

// ---- helpers -----------------------------------------------------------------------------

function deps(app: App): SyncDeps {
  return { store: app.store, sealer: app.sealer, logger: app.logger, actor: 'cli' };
}

async function friendly<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof ReversalRefusedError) throw new CliError(err.message, EXIT_NEEDS_ATTENTION);
    if (
      err instanceof SyncRefusedError ||
      err instanceof KlarnaError ||
      err instanceof KlarnaNotConnectedError ||
      err instanceof SpirisError ||
      err instanceof InvalidSettingsError
    ) {
      throw new CliError(err.message);
    }
    throw err;
  }
}

/** The report is printed either way; the exit code tells a script what it needs to know. */
function exitFor(result: SyncResult): void {
  if (result.error)
    throw new CliError(`The run stopped early: ${result.error} Run it again; nothing is booked twice.`);
  if (result.failed.length > 0) {
    throw new CliError(
      `${result.failed.length} payout(s) could not be settled in this run (listed above); the next run retries them.`,
    );
  }
  if (result.needsAttention.length > 0) {
    throw new CliError(
      `${result.needsAttention.length} payout(s) need attention (reasons above).`,
      EXIT_NEEDS_ATTENTION,
    );
  }
}

async function integrationFor(app: App, name: string | undefined): Promise<Integration> {
  const { db } = app.store;
  if (name) {
    const found = await findIntegration(db, name);
    if (!found) throw new CliError(`No integration named "${name}".`);
    return found;
  }
  const all = await listIntegrations(db);
  if (all.length === 0) throw new CliError('No integration yet: run `klarna-spiris klarna connect` first.');
  if (all.length === 1) return all[0]!;
  const named = all.find((i) => i.name === DEFAULT_INTEGRATION_NAME);
  if (named) return named;
  throw new CliError(
    `There are ${all.length} integrations (${all.map((i) => i.name).join(', ')}): name one with --integration.`,
    2,
  );
}

function optionalDate(value: string | undefined, flag: string): string | undefined {
  if (value === undefined) return undefined;
  if (!isIsoDate(value)) throw new CliError(`${flag} must be a date like 2026-03-01, got "${value}".`, 2);
  return value;
}

function money(minor: number, currency: string): string {
  return formatMinorSv(minor, currencyMinorDigits(currency));
}

function indent(text: string): string {
  return text
    .split('\n')
    .map((l) => `    ${l}`)
    .join('\n');
}

function table(header: string[], rows: string[][], rightAligned: number[] = []): string {
  const all = [header, ...rows];
  const widths = header.map((_, i) => Math.max(...all.map((r) => [...(r[i] ?? '')].length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => {
        const fill = ' '.repeat(widths[i]! - [...c].length);
        return rightAligned.includes(i) ? fill + c : c + fill;
      })
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

function lineRow(p: SyncPayoutLine): string[] {
  return [
    p.payoutDate,
    p.paymentReference,
    money(p.settlementAmount, p.currencyCode),
    p.currencyCode,
    p.voucherNumber ?? '',
  ];
}

function humanSync(title: string, r: SyncResult): string {
  const lines = [
    `${title}: ${r.booked.length} booked, ${r.needsAttention.length} need attention, ${r.skipped.length} skipped` +
      `${r.failed.length > 0 ? `, ${r.failed.length} to retry` : ''}.`,
  ];
  if (r.window) {
    lines.push(
      `Fetched payouts ${r.window.since} to ${r.window.until}` +
        (r.import
          ? `: ${r.import.payoutsSeen} seen, ${r.import.payoutsNew} new, ${r.import.transactionsStored} transactions stored.`
          : '.'),
    );
  }
  if (r.booked.length > 0) {
    lines.push(
      '',
      'Booked:',
      table(['Datum', 'Referens', 'Belopp', 'Valuta', 'Verifikation'], r.booked.map(lineRow), [2]),
    );
  }
  if (r.attachments.attached + r.attachments.failed > 0) {
    lines.push(
      `Reports attached: ${r.attachments.attached}${r.attachments.failed ? `, not yet: ${r.attachments.failed}` : ''}.`,
    );
  }
  if (r.skipped.length > 0) {
    lines.push(
      '',
      'Skipped (nothing to book):',
      ...r.skipped.map((s) => `  ${s.payoutDate}  ${s.paymentReference}`),
    );
  }
  if (r.needsAttention.length > 0) {
    lines.push('', 'Needs attention:');
    for (const n of r.needsAttention) {
      lines.push(
        `  ${n.payoutDate}  ${n.paymentReference}  ${money(n.settlementAmount, n.currencyCode)} ${n.currencyCode}`,
      );
      if (n.reason) lines.push(indent(n.reason));
    }
  }
  if (r.failed.length > 0) {
    lines.push(
      '',
      'To retry on the next run:',
      ...r.failed.map((x) => `  ${x.paymentReference}: ${x.error}`),
    );
  }
  if (r.error) lines.push('', `The run stopped early: ${r.error}`);
  return lines.join('\n');
}

function humanPreview(r: PreviewResult): string {
  const lines = [
    `Preview of "${r.integration.name}" (${r.integration.mode}), payouts fetched ${r.window.since} to ${r.window.until}: ` +
      `${r.counts.payouts} to book, ${r.counts.ready} ready, ${r.counts.blocking} blocked, ${r.counts.skip} with nothing to book. Nothing was posted.`,
  ];
  if (r.lockDateProblem) lines.push(r.lockDateProblem);
  for (const p of r.payouts) {
    const verdict =
      p.verdict === 'ready'
        ? 'OK, would be booked'
        : p.verdict === 'skip'
          ? 'nothing to book'
          : p.verdict === 'waiting'
            ? 'waits for its transactions'
            : 'BLOCKED';
    lines.push(
      '',
      `${p.payoutDate}  ${p.paymentReference}  ${money(p.settlementAmount, p.currencyCode)} ${p.currencyCode}: ${verdict}`,
    );
    if (p.table) lines.push(indent(p.table));
    for (const f of p.failures) lines.push(indent(`✗ ${f.message}\n  What to do: ${f.action}`));
    for (const w of p.warnings) lines.push(indent(`! ${w}`));
  }
  return lines.join('\n');
}

/** Progress on a terminal only: never in --json, never when stderr is a file or a pipe. */
function progressPrinter(
  ctx: CliContext,
  json: boolean,
): { update: (e: SyncProgress) => void; done: () => void } | undefined {
  const stream = ctx.stderr as NodeJS.WriteStream;
  if (json || stream.isTTY !== true) return undefined;
  let last = 0;
  let shown = false;
  return {
    update(e) {
      const now = Date.now();
      if (now - last < 100) return;
      last = now;
      let text: string;
      if (e.phase === 'import') {
        const ev = e.event;
        text =
          ev.kind === 'transactions-page'
            ? `Fetching ${ev.paymentReference}: ${ev.stored}${ev.total ? `/${ev.total}` : ''} transactions`
            : `Fetching payouts: ${ev.paymentReference}`;
      } else if (e.phase === 'plan') text = `Checking payouts: ${e.done}/${e.total}`;
      else if (e.phase === 'post') text = `Booking ${e.paymentReference}: ${e.done + 1}/${e.total}`;
      else text = `Attaching reports: ${e.done + 1}/${e.total}`;
      stream.write(`\r\x1b[2K${text}`);
      shown = true;
    },
    done() {
      if (shown) stream.write('\r\x1b[2K');
    },
  };
}
