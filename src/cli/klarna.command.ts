import type { App } from '../app.ts';
import {
  type ConnectKlarnaResult,
  connectKlarna,
  KlarnaConnectRefusedError,
} from '../klarna/connect.service.ts';
import { validateKlarnaCredentials } from '../klarna/key.ts';
import { KlarnaNotConnectedError, openKlarnaClient } from '../klarna/klarna.connection.ts';
import { KlarnaError } from '../klarna/klarna.errors.ts';
import {
  type ImportProgress,
  type ImportResult,
  importPayout,
  importPayouts,
} from '../klarna/payout-import.service.ts';
import { cliActor } from '../setup/audit.ts';
import {
  KLARNA_INACTIVITY_NOTE,
  pauseForKlarnaAuthFailure,
  recordKlarnaKeyUse,
} from '../setup/key-lifecycle.ts';
import { readSecretInput, SecretInputError } from '../setup/secret-input.ts';
import { recordEvent } from '../store/events.repository.ts';
import {
  DEFAULT_INTEGRATION_NAME,
  findIntegration,
  type Integration,
  listIntegrations,
} from '../store/integrations.repository.ts';
import { findPayoutByReference } from '../store/payouts.repository.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

const DATE = /^\d{4}-\d{2}-\d{2}$/;

export const registerKlarnaCommands: RegisterCommands = (program, ctx) => {
  const klarna = program
    .command('klarna')
    .description('Klarna Settlements: connect, fetch and reconcile payouts');

  klarna
    .command('connect')
    .description('Store a Klarna API key (encrypted) for an integration, after checking it with Klarna')
    .option(
      '--api-key <key>',
      'klarna_live_api_… or klarna_test_api_… (visible in shell history; prefer the env or stdin)',
    )
    .option('--api-key-stdin', 'read the API key from standard input')
    .option('--username <uuid>', 'the UUID shown next to the key in the Merchant Portal (optional)')
    .option('--region <region>', 'eu, na (North America) or oc (Oceania)', 'eu')
    .option('--environment <env>', 'production or playground; must match the key (default: from the key)')
    .option(
      '--base-url <url>',
      'another API origin, e.g. a simulator (the environment still comes from the key)',
    )
    .option(
      '--integration <name>',
      'integration name or id, created if missing (default: the only one, or "default")',
    )
    .option('--no-verify', 'store without asking Klarna whether the key works')
    .option(
      '--confirm-merchant-change',
      'attach a key for another Klarna merchant than the one this integration fetched payouts from',
    )
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nThe key is also read from KLARNA_API_KEY, or asked for with echo off when run in a terminal.\n' +
        'Nothing is stored when the key is refused. Connecting a new key to an integration that has one\n' +
        'replaces (rotates) it: payouts, vouchers and the mapping stay with the integration.\n',
    )
    .action(async (opts: ConnectOptions) => connect(ctx, opts));

  klarna
    .command('payouts')
    .description('Fetch the payouts of a date range with their transactions, store and reconcile them')
    .requiredOption('--since <date>', 'first payout day, YYYY-MM-DD (UTC)')
    .option('--until <date>', 'last payout day, YYYY-MM-DD (UTC); default today')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (opts: PayoutsOptions) => payouts(ctx, opts));

  klarna
    .command('payout')
    .description('Fetch one payout by payment reference with its transactions, store and reconcile it')
    .argument('<payment-reference>', "the reference on the bank statement's transfer note")
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (reference: string, opts: PayoutOptions) => payout(ctx, reference, opts));
};

interface ConnectOptions {
  apiKey?: string;
  apiKeyStdin?: boolean;
  username?: string;
  region: string;
  environment?: string;
  baseUrl?: string;
  integration?: string;
  verify: boolean;
  confirmMerchantChange?: boolean;
  json?: boolean;
}

interface PayoutsOptions {
  since: string;
  until?: string;
  integration?: string;
  json?: boolean;
}

interface PayoutOptions {
  integration?: string;
  json?: boolean;
}

