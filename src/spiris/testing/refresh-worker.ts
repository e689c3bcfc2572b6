import { createHash } from 'node:crypto';
import { createInterface } from 'node:readline';
import { AesGcmSealer } from '../../setup/credentials.ts';
import { openStore } from '../../store/db.ts';
import { StoredSpirisTokens } from '../token-store.ts';

// A second worker process for the refresh-race test: it opens its own store handle on
// the same database, waits for "go" on stdin, asks for an access token (its clock set
// ahead so the stored one looks stale) and prints a fingerprint of what it got.

const target = process.env.WORKER_DB_TARGET!;
const store = await openStore(
  /^postgres/.test(target) ? { databaseUrl: target, migrate: false } : { sqlitePath: target, migrate: false },
);
const sealer = new AesGcmSealer(Buffer.from(process.env.WORKER_SECRET_KEY!, 'base64'));
const ahead = Number(process.env.WORKER_CLOCK_AHEAD_MS ?? '0');
const tokens = new StoredSpirisTokens({
  store,
  sealer,
  connectionId: process.env.WORKER_CONNECTION_ID!,
  now: () => new Date(Date.now() + ahead),
});

process.stdout.write('ready\n');
const rl = createInterface({ input: process.stdin });
for await (const line of rl) {
  if (line.trim() !== 'go') continue;
  try {
    const token = await tokens.getAccessToken();
    const fingerprint = createHash('sha256').update(token.reveal()).digest('hex');
    process.stdout.write(`${JSON.stringify({ ok: true, fingerprint })}\n`);
  } catch (err) {
    process.stdout.write(
      `${JSON.stringify({ ok: false, name: (err as Error).name, message: (err as Error).message })}\n`,
    );
  }
  break;
}
rl.close();
await store.close();
