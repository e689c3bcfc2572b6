import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { createConnection, readConnectionSecret } from '../store/connections.repository.ts';
import {
  AesGcmSealer,
  InterruptedKeyRotationError,
  loadOrCreateSecretKey,
  parseSecretKey,
} from './credentials.ts';
import { ENV_MODE_NEW_KEY_FILE, KeyRotationError, rotateSecretKey } from './key-rotation.ts';
import { Secret } from './secret.ts';

let store: TestStore;
let dir: string;
let keyFile: string;
const SECRETS = ['klarna_test_api_cm90YXRpb24tb25lLWFhYWFhYWFh', '{"refreshToken":"rot-two-bbbbbbbb"}'];

beforeAll(async () => {
  store = await openTestStore();
});
afterAll(async () => {
  await store?.close();
});

/** A fresh key file and two stored secrets sealed with it. */
beforeEach(async () => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'ks-rotate-'));
  keyFile = join(dir, 'secret.key');
  await store.db.deleteFrom('connections').execute();
  const sealer = new AesGcmSealer(loadOrCreateSecretKey({ keyFile }));
  for (const s of SECRETS) {
    await createConnection(store.db, sealer, {
      kind: 'klarna',
      environment: 'playground',
      secret: new Secret(s),
    });
  }
});

const keyOnDisk = () => parseSecretKey(readFileSync(keyFile, 'utf8'));

async function secretsWith(key: Buffer): Promise<string[]> {
  const sealer = new AesGcmSealer(key);
  const ids = (await store.db.selectFrom('connections').select('id').orderBy('created_at').execute()).map(
    (r) => r.id,
  );
  const out: string[] = [];
  for (const id of ids) out.push((await readConnectionSecret(store.db, sealer, id)).secret.reveal());
  return out.sort();
}

const leftovers = () => ['.new', '.old', '.tmp'].filter((s) => existsSync(`${keyFile}${s}`));

