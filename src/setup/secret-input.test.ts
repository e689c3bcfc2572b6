import { PassThrough, Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  commandLineSecretWarning,
  describeStrayWhitespace,
  promptHidden,
  readSecretInput,
  type SecretInputSpec,
} from './secret-input.ts';

const KEY = 'klarna_test_api_c2VjcmV0LXByb21wdC1rZXktMTIzNDU2';

class Sink extends Writable {
  text = '';
  override _write(chunk: Buffer, _e: BufferEncoding, done: () => void) {
    this.text += chunk.toString();
    done();
  }
}

/** A terminal as readline sees it: a TTY flag and raw mode, fed by the test. */
function fakeTty(): PassThrough & { isTTY: boolean; setRawMode: (on: boolean) => void; raw: boolean[] } {
  const s = new PassThrough() as PassThrough & {
    isTTY: boolean;
    setRawMode: (on: boolean) => void;
    raw: boolean[];
  };
  s.isTTY = true;
  s.raw = [];
  s.setRawMode = (on: boolean) => void s.raw.push(on);
  return s;
}

const spec = (over: Partial<SecretInputSpec> = {}): SecretInputSpec => ({
  label: 'Klarna API key',
  flagName: '--api-key',
  stdinFlagName: '--api-key-stdin',
  envName: 'KLARNA_API_KEY',
  env: {},
  ...over,
});

describe('readSecretInput', () => {
  it('asks on a terminal with echo off: the typed key never reaches the screen', async () => {
    const stdin = fakeTty();
    const stderr = new Sink();
    const answer = readSecretInput(spec(), { stdin, stderr });
    for (const ch of KEY) stdin.write(ch);
    stdin.write('\r');
    const got = await answer;
    expect(got?.origin).toBe('prompt');
    expect(got?.secret.reveal()).toBe(KEY);
    expect(stderr.text).toContain('Klarna API key (input hidden): ');
    expect(stderr.text).not.toContain('c2VjcmV0');
    expect(stdin.raw[0]).toBe(true);
  });

  it('rejects when the prompt is closed without an answer', async () => {
    const stdin = fakeTty();
    const pending = promptHidden('Secret: ', { stdin, stderr: new Sink() });
    stdin.end();
    await expect(pending).rejects.toThrow(/closed before a value was entered/);
  });

  it('reads standard input to the end, removing only the one line ending a pipe adds', async () => {
    const stdin = new PassThrough();
    stdin.end(`${KEY}\n\n`);
    const got = await readSecretInput(spec({ fromStdin: true }), { stdin, stderr: new Sink() });
    // The second line ending stays, so validation can say "trailing line break".
    expect(got?.secret.reveal()).toBe(`${KEY}\n`);
    expect(got?.origin).toBe('stdin');
  });

  it('can read just the first line, leaving the rest for a later question', async () => {
    const stdin = new PassThrough();
    stdin.end('cs-secret\nhttps://app.example/cb?code=1\n');
    const got = await readSecretInput(spec({ fromStdin: true, firstLineOnly: true }), {
      stdin,
      stderr: new Sink(),
    });
    expect(got?.secret.reveal()).toBe('cs-secret');
  });

  it('takes the environment, and asks nothing when stdin is not a terminal', async () => {
    const stdin = new PassThrough();
    expect(
      (await readSecretInput(spec({ env: { KLARNA_API_KEY: KEY } }), { stdin, stderr: new Sink() }))?.origin,
    ).toBe('env');
    expect(await readSecretInput(spec(), { stdin, stderr: new Sink() })).toBeUndefined();
  });

  it('warns in one line that a flag ends up in shell history and process lists', async () => {
    const stderr = new Sink();
    const got = await readSecretInput(spec({ flagValue: KEY }), { stdin: new PassThrough(), stderr });
    expect(got?.origin).toBe('flag');
    expect(stderr.text).toBe(`${commandLineSecretWarning(spec())}\n`);
    expect(stderr.text).toMatch(
      /^warning: --api-key .* shell history and process lists; prefer --api-key-stdin, KLARNA_API_KEY or the interactive prompt\.\n$/,
    );
    expect(stderr.text).not.toContain(KEY);
  });

  it('refuses a flag and stdin together', async () => {
    await expect(
      readSecretInput(spec({ flagValue: KEY, fromStdin: true }), {
        stdin: new PassThrough(),
        stderr: new Sink(),
      }),
    ).rejects.toThrow(/either with --api-key or with --api-key-stdin, not both/);
  });
});

describe('describeStrayWhitespace', () => {
  it('names a pasted line break, spaces, or an empty value', () => {
    expect(describeStrayWhitespace('Spiris refresh token', 'abc\n')).toBe(
      'The Spiris refresh token has a line break before or after it; paste it alone.',
    );
    expect(describeStrayWhitespace('client secret', ' abc')).toMatch(/has spaces before or after it/);
    expect(describeStrayWhitespace('client secret', 'ab c')).toMatch(/contains whitespace inside it/);
    expect(describeStrayWhitespace('client secret', '  ')).toBe('The client secret is empty.');
    expect(describeStrayWhitespace('client secret', 'abc')).toBeUndefined();
  });
});
