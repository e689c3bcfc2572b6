import { createInterface } from 'node:readline';
import { Option } from 'commander';
import { cliActor } from '../setup/audit.ts';
import { describeStrayWhitespace, readSecretInput, type SecretInputSpec } from '../setup/secret-input.ts';
import {
  type ConnectSpirisCompanyResult,
  connectSpirisCompany,
  existingIntegrationForSpiris,
  SpirisConnectRefusedError,
  spirisEnvironmentRefusal,
} from '../setup/spiris-connect.ts';
import { parseOrgNumber } from '../setup/spiris-tenant.ts';
import { isLocalRedirectUri, startCallbackServer } from '../spiris/callback-server.ts';
import type { ConnectSpirisResult, SpirisGrant } from '../spiris/connect.service.ts';
import {
  buildAuthorizeUrl,
  createPkcePair,
  generateState,
  isSpirisEnvironment,
  parseAuthorizationCallback,
  parseScopes,
  resolveSpirisEndpoints,
  type SpirisEnvironment,
} from '../spiris/oauth.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

const DEFAULT_REDIRECT_URI = 'http://localhost:8976/callback';

interface ConnectSpirisOptions {
  clientId?: string;
  clientSecret?: string;
  clientSecretStdin?: boolean;
  redirectUri?: string;
  apiBaseUrl?: string;
  identityBaseUrl?: string;
  environment: string;
  scopes?: string;
  pkce: boolean;
  refreshToken?: string;
  refreshTokenStdin?: boolean;
  accessToken?: string;
  accessTokenStdin?: boolean;
  accessTokenExpiresAt?: string;
  orgNumber?: string;
  clientAuth?: 'basic' | 'body';
  integration?: string;
  timeout: string;
  yes?: boolean;
  confirmCompanyChange?: boolean;
  json?: boolean;
}

export const registerConnectCommands: RegisterCommands = (program, ctx) => {
  // Another group may add `connect klarna`; share the parent command rather than clash.
  const connect =
    program.commands.find((c) => c.name() === 'connect') ??
    program.command('connect').description('Connect klarna-spiris to Klarna or to Visma Spiris.');

  connect
    .command('spiris')
    .description(
      'Authorize access to a Visma Spiris (eEkonomi / eAccounting) company, store the tokens encrypted and attach the company to an integration.',
    )
    .option('--client-id <id>', 'API client id from Visma/Spiris (env SPIRIS_CLIENT_ID)')
    .option(
      '--client-secret <secret>',
      'API client secret (prefer --client-secret-stdin or env SPIRIS_CLIENT_SECRET)',
    )
    .option('--client-secret-stdin', 'read the client secret from the first line of standard input')
    .option(
      '--redirect-uri <uri>',
      `redirect URI registered for the client (default ${DEFAULT_REDIRECT_URI})`,
    )
    .addOption(
      new Option('--environment <env>', 'host preset')
        .choices(['production', 'sandbox', 'sandbox-legacy'])
        .default('production'),
    )
    .option('--api-base-url <url>', 'override the API base URL (…/v2)')
    .option('--identity-base-url <url>', 'override the identity server base URL (…/connect/* below it)')
    .option(
      '--scopes <scopes>',
      'space- or comma-separated scopes (default: ea:api offline_access ea:accounting ea:sales_readonly ea:purchase_readonly)',
    )
    .option('--no-pkce', 'do not use PKCE (only if the client registration cannot do it)')
    .option(
      '--refresh-token <token>',
      'use an issued refresh token instead of the browser flow (prefer --refresh-token-stdin or env SPIRIS_REFRESH_TOKEN)',
    )
    .option('--refresh-token-stdin', 'read an issued refresh token from standard input')
    .option(
      '--access-token <token>',
      'use an issued access token only; works until it expires (prefer --access-token-stdin or env SPIRIS_ACCESS_TOKEN)',
    )
    .option('--access-token-stdin', 'read an issued access token from standard input')
    .option(
      '--org-number <number>',
      'organisation number of the company to book into; credentials for another company are refused and nothing is stored',
    )
    .option('--access-token-expires-at <iso>', 'when the issued access token expires, if known')
    .addOption(
      new Option('--client-auth <how>', 'how the client authenticates at the token endpoint').choices([
        'basic',
        'body',
      ]),
    )
    .option(
      '--integration <name>',
      'integration to attach the company to (created if missing; default: the only one, or "default")',
    )
    .option('--timeout <seconds>', 'how long to wait for the browser callback', '300')
    .option('--yes', 'confirm switching the integration to a different company')
    .option('--confirm-company-change', 'same as --yes')
    .option('--json', 'print JSON (the authorize URL first, as one line)')
    .addHelpText(
      'after',
      '\nEnvironment: SPIRIS_CLIENT_ID, SPIRIS_CLIENT_SECRET, SPIRIS_REFRESH_TOKEN, SPIRIS_ACCESS_TOKEN\n' +
        'Secrets given by environment, standard input or the hidden prompt (in a terminal) stay out of your shell\n' +
        "history and the process list. Once connected, the integration is pinned to the company's organisation\n" +
        'number: reconnecting to another company is refused unless --confirm-company-change is given.\n',
    )
    .action(async (opts: ConnectSpirisOptions) => {
      await runConnectSpiris(ctx, opts);
    });
};

