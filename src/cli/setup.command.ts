import { join } from 'node:path';
import { Option } from 'commander';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import {
  cliActor,
  DEFAULT_AUDIT_LIMIT,
  formatAuditLine,
  MAX_AUDIT_LIMIT,
  readAuditLog,
} from '../setup/audit.ts';
import { type ConnectionTestResult, runConnectionTest } from '../setup/connection-test.ts';
import { type CredentialSealer, parseSecretKey } from '../setup/credentials.ts';
import {
  evaluateGoLive,
  type GoLiveEvaluation,
  GoLiveRefusedError,
  gatherGoLiveFacts,
  setIntegrationMode,
} from '../setup/go-live.ts';
import { isGuideLocale, renderGuideText, SETUP_GUIDE } from '../setup/guide.ts';
import { KeyRotationError, rotateSecretKey } from '../setup/key-rotation.ts';
import { readSecretInput } from '../setup/secret-input.ts';
import { recordEvent } from '../store/events.repository.ts';
import {
  DEFAULT_INTEGRATION_NAME,
  findIntegration,
  type Integration,
  type IntegrationMode,
  listIntegrations,
} from '../store/integrations.repository.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

// The guided setup from the terminal: the guide itself, the connection test, the mode
// switch with its go-live gate, the audit log, and rotation of the encryption key.

export const registerSetupCommands: RegisterCommands = (program, ctx) => {
  const setup = program.command('setup').description('The guided setup path');
  setup
    .command('guide')
    .description('Print the setup steps for Klarna and Visma Spiris, then how to go live')
    .addOption(new Option('--lang <lang>', 'en or sv (default: from LANG)').choices(['en', 'sv']))
    .option('--json', 'the guide as data (both languages)')
    .action((opts: { lang?: string; json?: boolean }) => {
      const fromEnv = /^sv/i.test(ctx.env.LC_ALL || ctx.env.LANG || '') ? 'sv' : 'en';
      const lang = opts.lang && isGuideLocale(opts.lang) ? opts.lang : fromEnv;
      emit(ctx, !!opts.json, SETUP_GUIDE, () => renderGuideText(lang));
    });

  program
    .command('test')
    .description('Controlled, read-only connection test of both sides, one line per check with the fix')
    .option('--integration <name>', 'integration name or id')
    .option('--json', 'machine-readable output')
    .action(async (opts: { integration?: string; json?: boolean }) => {
      const app = await ctx.app();
      const integration = await integrationForRead(app, opts.integration);
      const result = await runConnectionTest(
        { store: app.store, sealer: app.sealer, logger: app.logger, actor: cliActor(ctx.env) },
        integration.id,
      );
      emit(ctx, !!opts.json, result, () => describeTest(result));
      if (!result.ok) {
        throw new CliError(
          `${result.counts.fail} check(s) failed; fix them (see "fix:" above) and test again.`,
        );
      }
    });

  program
    .command('mode')
    .description('Show the mode, or switch it: off, test (sandbox or preview-only), live (gated)')
    .argument('[mode]', 'off, test or live')
    .option('--integration <name>', 'integration name or id')
    .option('--confirm', 'confirm going live: vouchers are then booked into the production books')
    .option('--json', 'machine-readable output')
    .action(
      async (mode: string | undefined, opts: { integration?: string; confirm?: boolean; json?: boolean }) => {
        await modeCommand(ctx, mode, opts);
      },
    );

  program
    .command('audit')
    .description('Who changed what, and when: connections, modes, tests, pauses, key rotations')
    .option('--integration <name>', 'only this integration (default: everything)')
    .option('--limit <n>', `how many entries, newest first (default ${DEFAULT_AUDIT_LIMIT})`)
    .option('--json', 'machine-readable output')
    .action(async (opts: { integration?: string; limit?: string; json?: boolean }) => {
      const limit = opts.limit === undefined ? DEFAULT_AUDIT_LIMIT : Number(opts.limit);
      if (!Number.isInteger(limit) || limit < 1 || limit > MAX_AUDIT_LIMIT) {
        throw new CliError(`--limit must be a whole number from 1 to ${MAX_AUDIT_LIMIT}.`, 2);
      }
      const app = await ctx.app();
      const integration = opts.integration ? await integrationForRead(app, opts.integration) : undefined;
      const events = await readAuditLog(app.store.db, {
        ...(integration ? { integrationId: integration.id } : {}),
        limit,
      });
      const names = new Map((await listIntegrations(app.store.db)).map((i) => [i.id, i.name]));
      emit(ctx, !!opts.json, events, () =>
        events.length === 0
          ? 'No audit entries yet.'
          : events.map((e) => formatAuditLine(e, names)).join('\n'),
      );
    });

  const secrets = program.command('secrets').description('The key that encrypts stored credentials');
  secrets
    .command('rotate-key')
    .description('Re-encrypt every stored credential with a new key, in one transaction')
    .option('--new-key-stdin', 'read the new key (base64 or hex of 256 bits) from standard input')
    .option('--json', 'machine-readable output')
    .addHelpText(
      'after',
      '\nStop the service and other klarna-spiris processes first: they hold the old key in memory.\n' +
        'With the key in a file, the new key replaces it (mode 0600) and the old one is kept as secret.key.old\n' +
        'until every credential opens with the new one. If the run is interrupted, run it again to finish.\n' +
        'With KLARNA_SPIRIS_SECRET_KEY set, pass the new key with --new-key-stdin (or let one be generated into a\n' +
        'file) and set the variable to it afterwards.\n',
    )
    .action(async (opts: { newKeyStdin?: boolean; json?: boolean }) => {
      await rotateKeyCommand(ctx, opts);
    });
};

