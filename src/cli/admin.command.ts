import { createApiToken } from '../admin/auth/api-tokens.ts';
import { checkNewPassword, hashPassword, MIN_PASSWORD_LENGTH } from '../admin/auth/password.ts';
import { listApiTokens, revokeApiToken, setAdminPassword } from '../store/admin.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { type CliContext, CliError, emit, type RegisterCommands } from './context.ts';

/** Reads a secret from a pipe, or asks for it twice without echo on a terminal. */
export async function readSecret(
  stdin: NodeJS.ReadStream,
  stderr: NodeJS.WritableStream,
  prompt: string,
): Promise<string> {
  if (!stdin.isTTY) {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.from(chunk));
    return Buffer.concat(chunks)
      .toString('utf8')
      .replace(/\r?\n$/, '');
  }
  const ask = (text: string) =>
    new Promise<string>((resolve, reject) => {
      stderr.write(text);
      let value = '';
      stdin.setRawMode(true);
      stdin.resume();
      stdin.setEncoding('utf8');
      const onData = (s: string) => {
        for (const ch of s) {
          if (ch === '\r' || ch === '\n') {
            done();
            resolve(value);
            return;
          }
          if (ch === '\u0003') {
            done();
            reject(new CliError('cancelled'));
            return;
          }
          if (ch === '\u007f') value = value.slice(0, -1);
          else value += ch;
        }
      };
      const done = () => {
        stdin.off('data', onData);
        stdin.setRawMode(false);
        stdin.pause();
        stderr.write('\n');
      };
      stdin.on('data', onData);
    });
  const first = await ask(prompt);
  const again = await ask('Repeat: ');
  if (first !== again) throw new CliError('the two entries differ');
  return first;
}

async function setPassword(ctx: CliContext, json: boolean): Promise<void> {
  const password = await readSecret(process.stdin, ctx.stderr, 'New admin password: ');
  const problem = checkNewPassword(password);
  if (problem === 'too_short')
    throw new CliError(`the password needs at least ${MIN_PASSWORD_LENGTH} characters`);
  if (problem) throw new CliError('the password is too long');
  const app = await ctx.app();
  await setAdminPassword(app.store.db, await hashPassword(password));
  await recordEvent(app.store.db, {
    actor: 'cli',
    kind: 'admin.password_set',
    message: 'Admin password set from the CLI',
  });
  emit(
    ctx,
    json,
    { passwordSet: true, sessionsLoggedOut: true },
    () => 'Admin password set. Existing admin sessions were logged out.',
  );
}

export const registerAdminCommands: RegisterCommands = (program, ctx) => {
  const admin = program
    .command('admin')
    .description('Access to the admin UI and API: password and API tokens');

  admin
    .command('password')
    .description('Manage the admin password')
    .command('set')
    .description('Set the admin password (read from stdin, or asked for on a terminal)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => setPassword(ctx, Boolean(opts.json)));

  const token = admin.command('token').description('API tokens for /api/v1 (Authorization: Bearer <token>)');

  token
    .command('create <name>')
    .description('Create an API token; it is printed once and only its hash is stored')
    .option('--json', 'print JSON')
    .action(async (name: string, opts: { json?: boolean }) => {
      const trimmed = name.trim();
      if (!trimmed || trimmed.length > 100) throw new CliError('a token name is 1–100 characters', 2);
      const app = await ctx.app();
      const { token: value, record } = await createApiToken(app.store.db, trimmed, 'cli');
      if (!opts.json) ctx.stderr.write('Store this token now; it cannot be shown again.\n');
      emit(ctx, Boolean(opts.json), { ...record, token: value }, () => value);
    });

  token
    .command('list')
    .description('List API tokens (names and masked hints only)')
    .option('--json', 'print JSON')
    .action(async (opts: { json?: boolean }) => {
      const app = await ctx.app();
      const tokens = await listApiTokens(app.store.db);
      emit(ctx, Boolean(opts.json), tokens, () =>
        tokens.length === 0
          ? 'No API tokens.'
          : tokens
              .map(
                (t) =>
                  `${t.id}  ${t.name}  ${t.hint}  ${t.revokedAt ? `revoked ${t.revokedAt}` : 'active'}  last used ${t.lastUsedAt ?? 'never'}`,
              )
              .join('\n'),
      );
    });

  token
    .command('revoke <idOrName>')
    .description('Revoke an API token by id, or by name when one active token has it')
    .option('--json', 'print JSON')
    .action(async (idOrName: string, opts: { json?: boolean }) => {
      const app = await ctx.app();
      const revoked = await revokeApiToken(app.store.db, idOrName);
      if (!revoked) throw new CliError(`no single active token matches "${idOrName}"`);
      await recordEvent(app.store.db, {
        actor: 'cli',
        kind: 'admin.token_revoked',
        message: `API token "${revoked.name}" (${revoked.hint}) revoked`,
      });
      emit(ctx, Boolean(opts.json), revoked, () => `Revoked ${revoked.name} (${revoked.hint}).`);
    });
};
