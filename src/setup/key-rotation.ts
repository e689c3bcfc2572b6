import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  constants as fsConstants,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { type Kysely, sql } from 'kysely';
import type { DialectName } from '../store/db.ts';
import type { Database } from '../store/schema.ts';
import { AesGcmSealer, parseSecretKey, rotationFiles, type SealedSecret } from './credentials.ts';

// Rotating the key that encrypts stored credentials. The database and the key file
// cannot change in one atomic step, so the order is chosen so that at every instant
// some key file on disk opens every stored secret:
//
//   1. the new key goes to secret.key.new (0600, synced);
//   2. one transaction re-encrypts every sealed value old → new, checking each;
//   3. the old key is copied to secret.key.old, then secret.key.new is renamed over
//      secret.key (an atomic replace: secret.key always exists);
//   4. every secret is opened with the installed key, then .old goes.
//
// A crash anywhere leaves .new or .old behind. The app then refuses to start (it could
// not know which key is current) and `secrets rotate-key` finishes the job: it finds the
// key file that opens every secret and installs it. With the key in the environment
// there is no file to swap; the user sets the new value, which they hold.

/**
 * Every column that holds output of the credential port. A new sealed column must be
 * listed here, or rotation would leave it readable only with the old key.
 */
export const SEALED_COLUMNS: ReadonlyArray<{ table: string; id: string; column: string; version?: string }> =
  Object.freeze([{ table: 'connections', id: 'id', column: 'secret_sealed', version: 'secret_version' }]);

/** Where a generated key goes when the current one comes from the environment. */
export const ENV_MODE_NEW_KEY_FILE = 'new-secret.key';

export interface RotateKeyOptions {
  store: { db: Kysely<Database>; dialect: DialectName };
  /** `<dataDir>/secret.key`. */
  keyFile: string;
  /** KLARNA_SPIRIS_SECRET_KEY, when set: the key then lives outside our files. */
  envKey?: string | undefined;
  /** The new key; generated when absent. */
  newKey?: Buffer;
  /** Crash points, for tests: throwing here leaves the files as a crash would. */
  hooks?: { afterCommit?: () => void; afterBackup?: () => void };
}

export interface RotateKeyResult {
  mode: 'file' | 'env';
  /** True when this run only finished an earlier, interrupted rotation. */
  resumed: boolean;
  resealed: number;
  /** Short one-way digests, so the user can tell keys apart without seeing them. */
  oldKeyFingerprint: string | null;
  newKeyFingerprint: string;
  /** File holding the new key, when one was written. */
  newKeyFile: string | null;
  nextSteps: string[];
}

export class KeyRotationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KeyRotationError';
  }
}

export function keyFingerprint(key: Buffer): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 12);
}

export async function rotateSecretKey(opts: RotateKeyOptions): Promise<RotateKeyResult> {
  return opts.envKey ? rotateEnvKey(opts, opts.envKey) : rotateKeyFile(opts);
}

// ---- key in a file ---------------------------------------------------------------------

async function rotateKeyFile(opts: RotateKeyOptions): Promise<RotateKeyResult> {
  const files = rotationFiles(opts.keyFile);
  if (existsSync(files.next) || existsSync(files.previous)) return resumeKeyFile(opts);
  if (!existsSync(opts.keyFile)) {
    throw new KeyRotationError(
      `There is no key file at ${opts.keyFile} and KLARNA_SPIRIS_SECRET_KEY is not set: nothing to rotate.`,
    );
  }
  const oldKey = parseSecretKey(readFileSync(opts.keyFile, 'utf8'));
  const newKey = opts.newKey ?? randomBytes(32);
  if (newKey.equals(oldKey)) throw new KeyRotationError('The new key is the same as the current one.');

  writeKeyFile(files.next, newKey);
  let resealed: number;
  try {
    resealed = await resealAll(opts.store, [oldKey], newKey);
  } catch (err) {
    // The transaction rolled back: the database still uses the old key, so the new one is of no use.
    unlinkSync(files.next);
    throw err;
  }
  opts.hooks?.afterCommit?.();
  copyFileSync(opts.keyFile, files.previous, fsConstants.COPYFILE_EXCL);
  chmodSync(files.previous, 0o600);
  opts.hooks?.afterBackup?.();
  renameSync(files.next, opts.keyFile);
  syncDirectory(opts.keyFile);
  await verifyAll(opts.store.db, readKey(opts.keyFile));
  unlinkSync(files.previous);
  syncDirectory(opts.keyFile);
  return {
    mode: 'file',
    resumed: false,
    resealed,
    oldKeyFingerprint: keyFingerprint(oldKey),
    newKeyFingerprint: keyFingerprint(newKey),
    newKeyFile: opts.keyFile,
    nextSteps: [
      'Restart the service and any other running klarna-spiris process: they still hold the old key.',
      'Database backups taken before now need the old key; keep one copy of it with those backups if you must restore them.',
    ],
  };
}