async function runConnectSpiris(ctx: CliContext, opts: ConnectSpirisOptions): Promise<void> {
  const json = !!opts.json;
  const environment = opts.environment;
  if (!isSpirisEnvironment(environment)) throw new CliError(`unknown environment ${environment}`, 2);
  const endpoints = resolveSpirisEndpoints({
    environment,
    ...(opts.identityBaseUrl ? { identityBaseUrl: opts.identityBaseUrl } : {}),
    ...(opts.apiBaseUrl ? { apiBaseUrl: opts.apiBaseUrl } : {}),
  });
  const clientId = opts.clientId ?? (ctx.env.SPIRIS_CLIENT_ID || undefined);
  const stdinFlags = [opts.clientSecretStdin, opts.refreshTokenStdin, opts.accessTokenStdin].filter(Boolean);
  if (stdinFlags.length > 1) {
    throw new CliError(
      'Standard input can carry one secret: use only one of --client-secret-stdin, --refresh-token-stdin and --access-token-stdin, and give the others by environment.',
      2,
    );
  }
  let orgNumber: string | undefined;
  if (opts.orgNumber !== undefined) {
    try {
      orgNumber = parseOrgNumber(opts.orgNumber);
    } catch (err) {
      throw new CliError((err as Error).message, 2);
    }
  }
  const io = { stdin: process.stdin, stderr: ctx.stderr };
  const secretFrom = async (spec: Omit<SecretInputSpec, 'env'>) => {
    const secret = (await readSecretInput({ ...spec, env: ctx.env }, io))?.secret;
    const problem = secret && describeStrayWhitespace(spec.label, secret.reveal());
    if (problem) throw new CliError(`${problem} Nothing was stored.`, 2);
    return secret;
  };
  const refreshToken = await secretFrom({
    label: 'Spiris refresh token',
    flagValue: opts.refreshToken,
    flagName: '--refresh-token',
    fromStdin: opts.refreshTokenStdin,
    stdinFlagName: '--refresh-token-stdin',
    envName: 'SPIRIS_REFRESH_TOKEN',
    prompt: false,
  });
  const accessToken = await secretFrom({
    label: 'Spiris access token',
    flagValue: opts.accessToken,
    flagName: '--access-token',
    fromStdin: opts.accessTokenStdin,
    stdinFlagName: '--access-token-stdin',
    envName: 'SPIRIS_ACCESS_TOKEN',
    prompt: false,
  });
  // A bare access token needs no client; everything else authenticates the client.
  const clientSecret = await secretFrom({
    label: 'Spiris client secret',
    flagValue: opts.clientSecret,
    flagName: '--client-secret',
    fromStdin: opts.clientSecretStdin,
    stdinFlagName: '--client-secret-stdin',
    envName: 'SPIRIS_CLIENT_SECRET',
    prompt: !accessToken,
    // A pasted callback address may follow on the next line.
    firstLineOnly: true,
  });
  const scopes = parseScopes(opts.scopes);
  const redirectUri = opts.redirectUri ?? DEFAULT_REDIRECT_URI;
  const timeoutSeconds = Number(opts.timeout);
  if (!Number.isFinite(timeoutSeconds) || timeoutSeconds <= 0)
    throw new CliError('--timeout must be a positive number of seconds', 2);
  if (refreshToken && accessToken)
    throw new CliError('Give either a refresh token or an access token, not both.', 2);
  if (opts.accessTokenExpiresAt && Number.isNaN(Date.parse(opts.accessTokenExpiresAt))) {
    throw new CliError('--access-token-expires-at must be an ISO date-time, e.g. 2026-03-12T15:00:00Z', 2);
  }

  const app = await ctx.app();
  const { db } = app.store;
  const actor = cliActor(ctx.env);
  const confirmCompanyChange = !!(opts.yes || opts.confirmCompanyChange);
  // Refused before the browser flow, so nobody approves access for nothing.
  const refusal = spirisEnvironmentRefusal(
    await existingIntegrationForSpiris(db, opts.integration),
    environment,
  );
  if (refusal) throw new CliError(refusal, 2);

  let grant: SpirisGrant;
  if (refreshToken) {
    grant = { kind: 'refresh_token', refreshToken };
  } else if (accessToken) {
    grant = {
      kind: 'access_token',
      accessToken,
      ...(opts.accessTokenExpiresAt ? { expiresAt: new Date(opts.accessTokenExpiresAt).toISOString() } : {}),
    };
  } else {
    if (!clientId) throw new CliError('--client-id (or SPIRIS_CLIENT_ID) is required.', 2);
    if (!clientSecret) {
      throw new CliError(
        'A client secret is required: --client-secret-stdin, SPIRIS_CLIENT_SECRET or --client-secret.',
        2,
      );
    }
    if (!scopes.includes('offline_access')) {
      ctx.stderr.write(
        'warning: without the offline_access scope Visma issues no refresh token; the connection will stop after an hour.\n',
      );
    }
    grant = await authorizeInBrowser(ctx, {
      json,
      authorizeUrl: endpoints.authorizeUrl,
      clientId,
      redirectUri,
      scopes,
      pkce: opts.pkce,
      timeoutMs: timeoutSeconds * 1000,
    });
  }

  let result: ConnectSpirisCompanyResult;
  try {
    result = await connectSpirisCompany(
      {
        store: app.store,
        sealer: app.sealer,
        actor,
        onRetry: (info) => app.logger.warn(info, 'retrying a Spiris request'),
      },
      {
        environment: environment as SpirisEnvironment,
        endpoints,
        ...(clientId ? { clientId } : {}),
        ...(clientSecret ? { clientSecret } : {}),
        ...(opts.clientAuth ? { clientAuth: opts.clientAuth } : {}),
        scopes,
        pkce: opts.pkce,
        redirectUri,
        grant,
        ...(opts.integration ? { integration: opts.integration } : {}),
        ...(orgNumber ? { orgNumber } : {}),
        confirmCompanyChange,
        actor,
      },
    );
  } catch (err) {
    if (err instanceof SpirisConnectRefusedError) throw new CliError(err.message, 2);
    throw err;
  }
  if (result.leftLive) {
    result.warnings.push(
      'The integration was live and is now in test mode, because it books into another company: test and preview again, then `klarna-spiris mode live --confirm`.',
    );
  }
  for (const w of result.warnings) ctx.stderr.write(`warning: ${w}\n`);
  emit(ctx, json, result, () => describeResult(result));
}