// ---- test ------------------------------------------------------------------------------

const MARK: Record<string, string> = { pass: 'pass', warn: 'WARN', fail: 'FAIL' };

function describeTest(r: ConnectionTestResult): string {
  const width = Math.max(...r.checks.map((c) => c.id.length));
  const lines = [`Connection test of "${r.integrationName}" at ${r.at}:`];
  for (const c of r.checks) {
    lines.push(`  ${MARK[c.status]}  ${c.id.padEnd(width)}  ${c.message}`);
    if (c.fix) lines.push(`  ${' '.repeat(4)}  ${' '.repeat(width)}  fix: ${c.fix}`);
  }
  lines.push(`Result: ${r.counts.pass} pass, ${r.counts.warn} warn, ${r.counts.fail} fail.`);
  return lines.join('\n');
}

// ---- mode ------------------------------------------------------------------------------

const MODES: readonly IntegrationMode[] = ['off', 'test', 'live'];

async function modeCommand(
  ctx: CliContext,
  mode: string | undefined,
  opts: { integration?: string; confirm?: boolean; json?: boolean },
): Promise<void> {
  if (mode !== undefined && !(MODES as readonly string[]).includes(mode)) {
    throw new CliError(`Unknown mode "${mode}": use off, test or live.`, 2);
  }
  const app = await ctx.app();
  const integration = await integrationForRead(app, opts.integration);
  const { db } = app.store;

  if (mode === undefined) {
    const evaluation = evaluateGoLive(
      await gatherGoLiveFacts(db, integration.id, { confirmed: !!opts.confirm }),
    );
    emit(
      ctx,
      !!opts.json,
      {
        integration: { id: integration.id, name: integration.name },
        mode: integration.mode,
        goLive: evaluation,
      },
      () =>
        [
          `Integration "${integration.name}" is in ${integration.mode} mode.`,
          integration.mode === 'live' ? 'Go-live conditions as they stand now:' : 'To go live:',
          describeGoLive(evaluation),
        ].join('\n'),
    );
    return;
  }

  try {
    const result = await setIntegrationMode(
      { db },
      {
        integrationId: integration.id,
        mode: mode as IntegrationMode,
        confirm: !!opts.confirm,
        actor: cliActor(ctx.env),
      },
    );
    emit(
      ctx,
      !!opts.json,
      {
        integration: { id: integration.id, name: integration.name },
        mode: result.integration.mode,
        previousMode: result.previousMode,
        changed: result.changed,
        ...(result.evaluation ? { goLive: result.evaluation } : {}),
      },
      () =>
        result.changed
          ? `Integration "${integration.name}": ${result.previousMode} → ${result.integration.mode}.${modeNote(result.integration.mode)}`
          : `Integration "${integration.name}" is already in ${result.integration.mode} mode.`,
    );
  } catch (err) {
    if (!(err instanceof GoLiveRefusedError)) throw err;
    emit(
      ctx,
      !!opts.json,
      {
        integration: { id: integration.id, name: integration.name },
        mode: integration.mode,
        changed: false,
        goLive: err.evaluation,
      },
      () =>
        [
          `Integration "${integration.name}" stays in ${integration.mode} mode. To go live:`,
          describeGoLive(err.evaluation),
        ].join('\n'),
    );
    const missing = err.evaluation.checks.filter((c) => !c.ok).length;
    throw new CliError(`Not switched to live: ${missing} condition(s) not met (see above).`);
  }
}

