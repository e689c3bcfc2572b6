import { InvalidArgumentError } from 'commander';
import {
  API_PREFIX,
  type KlarnaFault,
  type KlarnaFaultKind,
  runKlarnaSimulatorCli,
  type SimCurrency,
} from '../simulators/klarna/index.ts';
import { runSpirisSimulatorCli, type SpirisFault, type SpirisFaultKind } from '../simulators/spiris/index.ts';
import { DEFAULT_COMPANY_NAME, DEFAULT_ORG_NUMBER } from '../simulators/spiris/seed.ts';
import type { CliContext, RegisterCommands } from './context.ts';

const intOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`not a whole number: ${v}`);
  return n;
};

const positiveIntOption = (v: string) => {
  const n = intOption(v);
  if (n === 0) throw new InvalidArgumentError('must be at least 1');
  return n;
};

export const KLARNA_FAULT_KINDS: readonly KlarnaFaultKind[] = [
  '500',
  '502',
  '503',
  '429',
  'slow',
  'drop',
  'malformed',
];
export const SPIRIS_FAULT_KINDS: readonly SpirisFaultKind[] = ['500', '503', '429', 'slow', 'lostResponse'];
const KLARNA_CURRENCIES: readonly SimCurrency[] = ['SEK', 'EUR', 'NOK', 'DKK'];

/** One `--fault` as given: what, how many requests (Infinity = every one), and which. */
export interface FaultSpec<K extends string> {
  kind: K;
  times: number;
  pathIncludes?: string;
}

/**
 * `KIND[:TIMES][@PATH]`: `503` fails the next request, `500:3` the next three, `429:*` every
 * one, `slow:2@/payouts` the next two whose path and query contain `/payouts`.
 */
export function parseFaultSpec<K extends string>(value: string, kinds: readonly K[]): FaultSpec<K> {
  const m = /^([A-Za-z0-9]+)(?::(\d+|\*))?(?:@(.+))?$/.exec(value.trim());
  const kind = kinds.find((k) => k.toLowerCase() === m?.[1]?.toLowerCase());
  if (!m || !kind) {
    throw new InvalidArgumentError(
      `a fault is KIND[:TIMES][@PATH] with KIND one of ${kinds.join(', ')}, e.g. 500:3 or 429:*@/vouchers`,
    );
  }
  const times = m[2] === undefined ? 1 : m[2] === '*' ? Number.POSITIVE_INFINITY : Number(m[2]);
  if (times < 1) throw new InvalidArgumentError('a fault applies to at least 1 request');
  return { kind, times, ...(m[3] ? { pathIncludes: m[3] } : {}) };
}

const collect =
  <K extends string>(kinds: readonly K[]) =>
  (value: string, previous: FaultSpec<K>[] = []) => [...previous, parseFaultSpec(value, kinds)];

function parseCurrencies(value: string): SimCurrency[] {
  const list = value
    .split(',')
    .map((c) => c.trim().toUpperCase())
    .filter(Boolean);
  const bad = list.filter((c) => !(KLARNA_CURRENCIES as readonly string[]).includes(c));
  if (list.length === 0 || bad.length > 0 || new Set(list).size !== list.length) {
    throw new InvalidArgumentError(`distinct currencies from ${KLARNA_CURRENCIES.join(', ')}, e.g. SEK,EUR`);
  }
  return list as SimCurrency[];
}

/** JSON has no Infinity; a fault on every request says so in words. */
const faultJson = (f: FaultSpec<string>) => ({
  kind: f.kind,
  times: Number.isFinite(f.times) ? f.times : 'every',
  ...(f.pathIncludes ? { pathIncludes: f.pathIncludes } : {}),
});

const faultLine = (f: FaultSpec<string>) =>
  `Fault: ${f.kind} on ${Number.isFinite(f.times) ? `the next ${f.times} request(s)` : 'every request'}` +
  (f.pathIncludes ? ` whose path contains ${f.pathIncludes}` : '');

const FAULT_HELP = (kinds: readonly string[], notes: string) =>
  '\nFaults (--fault, repeatable; a request gets the first listed fault that matches it and has uses left):\n' +
  `  KIND[:TIMES][@PATH]   KIND: ${kinds.join(', ')}\n` +
  '                        TIMES: how many matching requests (default 1), or * for every one\n' +
  '                        PATH: only requests whose path and query contain this text\n' +
  `${notes}\n` +
  'With --json, one line of JSON describes the running simulator; it keeps running until Ctrl-C.\n';

/** Keeps a simulator in the foreground until Ctrl-C or SIGTERM, then closes it cleanly. */
async function runUntilSignal(close: () => Promise<void>): Promise<void> {
  await new Promise<void>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      resolve();
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
  await close();
}

/** A script reads the first line and moves on, so JSON mode is one compact line. */
const jsonLine = (ctx: CliContext, data: unknown) => ctx.stdout.write(`${JSON.stringify(data)}\n`);

interface KlarnaCliOptions {
  port?: number;
  environment: string;
  seed?: number;
  days?: number;
  currencies?: SimCurrency[];
  largePayout?: number;
  fault?: FaultSpec<KlarnaFaultKind>[];
  json?: boolean;
}

interface SpirisCliOptions {
  port?: number;
  accessTokenLifetime?: number;
  fault?: FaultSpec<SpirisFaultKind>[];
  json?: boolean;
}