describe('secrets rotate-key with a key file', () => {
  it('re-encrypts every secret in one go, installs the new key 0600 and drops the old one', async () => {
    const oldKey = keyOnDisk();
    const before = await store.db
      .selectFrom('connections')
      .select(['secret_sealed', 'secret_version'])
      .execute();
    const r = await rotateSecretKey({ store, keyFile });
    expect(r).toMatchObject({ mode: 'file', resumed: false, resealed: 2 });
    const newKey = keyOnDisk();
    expect(newKey.equals(oldKey)).toBe(false);
    expect(statSync(keyFile).mode & 0o777).toBe(0o600);
    expect(leftovers()).toEqual([]);
    expect(await secretsWith(newKey)).toEqual([...SECRETS].sort());
    await expect(secretsWith(oldKey)).rejects.toThrow(/secret key differs/);
    const after = await store.db
      .selectFrom('connections')
      .select(['secret_sealed', 'secret_version'])
      .execute();
    // The version bump makes a writer that read before the rotation lose its compare-and-set.
    expect(after.map((a) => Number(a.secret_version))).toEqual(
      before.map((b) => Number(b.secret_version) + 1),
    );
    expect(r.newKeyFingerprint).toMatch(/^[0-9a-f]{12}$/);
  });

  it('takes a given key, and refuses the current one', async () => {
    const given = randomBytes(32);
    await rotateSecretKey({ store, keyFile, newKey: given });
    expect(keyOnDisk().equals(given)).toBe(true);
    await expect(rotateSecretKey({ store, keyFile, newKey: given })).rejects.toThrow(
      /same as the current one/,
    );
  });

  it.each([
    ['after the database commit', 'afterCommit' as const],
    ['after the old key was copied aside', 'afterBackup' as const],
  ])('a crash %s blocks the start, and running it again finishes the rotation', async (_name, hook) => {
    const given = randomBytes(32);
    await expect(
      rotateSecretKey({
        store,
        keyFile,
        newKey: given,
        hooks: {
          [hook]: () => {
            throw new Error('crash');
          },
        },
      }),
    ).rejects.toThrow('crash');
    // The database already uses the new key, which is only in secret.key.new.
    expect(await secretsWith(given)).toEqual([...SECRETS].sort());
    expect(() => loadOrCreateSecretKey({ keyFile })).toThrow(InterruptedKeyRotationError);
    expect(() => loadOrCreateSecretKey({ keyFile })).toThrow(
      /run `klarna-spiris secrets rotate-key` to finish/,
    );

    const r = await rotateSecretKey({ store, keyFile });
    expect(r).toMatchObject({ resumed: true, resealed: 0 });
    expect(r.nextSteps[0]).toMatch(/now complete/);
    expect(keyOnDisk().equals(given)).toBe(true);
    expect(leftovers()).toEqual([]);
    expect(loadOrCreateSecretKey({ keyFile }).equals(given)).toBe(true);
  });

  it('a crash before the commit leaves the old key in charge; running again clears the unused new key', async () => {
    const oldKey = keyOnDisk();
    writeFileSync(`${keyFile}.new`, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
    const r = await rotateSecretKey({ store, keyFile });
    expect(r).toMatchObject({ resumed: true });
    expect(r.nextSteps[0]).toMatch(/had not changed the stored secrets/);
    expect(keyOnDisk().equals(oldKey)).toBe(true);
    expect(leftovers()).toEqual([]);
    expect(await secretsWith(oldKey)).toEqual([...SECRETS].sort());
  });

  it('a secret the current key cannot open stops the rotation before anything changes', async () => {
    const oldKey = keyOnDisk();
    await createConnection(store.db, new AesGcmSealer(randomBytes(32)), {
      kind: 'klarna',
      environment: 'playground',
      secret: new Secret('sealed-with-a-lost-key'),
    });
    const before = await store.db.selectFrom('connections').select('secret_sealed').orderBy('id').execute();
    await expect(rotateSecretKey({ store, keyFile })).rejects.toThrow(KeyRotationError);
    await expect(rotateSecretKey({ store, keyFile })).rejects.toThrow(
      /cannot be opened with the current key.*Nothing was changed/,
    );
    expect(await store.db.selectFrom('connections').select('secret_sealed').orderBy('id').execute()).toEqual(
      before,
    );
    expect(keyOnDisk().equals(oldKey)).toBe(true);
    expect(leftovers()).toEqual([]);
  });

  it('explains that there is nothing to rotate without a key', async () => {
    rmSync(keyFile);
    await expect(rotateSecretKey({ store, keyFile })).rejects.toThrow(/no key file .* nothing to rotate/);
  });
});

describe('secrets rotate-key with KLARNA_SPIRIS_SECRET_KEY', () => {
  it('re-encrypts with the key from stdin and says what to set; writes no key file', async () => {
    const envKey = keyOnDisk().toString('base64');
    rmSync(keyFile);
    const given = randomBytes(32);
    const r = await rotateSecretKey({ store, keyFile, envKey, newKey: given });
    expect(r).toMatchObject({ mode: 'env', resealed: 2, newKeyFile: null });
    expect(r.nextSteps[0]).toMatch(/Set KLARNA_SPIRIS_SECRET_KEY to the key you passed on standard input/);
    expect(await secretsWith(given)).toEqual([...SECRETS].sort());
    expect(existsSync(keyFile)).toBe(false);
  });

  it('puts a generated key in a 0600 file, never on the screen', async () => {
    const envKey = keyOnDisk().toString('base64');
    const r = await rotateSecretKey({ store, keyFile, envKey });
    const file = join(dir, ENV_MODE_NEW_KEY_FILE);
    expect(r.newKeyFile).toBe(file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const generated = parseSecretKey(readFileSync(file, 'utf8'));
    expect(await secretsWith(generated)).toEqual([...SECRETS].sort());
    expect(JSON.stringify(r)).not.toContain(generated.toString('base64'));
    expect(r.nextSteps[0]).toContain(file);
  });
});