function describeResult(r: ConnectSpirisResult): string {
  const lines = [
    `Connected integration "${r.integrationName}" to Spiris company ${r.companyName}${r.organisationNumber ? ` (${r.organisationNumber})` : ''}.`,
    `  connection: ${r.connectionId} (${r.environment}, ${r.authMode.replace('_', ' ')})`,
  ];
  if (r.companyChanged) lines.push('  note: this replaces a connection to a different company.');
  if (r.canRefresh) lines.push('  tokens: stored encrypted; renewed automatically.');
  else lines.push(`  tokens: ${r.statusReason}`);
  return lines.join('\n');
}

async function authorizeInBrowser(
  ctx: CliContext,
  o: {
    json: boolean;
    authorizeUrl: string;
    clientId: string;
    redirectUri: string;
    scopes: string[];
    pkce: boolean;
    timeoutMs: number;
  },
): Promise<SpirisGrant> {
  const state = generateState();
  const pkce = o.pkce ? createPkcePair() : undefined;
  const url = buildAuthorizeUrl({
    authorizeUrl: o.authorizeUrl,
    clientId: o.clientId,
    redirectUri: o.redirectUri,
    scopes: o.scopes,
    state,
    ...(pkce ? { codeChallenge: pkce.challenge } : {}),
  });
  const local = isLocalRedirectUri(o.redirectUri);
  const server = local
    ? await startCallbackServer({
        redirectUri: o.redirectUri,
        state,
        timeoutMs: o.timeoutMs,
        onIgnored: (reason) => ctx.stderr.write(`ignored a callback: ${reason}\n`),
      })
    : undefined;
  try {
    // The URL goes to stdout on a line of its own (JSON in --json mode) so a script
    // can pick it up; the instructions go to stderr.
    ctx.stderr.write('Open this URL in a browser, log in to Visma and choose the company to connect:\n');
    ctx.stdout.write(o.json ? `${JSON.stringify({ authorizeUrl: url })}\n` : `${url}\n`);
    let code: string;
    if (server) {
      ctx.stderr.write(
        `Waiting for the redirect to ${o.redirectUri} (up to ${Math.round(o.timeoutMs / 1000)} s)…\n`,
      );
      code = await server.code;
    } else {
      // A redirect URI we cannot listen on (HTTPS or another host): the browser ends up
      // there and the user pastes the address it shows.
      ctx.stderr.write(
        'After approving, paste the full address your browser was sent to, then press Enter:\n',
      );
      const pasted = await readStdinLine();
      code = parseAuthorizationCallback(pasted.trim(), state).code;
    }
    return {
      kind: 'authorization_code',
      code,
      redirectUri: o.redirectUri,
      ...(pkce ? { codeVerifier: pkce.verifier } : {}),
    };
  } finally {
    await server?.close();
  }
}

async function readStdinLine(): Promise<string> {
  const rl = createInterface({ input: process.stdin, terminal: false });
  try {
    for await (const line of rl) return line.trim();
    throw new CliError('Expected a line on standard input, got nothing.', 2);
  } finally {
    rl.close();
  }
}
