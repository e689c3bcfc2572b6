import type { Command } from 'commander';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';

/** What every command group gets: a lazily built app, the streams and the environment. */
export interface CliContext {
  readonly env: NodeJS.ProcessEnv;
  readonly stdout: NodeJS.WritableStream;
  readonly stderr: NodeJS.WritableStream;
  /** Opens the store and the rest once, on first use; commands that need no store never pay for it. */
  app(): Promise<App>;
}

export type RegisterCommands = (program: Command, ctx: CliContext) => void;

export function createCliContext(
  env: NodeJS.ProcessEnv = process.env,
  stdout: NodeJS.WritableStream = process.stdout,
  stderr: NodeJS.WritableStream = process.stderr,
): CliContext & { dispose(): Promise<void> } {
  let app: Promise<App> | undefined;
  return {
    env,
    stdout,
    stderr,
    app: () => {
      app ??= createApp(loadConfig(env));
      return app;
    },
    async dispose() {
      // A failed start was already reported by the command that asked for the app.
      if (app) await (await app.catch(() => undefined))?.close();
    },
  };
}

/** Prints either JSON for scripts or the human lines. */
export function emit(ctx: CliContext, json: boolean, data: unknown, human: () => string): void {
  ctx.stdout.write(json ? `${JSON.stringify(data, null, 2)}\n` : `${human()}\n`);
}

/** An error meant for the user: printed as-is, without a stack, with exit code 1 (2 for usage). */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message);
    this.name = 'CliError';
  }
}
