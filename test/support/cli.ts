import { Writable } from 'node:stream';
import { main } from '../../src/cli/main.ts';

/** A stream that keeps what the CLI printed; `sink` also collects it (for secret scans). */
export class Capture extends Writable {
  text = '';
  constructor(private readonly sink?: string[]) {
    super();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: () => void): void {
    const s = chunk.toString('utf8');
    this.text += s;
    this.sink?.push(s);
    done();
  }
}

/** Runs the CLI in this process, as a script would, and returns its exit code and output. */
export async function runCli(args: string[], env: NodeJS.ProcessEnv, sink?: string[]) {
  const stdout = new Capture(sink);
  const stderr = new Capture(sink);
  const code = await main(args, env, stdout, stderr);
  return { code, stdout: stdout.text, stderr: stderr.text };
}
