import { Command, CommanderError } from 'commander';
import { COMMAND_GROUPS } from './commands.ts';
import { CliError, createCliContext } from './context.ts';

export async function main(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): Promise<number> {
  const ctx = createCliContext(env, stdout, stderr);
  const program = new Command('klarna-spiris')
    .description('Books Klarna settlements into Visma Spiris (eAccounting), one balanced voucher per payout.')
    .exitOverride()
    .configureOutput({ writeOut: (s) => stdout.write(s), writeErr: (s) => stderr.write(s) })
    .showHelpAfterError()
    .addHelpText(
      'after',
      '\nEnvironment:\n' +
        '  DATABASE_URL               postgres://… to use PostgreSQL (default: SQLite under ./data)\n' +
        '  KLARNA_SPIRIS_DATA_DIR     where the SQLite file and the secret key file live (default ./data)\n' +
        '  KLARNA_SPIRIS_SECRET_KEY   256-bit key (base64) that encrypts stored credentials\n' +
        '  KLARNA_SPIRIS_LOG_LEVEL    fatal|error|warn|info|debug|trace|silent (default info)\n',
    );
  for (const register of COMMAND_GROUPS) register(program, ctx);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return 0;
    }
    await program.parseAsync(argv, { from: 'user' });
    return 0;
  } catch (err) {
    if (err instanceof CommanderError) {
      return err.exitCode === 0 || err.code === 'commander.helpDisplayed' || err.code === 'commander.version'
        ? 0
        : 2;
    }
    if (err instanceof CliError) {
      stderr.write(`error: ${err.message}\n`);
      return err.exitCode;
    }
    stderr.write(`error: ${(err as Error)?.message ?? String(err)}\n`);
    return 1;
  } finally {
    await ctx.dispose();
  }
}