async function connect(ctx: CliContext, opts: ConnectOptions): Promise<void> {
  let input: Awaited<ReturnType<typeof readSecretInput>>;
  try {
    input = await readSecretInput(
      {
        label: 'Klarna API key',
        flagValue: opts.apiKey,
        flagName: '--api-key',
        fromStdin: opts.apiKeyStdin,
        stdinFlagName: '--api-key-stdin',
        envName: 'KLARNA_API_KEY',
        env: ctx.env,
      },
      { stdin: process.stdin, stderr: ctx.stderr },
    );
  } catch (err) {
    if (err instanceof SecretInputError) throw new CliError(`${err.message} Nothing was saved.`, 2);
    throw err;
  }
  if (!input) {
    throw new CliError(
      'No Klarna API key: pass --api-key, --api-key-stdin, or set KLARNA_API_KEY. Nothing was saved.',
      2,
    );
  }
  const validated = validateKlarnaCredentials({
    apiKey: input.secret,
    username: opts.username,
    region: opts.region,
    environment: opts.environment,
    baseUrl: opts.baseUrl,
  });
  if (!validated.ok) throw new CliError(`${validated.message} Nothing was saved.`, 2);
  const credentials = validated.credentials;

  const app = await ctx.app();
  const actor = cliActor(ctx.env);
  const existing = await existingIntegrationForConnect(app, opts.integration);
  let result: ConnectKlarnaResult;
  try {
    result = await connectKlarna(
      { db: app.store.db, sealer: app.sealer, logger: app.logger },
      {
        credentials,
        // Resolving "the only one, or default" may refuse (several integrations), so it
        // happens before anything else; creating one waits until every check passed.
        integration: existing ?? { create: await integrationNameForConnect(app, opts.integration) },
        verify: opts.verify,
        confirmMerchantChange: !!opts.confirmMerchantChange,
        actor,
      },
    );
  } catch (err) {
    if (err instanceof KlarnaConnectRefusedError) throw new CliError(`${err.message} Nothing was saved.`, 2);
    if (err instanceof KlarnaError) throw new CliError(`${err.message} Nothing was saved.`);
    throw err;
  }
  const { integration, connection } = result;
  const merchantId = result.merchantId ?? undefined;
  const previous = result.replacedConnectionId;
  const previousHint = result.replacedHint;
  const decision = { merchantChanged: result.merchantChanged };
  const warnings = [...result.warnings];
  if (!opts.verify && previous) {
    warnings.push(
      'The key was not checked (--no-verify), so neither whether it works nor its merchant is known.',
    );
  }
  if (result.leftLive) {
    warnings.push(
      'The integration was live and is now in test mode, because the merchant changed: test and preview again, then `klarna-spiris mode live --confirm`.',
    );
  }
  for (const w of warnings) ctx.stderr.write(`warning: ${w}\n`);

  const data = {
    integration: { id: integration.id, name: integration.name },
    connection: {
      id: connection.id,
      kind: connection.kind,
      environment: connection.environment,
      region: credentials.region,
      username: credentials.username ?? null,
      baseUrl: credentials.baseUrl,
      secretHint: connection.secretHint,
      merchantId: merchantId ?? null,
      verified: opts.verify,
    },
    replacedConnectionId: previous ?? null,
    merchantChanged: decision.merchantChanged,
    notes: [KLARNA_INACTIVITY_NOTE],
    warnings,
  };
  emit(ctx, !!opts.json, data, () =>
    [
      `Klarna connected to integration "${integration.name}": ${credentials.environment} (${credentials.region}), key ${connection.secretHint}` +
        (credentials.customBaseUrl ? ` at ${credentials.baseUrl}` : '') +
        '.',
      opts.verify
        ? `Klarna accepted the key${merchantId ? ` for merchant ${merchantId}` : ''}.`
        : 'The key was not checked with Klarna (--no-verify).',
      ...(previousHint
        ? [
            `Replaced key ${previousHint}; payouts, vouchers and the mapping are kept. Once this key works, disable the old one in the Merchant Portal under Settings → API credentials.`,
          ]
        : []),
      ...(credentials.username
        ? []
        : [
            'Tip: add --username with the UUID shown next to the key; Klarna documents that form unambiguously.',
          ]),
      KLARNA_INACTIVITY_NOTE,
    ].join('\n'),
  );
}

async function payouts(ctx: CliContext, opts: PayoutsOptions): Promise<void> {
  const since = requireDate(opts.since, '--since');
  const until =
    opts.until === undefined ? new Date().toISOString().slice(0, 10) : requireDate(opts.until, '--until');
  if (since > until) throw new CliError(`--since (${since}) is after --until (${until}).`, 2);
  const app = await ctx.app();
  const integration = await integrationForRead(app, opts.integration);
  const result = await withKlarnaErrors(app, integration, async () => {
    const { client } = await openKlarnaClient({ db: app.store.db, sealer: app.sealer }, integration, {
      logger: app.logger,
    });
    return importPayouts({
      store: app.store,
      client,
      integrationId: integration.id,
      since,
      until,
      onProgress: progressLogger(app),
    });
  });
  await recordImport(app, integration, `payouts ${since}..${until}`, result);
  emit(
    ctx,
    !!opts.json,
    { integration: { id: integration.id, name: integration.name }, since, until, ...result },
    () => humanImport(`Klarna payouts ${since} to ${until} for "${integration.name}"`, result),
  );
  failIfIncomplete(result);
}