/** Finishes an interrupted rotation: installs the key file that opens every stored secret. */
async function resumeKeyFile(opts: RotateKeyOptions): Promise<RotateKeyResult> {
  const files = rotationFiles(opts.keyFile);
  const candidates: Array<{ file: string; key: Buffer }> = [];
  // Newest first: after a commit every secret opens with .new only.
  for (const file of [files.next, opts.keyFile, files.previous]) {
    if (!existsSync(file)) continue;
    try {
      candidates.push({ file, key: readKey(file) });
    } catch {
      // A half-written .new from a crash before the database was touched; not a candidate.
    }
  }
  const rows = await sealedValues(opts.store.db);
  const fits = (key: Buffer) => {
    const sealer = new AesGcmSealer(key);
    return rows.every((r) => opensWith(sealer, r.sealed));
  };
  const chosen =
    rows.length === 0
      ? (candidates.find((c) => c.file === opts.keyFile) ?? candidates[0])
      : candidates.find((c) => fits(c.key));
  if (!chosen) {
    throw new KeyRotationError(
      `None of the key files (${candidates.map((c) => c.file).join(', ') || 'none readable'}) opens every stored secret. ` +
        'Nothing was changed. Restore the key the secrets were sealed with (from a backup, or set KLARNA_SPIRIS_SECRET_KEY) and run this again.',
    );
  }
  const current = existsSync(opts.keyFile) ? safeRead(opts.keyFile) : undefined;
  if (!current?.equals(chosen.key)) {
    writeKeyFile(files.temp, chosen.key, true);
    renameSync(files.temp, opts.keyFile);
  }
  syncDirectory(opts.keyFile);
  await verifyAll(opts.store.db, readKey(opts.keyFile));
  for (const f of [files.next, files.previous, files.temp]) if (existsSync(f)) unlinkSync(f);
  syncDirectory(opts.keyFile);
  const other = candidates.find((c) => !c.key.equals(chosen.key));
  return {
    mode: 'file',
    resumed: true,
    resealed: 0,
    oldKeyFingerprint: other ? keyFingerprint(other.key) : null,
    newKeyFingerprint: keyFingerprint(chosen.key),
    newKeyFile: opts.keyFile,
    nextSteps: [
      chosen.file === files.next
        ? 'The interrupted rotation had re-encrypted everything; it is now complete.'
        : 'The interrupted rotation had not changed the stored secrets; the current key stays. Run `klarna-spiris secrets rotate-key` again to rotate.',
      'Restart the service and any other running klarna-spiris process.',
    ],
  };
}

// ---- key in the environment ------------------------------------------------------------

async function rotateEnvKey(opts: RotateKeyOptions, envKey: string): Promise<RotateKeyResult> {
  const oldKey = parseSecretKey(envKey);
  const generated = !opts.newKey;
  const newKey = opts.newKey ?? randomBytes(32);
  if (newKey.equals(oldKey)) throw new KeyRotationError('The new key is the same as the current one.');
  // A generated key must exist outside this process before the database depends on it;
  // printing it would put it in terminal scrollback and logs, so it goes to a file.
  const newKeyFile = generated ? join(dirname(opts.keyFile), ENV_MODE_NEW_KEY_FILE) : null;
  if (newKeyFile) {
    if (existsSync(newKeyFile)) {
      throw new KeyRotationError(
        `${newKeyFile} already exists from an earlier rotation. If KLARNA_SPIRIS_SECRET_KEY now holds that key, delete the file; otherwise set the variable to it first.`,
      );
    }
    writeKeyFile(newKeyFile, newKey);
  }
  let resealed: number;
  try {
    resealed = await resealAll(opts.store, [oldKey], newKey);
  } catch (err) {
    if (newKeyFile) unlinkSync(newKeyFile);
    throw err;
  }
  const fingerprint = keyFingerprint(newKey);
  return {
    mode: 'env',
    resumed: false,
    resealed,
    oldKeyFingerprint: keyFingerprint(oldKey),
    newKeyFingerprint: fingerprint,
    newKeyFile,
    nextSteps: [
      newKeyFile
        ? `Set KLARNA_SPIRIS_SECRET_KEY to the contents of ${newKeyFile} (fingerprint ${fingerprint}) wherever klarna-spiris runs, then delete that file.`
        : `Set KLARNA_SPIRIS_SECRET_KEY to the key you passed on standard input (fingerprint ${fingerprint}) wherever klarna-spiris runs.`,
      'Restart the service and every other klarna-spiris process: until they run with the new key they cannot read the stored credentials.',
      'Database backups taken before now need the old key.',
    ],
  };
}

// ---- the database ----------------------------------------------------------------------

interface SealedRow {
  table: string;
  idColumn: string;
  column: string;
  versionColumn: string | undefined;
  id: string;
  sealed: string;
  version: number | undefined;
}

