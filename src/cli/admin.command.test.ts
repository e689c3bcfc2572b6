import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { Capture } from '../../test/support/cli.ts';
import { verifyPassword } from '../admin/auth/password.ts';
import { type App, createApp } from '../app.ts';
import { loadConfig } from '../config.ts';
import { getAdminCredential } from '../store/admin.repository.ts';
import { main } from './main.ts';

// `admin password set` and `admin token …` with --json, in-process through main(), the
// way a provisioning script drives them.

const dir = mkdtempSync(join(tmpdir(), 'ks-admin-cli-'));
const env = { KLARNA_SPIRIS_DATA_DIR: dir, KLARNA_SPIRIS_LOG_LEVEL: 'silent' };
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function run(argv: string[], stdin?: string) {
  const stdout = new Capture();
  const stderr = new Capture();
  // The password is read from process.stdin; a pipe is what a script would give it.
  const original = Object.getOwnPropertyDescriptor(process, 'stdin')!;
  if (stdin !== undefined) {
    Object.defineProperty(process, 'stdin', { value: Readable.from([stdin]), configurable: true });
  }
  try {
    const code = await main(argv, env, stdout, stderr);
    return { code, stdout: stdout.text, stderr: stderr.text };
  } finally {
    if (stdin !== undefined) Object.defineProperty(process, 'stdin', original);
  }
}

async function withApp<T>(use: (app: App) => Promise<T>): Promise<T> {
  const app = await createApp(loadConfig(env));
  try {
    return await use(app);
  } finally {
    await app.close();
  }
}

describe('admin CLI with --json', () => {
  it('sets the password from a pipe and says so as JSON', async () => {
    const r = await run(['admin', 'password', 'set', '--json'], 'ett långt lösenord för skript\n');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ passwordSet: true, sessionsLoggedOut: true });
    expect(r.stdout).not.toContain('lösenord');
    const stored = await withApp((app) => getAdminCredential(app.store.db));
    expect(await verifyPassword('ett långt lösenord för skript', stored!.passwordHash)).toBe(true);

    const short = await run(['admin', 'password', 'set', '--json'], 'kort\n');
    expect(short.code).toBe(1);
    expect(short.stdout).toBe('');
    expect(short.stderr).toMatch(/needs at least \d+ characters/);
  });

  it('revokes a token and prints the revoked record, never the token', async () => {
    const created = JSON.parse((await run(['admin', 'token', 'create', 'backup', '--json'])).stdout);
    const r = await run(['admin', 'token', 'revoke', created.id, '--json']);
    expect(r.code, r.stderr).toBe(0);
    const revoked = JSON.parse(r.stdout);
    expect(revoked).toMatchObject({ id: created.id, name: 'backup', hint: created.hint });
    expect(revoked.revokedAt).toMatch(/^\d{4}-\d{2}-\d{2}T/);
    expect(r.stdout).not.toContain(created.token);

    const again = await run(['admin', 'token', 'revoke', created.id, '--json']);
    expect(again.code).toBe(1);
    expect(again.stdout).toBe('');
  });
});