function modeNote(mode: IntegrationMode): string {
  if (mode === 'live') return ' Vouchers are now booked into the production books.';
  if (mode === 'test')
    return ' Vouchers are posted only into a Spiris sandbox; against production books, payouts are only previewed.';
  return ' Nothing is fetched or booked.';
}

function describeGoLive(e: GoLiveEvaluation): string {
  return e.checks
    .map(
      (c) =>
        `  ${c.ok ? 'ok  ' : 'MISS'}  ${c.id.padEnd(17)}  ${c.message}${c.fix ? `\n        ${' '.repeat(17)}  fix: ${c.fix}` : ''}`,
    )
    .join('\n');
}

// ---- secrets rotate-key ------------------------------------------------------------------

/** Rotation must not go through the app's sealer: it may be mid-rotation, or about to be replaced. */
const NO_SEALER: CredentialSealer = {
  seal() {
    throw new Error('no credential may be sealed while the key is being rotated');
  },
  open() {
    throw new Error('no credential may be opened while the key is being rotated');
  },
};

async function rotateKeyCommand(
  ctx: CliContext,
  opts: { newKeyStdin?: boolean; json?: boolean },
): Promise<void> {
  const config = loadConfig(ctx.env);
  let newKey: Buffer | undefined;
  if (opts.newKeyStdin) {
    const input = await readSecretInput(
      {
        label: 'New secret key',
        fromStdin: true,
        flagName: '--new-key',
        stdinFlagName: '--new-key-stdin',
        env: ctx.env,
        prompt: false,
      },
      { stdin: process.stdin, stderr: ctx.stderr },
    );
    if (!input) throw new CliError('--new-key-stdin was given but standard input was empty.', 2);
    try {
      newKey = parseSecretKey(input.secret.reveal());
    } catch (err) {
      throw new CliError((err as Error).message, 2);
    }
  }
  const app = await createApp(config, { sealer: NO_SEALER });
  try {
    const result = await rotateSecretKey({
      store: app.store,
      keyFile: join(config.dataDir, 'secret.key'),
      envKey: config.secretKey,
      ...(newKey ? { newKey } : {}),
    }).catch((err: unknown) => {
      if (err instanceof KeyRotationError) throw new CliError(err.message);
      throw err;
    });
    await recordEvent(app.store.db, {
      actor: cliActor(ctx.env),
      kind: result.resumed ? 'secrets.key_rotation_finished' : 'secrets.key_rotated',
      message: result.resumed
        ? `Finished an interrupted key rotation; key ${result.newKeyFingerprint} is in use.`
        : `Secret key rotated (${result.mode}): ${result.resealed} credential(s) re-encrypted, key ${result.oldKeyFingerprint} → ${result.newKeyFingerprint}.`,
      data: {
        mode: result.mode,
        resumed: result.resumed,
        resealed: result.resealed,
        oldKeyFingerprint: result.oldKeyFingerprint,
        newKeyFingerprint: result.newKeyFingerprint,
      },
    });
    emit(ctx, !!opts.json, result, () =>
      [
        result.resumed
          ? `Finished an interrupted rotation: key ${result.newKeyFingerprint} is in use${result.newKeyFile ? ` (${result.newKeyFile})` : ''}.`
          : `Re-encrypted ${result.resealed} credential(s): key ${result.oldKeyFingerprint} → ${result.newKeyFingerprint}${result.mode === 'file' ? ` (${result.newKeyFile})` : ''}.`,
        ...result.nextSteps.map((s) => `Next: ${s}`),
      ].join('\n'),
    );
  } finally {
    await app.close();
  }
}

// ---- helpers ---------------------------------------------------------------------------

/** Reading commands never create an integration: a typo must not yield an empty new one. */
async function integrationForRead(app: App, name: string | undefined): Promise<Integration> {
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