async function payout(ctx: CliContext, reference: string, opts: PayoutOptions): Promise<void> {
  const app = await ctx.app();
  const integration = await integrationForRead(app, opts.integration);
  const result = await withKlarnaErrors(app, integration, async () => {
    const { client } = await openKlarnaClient({ db: app.store.db, sealer: app.sealer }, integration, {
      logger: app.logger,
    });
    return importPayout({
      store: app.store,
      client,
      integrationId: integration.id,
      paymentReference: reference,
      onProgress: progressLogger(app),
    });
  });
  await recordImport(app, integration, `payout ${reference}`, result);
  const stored = await findPayoutByReference(app.store.db, integration.id, reference);
  const data = {
    integration: { id: integration.id, name: integration.name },
    ...result,
    payout: stored
      ? {
          paymentReference: stored.paymentReference,
          merchantId: stored.merchantId,
          payoutDate: stored.payoutDate,
          currencyCode: stored.currencyCode,
          settlementAmount: stored.settlementAmount,
          totals: stored.totals,
          transactionCount: stored.transactionCount,
          reconciled: stored.reconciled,
          reconciliation: stored.reconciliation,
        }
      : null,
  };
  emit(ctx, !!opts.json, data, () => {
    const lines = [humanImport(`Klarna payout ${reference} for "${integration.name}"`, result)];
    if (stored?.reconciliation) {
      lines.push('', 'Checks (expected from totals / from transactions):');
      for (const c of stored.reconciliation.checks) {
        lines.push(
          `  ${c.ok ? 'ok  ' : 'FAIL'} ${c.term.padEnd(22)} ${money(c.expected, stored.currencyCode).padStart(14)} ${money(c.actual, stored.currencyCode).padStart(14)}${c.note ? `  (${c.note})` : ''}`,
        );
      }
      const id = stored.reconciliation.identity;
      lines.push(
        `  ${id.ok ? 'ok  ' : 'FAIL'} ${'settlement identity'.padEnd(22)} ${money(id.settlement, stored.currencyCode).padStart(14)} ${money(id.computed, stored.currencyCode).padStart(14)}${id.note ? `  (${id.note})` : ''}`,
      );
    }
    return lines.join('\n');
  });
  failIfIncomplete(result);
}

// ---- helpers ----

/** The summary is printed either way; a non-zero exit tells a script that a re-run is needed. */
function failIfIncomplete(result: ImportResult): void {
  if (result.failed > 0) {
    throw new CliError(
      `${result.failed} payout(s) could not be loaded (see above); everything else was stored. Run the command again to retry them.`,
    );
  }
}

/** The integration a connect would attach to, if it exists; creates nothing. */
async function existingIntegrationForConnect(
  app: App,
  name: string | undefined,
): Promise<Integration | undefined> {
  const { db } = app.store;
  if (name) return findIntegration(db, name);
  const all = await listIntegrations(db);
  if (all.length === 0) return undefined;
  return pickIntegration(all);
}

/** The name of the integration a connect creates when none exists to attach to. */
async function integrationNameForConnect(app: App, name: string | undefined): Promise<string> {
  if (name) return name;
  const all = await listIntegrations(app.store.db);
  if (all.length === 0) return DEFAULT_INTEGRATION_NAME;
  return pickIntegration(all).name;
}

/** Reading commands never create an integration: a typo must not yield an empty new one. */
async function integrationForRead(app: App, name: string | undefined): Promise<Integration> {
  const { db } = app.store;
  if (name) {
    const found = await findIntegration(db, name);
    if (!found)
      throw new CliError(
        `No integration named "${name}". Run \`klarna-spiris klarna connect --integration ${name}\` to create it.`,
      );
    return found;
  }
  const all = await listIntegrations(db);
  if (all.length === 0) throw new CliError('No integration yet: run `klarna-spiris klarna connect` first.');
  return pickIntegration(all);
}

function pickIntegration(all: Integration[]): Integration {
  if (all.length === 1) return all[0]!;
  const named = all.find((i) => i.name === DEFAULT_INTEGRATION_NAME);
  if (named) return named;
  throw new CliError(
    `There are ${all.length} integrations (${all.map((i) => i.name).join(', ')}): name one with --integration.`,
    2,
  );
}