async function sealedValues(db: Kysely<Database>): Promise<SealedRow[]> {
  const out: SealedRow[] = [];
  for (const c of SEALED_COLUMNS) {
    const versionSelect = c.version ? sql`, ${sql.ref(c.version)} as version` : sql``;
    const result = await sql<{ id: string; sealed: string; version?: number }>`
      select ${sql.ref(c.id)} as id, ${sql.ref(c.column)} as sealed${versionSelect}
      from ${sql.table(c.table)} where ${sql.ref(c.column)} is not null`.execute(db);
    for (const r of result.rows) {
      out.push({
        table: c.table,
        idColumn: c.id,
        column: c.column,
        versionColumn: c.version,
        id: String(r.id),
        sealed: r.sealed,
        version: r.version === undefined ? undefined : Number(r.version),
      });
    }
  }
  return out;
}

function opensWith(sealer: AesGcmSealer, sealed: string): boolean {
  try {
    sealer.open(sealed as SealedSecret);
    return true;
  } catch {
    return false;
  }
}

/**
 * Re-encrypts every sealed value in one transaction. Concurrent writers are locked out
 * for its duration, and bumping each version makes a writer that read a secret before
 * the rotation fail its compare-and-set instead of storing a value sealed with the old key.
 */
async function resealAll(
  store: { db: Kysely<Database>; dialect: DialectName },
  oldKeys: Buffer[],
  newKey: Buffer,
): Promise<number> {
  const openers = oldKeys.map((k) => new AesGcmSealer(k));
  const sealer = new AesGcmSealer(newKey);
  return store.db.transaction().execute(async (trx) => {
    for (const c of SEALED_COLUMNS) {
      if (store.dialect === 'postgres') {
        await sql`lock table ${sql.table(c.table)} in share row exclusive mode`.execute(trx);
      } else {
        // Takes SQLite's write lock now rather than at the first update.
        await sql`update ${sql.table(c.table)} set ${sql.ref(c.column)} = ${sql.ref(c.column)} where 1 = 0`.execute(
          trx,
        );
      }
    }
    const rows = await sealedValues(trx);
    for (const row of rows) {
      const opener = openers.find((o) => opensWith(o, row.sealed));
      if (!opener) {
        throw new KeyRotationError(
          `The secret of ${row.table} ${row.id} cannot be opened with the current key, so it cannot be re-encrypted. ` +
            'Nothing was changed. Re-enter that credential (or remove the connection) and rotate again.',
        );
      }
      const clear = opener.open(row.sealed as SealedSecret);
      const next = sealer.seal(clear);
      if (sealer.open(next).reveal() !== clear.reveal()) {
        throw new KeyRotationError(
          `Re-encrypting ${row.table} ${row.id} did not round-trip; nothing was changed.`,
        );
      }
      const bump = row.versionColumn
        ? sql`, ${sql.ref(row.versionColumn)} = ${sql.ref(row.versionColumn)} + 1`
        : sql``;
      const result = await sql`
        update ${sql.table(row.table)} set ${sql.ref(row.column)} = ${next}${bump}
        where ${sql.ref(row.idColumn)} = ${row.id} and ${sql.ref(row.column)} = ${row.sealed}`.execute(trx);
      if (Number(result.numAffectedRows ?? 0) !== 1) {
        throw new KeyRotationError(
          `The secret of ${row.table} ${row.id} changed while rotating; nothing was changed. Stop other klarna-spiris processes and try again.`,
        );
      }
    }
    return rows.length;
  });
}

async function verifyAll(db: Kysely<Database>, key: Buffer): Promise<void> {
  const sealer = new AesGcmSealer(key);
  const bad = (await sealedValues(db)).filter((r) => !opensWith(sealer, r.sealed));
  if (bad.length > 0) {
    throw new KeyRotationError(
      `After installing the new key, ${bad.length} secret(s) do not open with it (${bad.map((b) => `${b.table} ${b.id}`).join(', ')}). ` +
        'The previous key is kept next to the key file; run `klarna-spiris secrets rotate-key` again to recover.',
    );
  }
}

// ---- files -----------------------------------------------------------------------------

function readKey(file: string): Buffer {
  return parseSecretKey(readFileSync(file, 'utf8'));
}

function safeRead(file: string): Buffer | undefined {
  try {
    return readKey(file);
  } catch {
    return undefined;
  }
}

/** Creates the file 0600 (exclusively, unless `replace`), writes the key and syncs it to disk. */
function writeKeyFile(file: string, key: Buffer, replace = false): void {
  mkdirSync(dirname(file), { recursive: true });
  if (replace && existsSync(file)) unlinkSync(file);
  const fd = openSync(file, 'wx', 0o600);
  try {
    writeSync(fd, `${key.toString('base64')}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(file, 0o600);
  syncDirectory(file);
}

/** Makes a rename or a new file durable; not every platform can open a directory. */
function syncDirectory(file: string): void {
  let fd: number | undefined;
  try {
    fd = openSync(dirname(file), 'r');
    fsyncSync(fd);
  } catch {
    // Best effort.
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
}