export const registerSimulateCommands: RegisterCommands = (program, ctx) => {
  const simulate = program
    .command('simulate')
    .description(
      'Run a local simulator of Klarna or Spiris, for trying the product without real credentials',
    );

  simulate
    .command('klarna')
    .description("Serve Klarna's Settlements API with a generated merchant (keys are printed)")
    .option('--port <n>', 'port to listen on (default: a free one)', intOption)
    .option('--environment <env>', 'playground (test keys) or production (live keys)', 'playground')
    .option('--seed <n>', 'seed for the generated merchant', intOption)
    .option('--days <n>', 'days of daily payouts, ending yesterday', intOption)
    .option(
      '--currencies <list>',
      'payout currencies, one payout per currency per day (default SEK)',
      parseCurrencies,
    )
    .option('--large-payout <n>', "give yesterday's payout exactly this many transactions", positiveIntOption)
    .option('--fault <spec>', 'fail requests on purpose, e.g. 503:2 (see below)', collect(KLARNA_FAULT_KINDS))
    .option('--json', 'print one JSON line describing the simulator, then keep running')
    .addHelpText(
      'after',
      FAULT_HELP(
        KLARNA_FAULT_KINDS,
        '  slow answers after 1 s; drop closes the connection unanswered; malformed sends broken JSON;\n' +
          '  429 advertises a 1 s reset. Example: --fault 503:2@/payouts --fault drop@/transactions',
      ),
    )
    .action(async (opts: KlarnaCliOptions) => {
      const sim = await runKlarnaSimulatorCli({
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        environment: opts.environment,
        ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
        ...(opts.days !== undefined ? { days: opts.days } : {}),
        ...(opts.currencies ? { currencies: opts.currencies } : {}),
        ...(opts.largePayout ? { largePayoutTransactions: opts.largePayout } : {}),
        log: opts.json ? () => {} : (line) => ctx.stdout.write(`${line}\n`),
      });
      const faults = opts.fault ?? [];
      for (const f of faults) sim.injectFault(f as KlarnaFault);
      if (opts.json) {
        jsonLine(ctx, {
          simulator: 'klarna',
          environment: sim.environment,
          url: sim.url,
          apiBaseUrl: `${sim.url}${API_PREFIX}`,
          merchants: sim.merchants.map((m) => ({
            merchantId: m.merchantId,
            currencies: m.currencies,
            payouts: m.payouts.length,
            transactions: m.transactionCount,
            firstPayoutDate: m.payouts[0]?.payout_date ?? null,
            lastPayoutDate: m.payouts.at(-1)?.payout_date ?? null,
            username: m.credentials.username,
            apiKey: m.credentials.apiKey,
          })),
          faults: faults.map(faultJson),
        });
      } else for (const f of faults) ctx.stdout.write(`${faultLine(f)}\n`);
      await runUntilSignal(() => sim.close());
    });

  simulate
    .command('spiris')
    .description('Serve the Visma identity server and eAccounting API v2 with a seeded Swedish company')
    .option('--port <n>', 'port to listen on (default: a free one)', intOption)
    .option(
      '--access-token-lifetime <seconds>',
      'how long an access token is valid (default 3600); short to watch refreshes',
      positiveIntOption,
    )
    .option('--fault <spec>', 'fail requests on purpose, e.g. 500:3 (see below)', collect(SPIRIS_FAULT_KINDS))
    .option('--json', 'print one JSON line describing the simulator, then keep running')
    .addHelpText(
      'after',
      FAULT_HELP(
        SPIRIS_FAULT_KINDS,
        '  The identity server counts too: 500@/connect/token fails the next token request.\n' +
          '  slow answers after 1 s; lostResponse does the work but drops the answer (a voucher\n' +
          '  is created, the client never hears of it); 429 asks to wait 1 s.\n' +
          '  Example: --fault lostResponse@/vouchers --fault 503:*@/attachments',
      ),
    )
    .action(async (opts: SpirisCliOptions) => {
      const sim = await runSpirisSimulatorCli({
        ...(opts.port !== undefined ? { port: opts.port } : {}),
        ...(opts.accessTokenLifetime ? { accessTokenLifetimeSeconds: opts.accessTokenLifetime } : {}),
        log: opts.json ? () => {} : (line) => ctx.stdout.write(`${line}\n`),
      });
      const faults = opts.fault ?? [];
      for (const f of faults) sim.injectFault(f as SpirisFault);
      if (opts.json) {
        jsonLine(ctx, {
          simulator: 'spiris',
          url: sim.url,
          apiBaseUrl: sim.apiBaseUrl,
          identityBaseUrl: sim.identityBaseUrl,
          authorizeUrl: `${sim.identityBaseUrl}/connect/authorize`,
          tokenUrl: `${sim.identityBaseUrl}/connect/token`,
          clientId: sim.clientId,
          clientSecret: sim.clientSecret,
          company: { id: sim.companyId, name: DEFAULT_COMPANY_NAME, orgNumber: DEFAULT_ORG_NUMBER },
          redirectUris: 'any http://localhost or http://127.0.0.1 URL',
          accessTokenLifetimeSeconds: opts.accessTokenLifetime ?? 3600,
          faults: faults.map(faultJson),
        });
      } else for (const f of faults) ctx.stdout.write(`${faultLine(f)}\n`);
      await runUntilSignal(() => sim.close());
    });
};
