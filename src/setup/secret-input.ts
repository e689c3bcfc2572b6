import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { Secret } from './secret.ts';

// How a secret reaches the CLI. A flag is the one way that leaks (shell history, `ps`),
// so it still works for scripts but says so; standard input, the environment and a
// hidden prompt keep the secret off the command line.

export type SecretOrigin = 'flag' | 'stdin' | 'env' | 'prompt';

export interface SecretInputSpec {
  /** What the secret is, for messages: "Klarna API key". */
  label: string;
  /** The value of the plain flag, e.g. opts.apiKey. */
  flagValue?: string | undefined;
  /** e.g. --api-key */
  flagName: string;
  /** True when the --…-stdin flag was given. */
  fromStdin?: boolean | undefined;
  /** e.g. --api-key-stdin */
  stdinFlagName: string;
  /** e.g. KLARNA_API_KEY */
  envName?: string;
  env: NodeJS.ProcessEnv;
  /** Ask on the terminal when nothing else gave the secret (default true). */
  prompt?: boolean;
  /** Read only the first line of standard input, leaving the rest for a later question. */
  firstLineOnly?: boolean;
}

export interface SecretInputIo {
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  /** Prompts and warnings go here, never to stdout, so `--json` output stays parseable. */
  stderr: NodeJS.WritableStream;
}

export class SecretInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SecretInputError';
  }
}

/** One line, for stderr, whenever a secret arrives as a flag. */
export function commandLineSecretWarning(
  spec: Pick<SecretInputSpec, 'flagName' | 'stdinFlagName' | 'envName'>,
): string {
  const options = [spec.stdinFlagName, spec.envName, 'the interactive prompt'].filter(Boolean) as string[];
  const alternatives = `${options.slice(0, -1).join(', ')} or ${options.at(-1)}`;
  return `warning: ${spec.flagName} puts the secret on the command line, where it ends up in shell history and process lists; prefer ${alternatives}.`;
}

/**
 * The secret from the flag, standard input, the environment or a hidden prompt, in that
 * order of precedence; undefined when none gave one. The value is returned exactly as
 * given (apart from the one line ending a pipe adds), so validation can name stray
 * spaces or line breaks instead of silently fixing a mangled paste.
 */
export async function readSecretInput(
  spec: SecretInputSpec,
  io: SecretInputIo,
): Promise<{ secret: Secret; origin: SecretOrigin } | undefined> {
  if (spec.flagValue !== undefined && spec.fromStdin) {
    throw new SecretInputError(
      `Give the ${spec.label} either with ${spec.flagName} or with ${spec.stdinFlagName}, not both.`,
    );
  }
  if (spec.flagValue !== undefined) {
    io.stderr.write(`${commandLineSecretWarning(spec)}\n`);
    return nonEmpty(spec.flagValue, 'flag');
  }
  if (spec.fromStdin) {
    if (io.stdin.isTTY) {
      return nonEmpty(await promptHidden(`${spec.label}: `, io), 'stdin');
    }
    const text = spec.firstLineOnly
      ? await readFirstLine(io.stdin)
      : stripOneLineEnding(await readAll(io.stdin));
    return nonEmpty(text, 'stdin');
  }
  const fromEnv = spec.envName ? spec.env[spec.envName] : undefined;
  if (fromEnv !== undefined && fromEnv !== '') return { secret: new Secret(fromEnv), origin: 'env' };
  if (spec.prompt !== false && io.stdin.isTTY) {
    return nonEmpty(await promptHidden(`${spec.label} (input hidden): `, io), 'prompt');
  }
  return undefined;
}

function nonEmpty(value: string, origin: SecretOrigin): { secret: Secret; origin: SecretOrigin } | undefined {
  return value === '' ? undefined : { secret: new Secret(value), origin };
}

/**
 * Asks on the terminal with echo off: readline writes through an output stream that
 * drops everything while the answer is typed, so neither the characters nor readline's
 * line redraws reach the screen (or a recording of it).
 */
export function promptHidden(question: string, io: SecretInputIo): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, encoding, done) {
      if (!muted) io.stderr.write(chunk, encoding as BufferEncoding);
      done();
    },
  });
  const rl = createInterface({ input: io.stdin, output, terminal: true, historySize: 0 });
  return new Promise<string>((resolve, reject) => {
    let answered = false;
    rl.on('SIGINT', () => {
      rl.close();
    });
    rl.on('close', () => {
      muted = false;
      if (!answered) {
        io.stderr.write('\n');
        reject(new SecretInputError('No input: the prompt was closed before a value was entered.'));
      }
    });
    io.stderr.write(question);
    muted = true;
    rl.question('', (answer) => {
      answered = true;
      muted = false;
      io.stderr.write('\n');
      rl.close();
      resolve(answer);
    });
  });
}

/**
 * What is wrong with a pasted token or secret that can never contain whitespace, or
 * undefined. Named precisely, because a stray line break otherwise surfaces much later
 * as an opaque "invalid_client" or 401.
 */
export function describeStrayWhitespace(label: string, value: string): string | undefined {
  if (value.trim() === '') return `The ${label} is empty.`;
  if (/^\s/.test(value) || /\s$/.test(value)) {
    const what = /[\r\n]/.test(value) ? 'a line break' : 'spaces';
    return `The ${label} has ${what} before or after it; paste it alone.`;
  }
  if (/\s/.test(value))
    return `The ${label} contains whitespace inside it; paste it again without spaces or line breaks.`;
  return undefined;
}

/** `echo key |` and here-strings add one line ending; anything beyond that is reported by validation. */
export function stripOneLineEnding(text: string): string {
  return text.replace(/\r?\n$/, '');
}

async function readFirstLine(stream: NodeJS.ReadableStream): Promise<string> {
  const rl = createInterface({ input: stream, terminal: false });
  try {
    for await (const line of rl) return line;
    return '';
  } finally {
    rl.close();
  }
}

async function readAll(stream: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
  return Buffer.concat(chunks).toString('utf8');
}
