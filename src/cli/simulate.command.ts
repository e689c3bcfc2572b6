import type { Command } from 'commander';
import { runKlarnaSimulatorCli } from '../simulators/klarna/index.ts';
import { runSpirisSimulatorCli } from '../simulators/spiris/index.ts';
import type { CliContext, RegisterCommands } from './context.ts';

const intOption = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0) throw new Error(`not a whole number: ${v}`);
  return n;
};

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

export const registerSimulateCommands: RegisterCommands = (program: Command, ctx: CliContext) => {
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
    .action(async (opts: { port?: number; environment: string; seed?: number; days?: number }) => {
      const sim = await runKlarnaSimulatorCli({ ...opts, log: (line) => ctx.stdout.write(`${line}\n`) });
      await runUntilSignal(() => sim.close());
    });

  simulate
    .command('spiris')
    .description('Serve the Visma identity server and eAccounting API v2 with a seeded Swedish company')
    .option('--port <n>', 'port to listen on (default: a free one)', intOption)
    .action(async (opts: { port?: number }) => {
      const sim = await runSpirisSimulatorCli({ ...opts, log: (line) => ctx.stdout.write(`${line}\n`) });
      await runUntilSignal(() => sim.close());
    });
};
