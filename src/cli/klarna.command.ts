import type { App } from '../app.ts';
import { validateKlarnaCredentials } from '../klarna/key.ts';
import { KlarnaClient } from '../klarna/klarna.client.ts';
import {
  KlarnaNotConnectedError,
  klarnaConnectionConfig,
  openKlarnaClient,
} from '../klarna/klarna.connection.ts';
import { KlarnaError } from '../klarna/klarna.errors.ts';
import {
  type ImportProgress,
  type ImportResult,
  importPayout,
  importPayouts,
} from '../klarna/payout-import.service.ts';
import { Secret } from '../setup/secret.ts';
import { createConnection, updateConnection } from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import {
  createIntegration,
  DEFAULT_INTEGRATION_NAME,
  findIntegration,
  type Integration,
  listIntegrations,
  updateIntegration,
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
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nThe key is also read from KLARNA_API_KEY. Nothing is stored when the key is refused.\n',
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
  if (opts.apiKey !== undefined && opts.apiKeyStdin) {
    throw new CliError('Give the API key either with --api-key or with --api-key-stdin, not both.', 2);
  }
  let raw: string | undefined;
  if (opts.apiKeyStdin) raw = stripOneLineEnding(await readStdin());
  else raw = opts.apiKey ?? ctx.env.KLARNA_API_KEY;
  if (raw === undefined || raw === '') {
    throw new CliError(
      'No Klarna API key: pass --api-key, --api-key-stdin, or set KLARNA_API_KEY. Nothing was saved.',
      2,
    );
  }
  const validated = validateKlarnaCredentials({
    apiKey: new Secret(raw),
    username: opts.username,
    region: opts.region,
    environment: opts.environment,
    baseUrl: opts.baseUrl,
  });
  if (!validated.ok) throw new CliError(`${validated.message} Nothing was saved.`, 2);
  const credentials = validated.credentials;

  const app = await ctx.app();
  let merchantId: string | undefined;
  if (opts.verify) {
    try {
      const client = new KlarnaClient({ credentials, logger: app.logger });
      merchantId = (await client.probe()).merchantId;
    } catch (err) {
      if (err instanceof KlarnaError) throw new CliError(`${err.message} Nothing was saved.`);
      throw err;
    }
  }

  const { db } = app.store;
  const integration = await integrationForConnect(app, opts.integration);
  const connection = await createConnection(db, app.sealer, {
    kind: 'klarna',
    environment: credentials.environment,
    config: { ...klarnaConnectionConfig(credentials) },
    secret: credentials.apiKey,
    externalId: merchantId ?? null,
  });
  const previous = integration.klarnaConnectionId;
  await updateIntegration(db, integration.id, { klarnaConnectionId: connection.id });
  if (previous && previous !== connection.id) {
    await updateConnection(db, previous, {
      status: 'replaced',
      statusReason: `replaced by ${connection.id}`,
    });
  }
  await recordEvent(db, {
    integrationId: integration.id,
    actor: 'cli',
    kind: 'klarna.connected',
    message: `Klarna ${credentials.environment} key ${credentials.apiKey.masked} connected`,
    data: {
      connectionId: connection.id,
      replaced: previous ?? null,
      verified: opts.verify,
      merchantId: merchantId ?? null,
    },
  });

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
  };
  emit(ctx, !!opts.json, data, () =>
    [
      `Klarna connected to integration "${integration.name}": ${credentials.environment} (${credentials.region}), key ${connection.secretHint}` +
        (credentials.customBaseUrl ? ` at ${credentials.baseUrl}` : '') +
        '.',
      opts.verify
        ? `Klarna accepted the key${merchantId ? ` for merchant ${merchantId}` : ''}.`
        : 'The key was not checked with Klarna (--no-verify).',
      ...(credentials.username
        ? []
        : [
            'Tip: add --username with the UUID shown next to the key; Klarna documents that form unambiguously.',
          ]),
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
  const result = await withKlarnaErrors(async () => {
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
  const result = await withKlarnaErrors(async () => {
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

async function integrationForConnect(app: App, name: string | undefined): Promise<Integration> {
  const { db } = app.store;
  if (name) return (await findIntegration(db, name)) ?? createIntegration(db, { name });
  const all = await listIntegrations(db);
  if (all.length === 0) return createIntegration(db, { name: DEFAULT_INTEGRATION_NAME });
  return pickIntegration(all);
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

async function withKlarnaErrors<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    if (err instanceof KlarnaError || err instanceof KlarnaNotConnectedError) throw new CliError(err.message);
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

function stripOneLineEnding(text: string): string {
  // `echo key |` adds one line ending; anything beyond that is reported by validation.
  return text.replace(/\r?\n$/, '');
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