/**
 * Runs a Klarna read for the integration: a success shows the key is in use (Klarna
 * disables idle keys), a refused key pauses the integration until a new one is connected.
 */
async function withKlarnaErrors<T>(app: App, integration: Integration, run: () => Promise<T>): Promise<T> {
  try {
    const result = await run();
    if (integration.klarnaConnectionId)
      await recordKlarnaKeyUse(app.store.db, integration.klarnaConnectionId);
    return result;
  } catch (err) {
    if (err instanceof KlarnaError) {
      const { paused } = await pauseForKlarnaAuthFailure(app.store.db, integration.id, err, {
        actor: 'cli',
      });
      throw new CliError(
        paused ? `${err.message} The integration is paused until a new key is connected.` : err.message,
      );
    }
    if (err instanceof KlarnaNotConnectedError) throw new CliError(err.message);
    if (err instanceof RangeError) throw new CliError(err.message, 2);
    throw err;
  }
}

function progressLogger(app: App): (e: ImportProgress) => void {
  return (e) => {
    if (e.kind === 'failed') app.logger.warn({ paymentReference: e.paymentReference }, e.error);
    else if (e.kind === 'reconciled' && !e.ok) {
      app.logger.warn(
        { paymentReference: e.paymentReference, problems: e.problems },
        'payout does not reconcile',
      );
    } else app.logger.debug(e, `klarna ${e.kind}`);
  };
}

async function recordImport(
  app: App,
  integration: Integration,
  what: string,
  r: ImportResult,
): Promise<void> {
  await recordEvent(app.store.db, {
    integrationId: integration.id,
    actor: 'cli',
    kind: 'klarna.imported',
    message: `Klarna ${what}: ${r.payoutsSeen} payouts (${r.payoutsNew} new), ${r.transactionsStored} lines stored, ${r.notReconciled} not reconciled, ${r.failed} failed`,
    data: {
      payoutsSeen: r.payoutsSeen,
      payoutsNew: r.payoutsNew,
      payoutsChanged: r.payoutsChanged,
      transactionsStored: r.transactionsStored,
      reconciled: r.reconciled,
      notReconciled: r.notReconciled,
      failed: r.failed,
      unknownTypes: r.unknownTypes,
    },
  });
}

function humanImport(title: string, r: ImportResult): string {
  const lines = [
    `${title}: ${r.payoutsSeen} payout(s), ${r.payoutsNew} new, ${r.payoutsChanged} changed.`,
    `Transactions stored: ${r.transactionsStored} (lines fetched for ${r.payoutsFetched} payout(s)). ` +
      `Reconciled: ${r.reconciled}, not reconciled: ${r.notReconciled}, failed: ${r.failed}.`,
  ];
  if (r.unknownTypes.length > 0)
    lines.push(`Unknown transaction types kept and flagged: ${r.unknownTypes.join(', ')}.`);
  if (r.unknownDetailedTypes.length > 0)
    lines.push(
      `Unknown detailed types kept and flagged (booked by their transaction type): ${r.unknownDetailedTypes.join(', ')}.`,
    );
  for (const p of r.payouts) {
    const state = p.error
      ? `failed: ${p.error}`
      : p.reconciled
        ? 'reconciled'
        : p.reconciled === false
          ? 'NOT reconciled'
          : 'pending';
    lines.push(
      `  ${p.payoutDate.slice(0, 10)}  ${p.paymentReference.padEnd(12)} ${money(p.settlementAmount, p.currencyCode).padStart(14)} ${p.currencyCode}  ${p.status.padEnd(9)} ${state}`,
    );
    if (p.reconciled === false) for (const problem of p.problems) lines.push(`      ${problem}`);
    for (const warning of p.warnings) lines.push(`      note: ${warning}`);
  }
  return lines.join('\n');
}

/** Minor units to a display string with the currency's own number of decimals. */
function money(minor: number, currency: string): string {
  let digits = 2;
  try {
    digits =
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2;
  } catch {
    // An unknown code still prints, with two decimals.
  }
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (digits === 0) return `${sign}${abs}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')}`;
}

function requireDate(value: string, flag: string): string {
  const ms = Date.parse(`${value}T00:00:00Z`);
  if (!DATE.test(value) || Number.isNaN(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new CliError(`${flag} must be a date like 2026-03-01, got "${value}".`, 2);
  }
  return value;
}
