import { InvalidArgumentError } from 'commander';
import { type ServeHook, startService, waitForShutdownSignal } from '../service/serve.ts';
import { loadServiceConfig } from '../service/service-config.ts';
import { registerAdminCommands } from './admin.command.ts';
import type { CliContext, RegisterCommands } from './context.ts';

interface ServeFlags {
  port?: number;
  host?: string;
}

function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is an integer 0–65535');
  return n;
}

/**
 * Work `serve` does around the server, chosen by flags. This is where `--demo` plugs
 * in: a hook that starts the Klarna and Spiris simulators and returns their admin
 * plugins and a stop function (see ServeHook).
 */
function serveHooks(_flags: ServeFlags): ServeHook[] {
  return [];
}

async function serve(ctx: CliContext, flags: ServeFlags): Promise<void> {
  const config = loadServiceConfig(ctx.env, { port: flags.port, host: flags.host });
  const app = await ctx.app();
  const service = await startService(app, config, { hooks: serveHooks(flags) });
  ctx.stdout.write(`klarna-spiris is running at ${service.url} (Ctrl+C to stop)\n`);
  const signal = await waitForShutdownSignal();
  app.logger.info({ signal }, 'shutting down');
  // The server closes here; the CLI closes the app (store) after this action returns.
  await service.close();
}

export const registerServeCommands: RegisterCommands = (program, ctx) => {
  program
    .command('serve')
    .description('Run the admin UI, the HTTP API (/api/v1), /healthz and /metrics')
    .option('--port <port>', 'port to listen on (env KLARNA_SPIRIS_PORT, default 8080)', parsePort)
    .option('--host <host>', 'interface to bind (env KLARNA_SPIRIS_HOST, default localhost)')
    .addHelpText(
      'after',
      '\nEnvironment:\n' +
        '  KLARNA_SPIRIS_ADMIN_PASSWORD   sets the admin password at start (otherwise chosen on the first visit)\n' +
        '  KLARNA_SPIRIS_COOKIE_SECURE    auto|always|never: Secure session cookies (auto: when the request is https)\n' +
        '  KLARNA_SPIRIS_TRUST_PROXY      false|true|<hops>|<addresses>: trust X-Forwarded-* from a reverse proxy\n' +
        '  KLARNA_SPIRIS_SESSION_HOURS    idle time before an admin session ends (default 12)\n',
    )
    .action(async (flags: ServeFlags) => serve(ctx, flags));
  registerAdminCommands(program, ctx);
};
