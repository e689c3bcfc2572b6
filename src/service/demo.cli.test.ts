import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Capture } from '../../test/support/cli.ts';
import { main } from '../cli/main.ts';
import { openStore } from '../store/db.ts';
import { listIntegrations } from '../store/integrations.repository.ts';

// `serve --demo` from the command line. The demo always keeps its data in SQLite under
// its own folder, so this runs once, not per database engine.

const dir = mkdtempSync(join(tmpdir(), 'ks-demo-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('klarna-spiris serve --demo', () => {
  it('starts the simulators, tells the newcomer where to go, and shuts down on SIGTERM', async () => {
    const before = {
      SIGTERM: process.listeners('SIGTERM'),
      SIGINT: process.listeners('SIGINT'),
    };
    const stdout = new Capture();
    const stderr = new Capture();
    const exit = main(
      ['serve', '--demo', '--no-sync', '--port', '0', '--host', '127.0.0.1'],
      {
        KLARNA_SPIRIS_DATA_DIR: dir,
        KLARNA_SPIRIS_SECRET_KEY: randomBytes(32).toString('base64'),
        KLARNA_SPIRIS_LOG_LEVEL: 'silent',
        // Ignored by the demo: real books are never written to.
        DATABASE_URL: 'postgres://nobody:hunter2@127.0.0.1:1/books',
      },
      stdout,
      stderr,
    );
    const deadline = Date.now() + 20_000;
    while (!stdout.text.includes('Demo data:') && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const url = /running at (http:\/\/\S+) /.exec(stdout.text)?.[1];
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(stdout.text).toContain(`Open ${url} in your browser`);
    expect(stdout.text).toContain(`choose the admin password at ${url}/setup`);
    expect(stdout.text).toContain('"Demo (simulators)" (test mode)');
    expect(stdout.text).toMatch(/Klarna simulator: +http:\/\/127\.0\.0\.1:\d+ \(merchant K\d+\)/);
    expect(stdout.text).toContain('DATABASE_URL is ignored in demo mode');
    expect(stdout.text).toContain('Syncs are off (--no-sync)');
    expect(stdout.text).not.toContain('hunter2');
    expect((await fetch(`${url}/healthz`)).status).toBe(200);

    process.emit('SIGTERM', 'SIGTERM');
    expect(await exit).toBe(0);
    expect(stderr.text).toBe('');
    // The first signal leaves a force-exit listener for a second one; take ours away.
    for (const signal of ['SIGTERM', 'SIGINT'] as const) {
      for (const l of process.listeners(signal)) {
        if (!before[signal].includes(l)) process.off(signal, l as () => void);
      }
    }

    const store = await openStore({ sqlitePath: join(dir, 'klarna-spiris.sqlite') });
    try {
      expect((await listIntegrations(store.db)).map((i) => [i.name, i.mode])).toEqual([
        ['Demo (simulators)', 'test'],
      ]);
    } finally {
      await store.close();
    }
  });
});
