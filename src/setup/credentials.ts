import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Secret } from './secret.ts';

/** What the store holds: opaque text that cannot be mistaken for a clear secret. */
export type SealedSecret = string & { readonly __sealed: unique symbol };

/** The credential port: the only way a secret goes into or comes out of the store. */
export interface CredentialSealer {
  seal(secret: Secret): SealedSecret;
  open(sealed: SealedSecret): Secret;
}

const VERSION = 'v1';

/** AES-256-GCM with a fresh 12-byte IV per write; iv, tag and ciphertext travel together. */
export class AesGcmSealer implements CredentialSealer {
  readonly #key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('The secret key must be 32 bytes (base64 or hex of 256 bits).');
    this.#key = key;
  }
  seal(secret: Secret): SealedSecret {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv);
    const body = Buffer.concat([cipher.update(secret.reveal(), 'utf8'), cipher.final()]);
    const tag = cipher.getAuthTag();
    return `${VERSION}:${iv.toString('base64')}:${tag.toString('base64')}:${body.toString('base64')}` as SealedSecret;
  }
  open(sealed: SealedSecret): Secret {
    const [version, iv, tag, body] = sealed.split(':');
    if (version !== VERSION || !iv || !tag || body === undefined)
      throw new Error('Stored secret has an unknown format.');
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64'));
    decipher.setAuthTag(Buffer.from(tag, 'base64'));
    try {
      return new Secret(
        Buffer.concat([decipher.update(Buffer.from(body, 'base64')), decipher.final()]).toString('utf8'),
      );
    } catch {
      throw new Error(
        'A stored secret could not be decrypted: the secret key differs from the one it was saved with. ' +
          'Set KLARNA_SPIRIS_SECRET_KEY to the original key (after `secrets rotate-key`, to the new one), ' +
          'or re-enter the credential.',
      );
    }
  }
}

export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  const buf = /^[0-9a-f]{64}$/i.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64');
  if (buf.length !== 32) {
    throw new Error(
      'KLARNA_SPIRIS_SECRET_KEY must be 256 bits, base64 or hex encoded (e.g. `openssl rand -base64 32`).',
    );
  }
  return buf;
}

/** Files next to the key file that exist only while `secrets rotate-key` is running. */
export function rotationFiles(keyFile: string): { next: string; previous: string; temp: string } {
  return { next: `${keyFile}.new`, previous: `${keyFile}.old`, temp: `${keyFile}.tmp` };
}

export class InterruptedKeyRotationError extends Error {
  constructor(keyFile: string) {
    super(
      `A change of the secret key was interrupted (${keyFile}.new or ${keyFile}.old is still there), so it is not ` +
        'certain which key the stored credentials are encrypted with. Nothing is lost: run ' +
        '`klarna-spiris secrets rotate-key` to finish it, then start again.',
    );
    this.name = 'InterruptedKeyRotationError';
  }
}

/**
 * The key from the environment, or from a key file created on first start with mode
 * 0600. A key file left mid-rotation stops the start: guessing between the old and the
 * new key could seal new credentials with the one that is about to be dropped.
 */
export function loadOrCreateSecretKey(opts: { envKey?: string | undefined; keyFile: string }): Buffer {
  if (opts.envKey) return parseSecretKey(opts.envKey);
  const leftovers = rotationFiles(opts.keyFile);
  if (existsSync(leftovers.next) || existsSync(leftovers.previous)) {
    throw new InterruptedKeyRotationError(opts.keyFile);
  }
  if (existsSync(opts.keyFile)) return parseSecretKey(readFileSync(opts.keyFile, 'utf8'));
  mkdirSync(dirname(opts.keyFile), { recursive: true });
  const key = randomBytes(32);
  writeFileSync(opts.keyFile, `${key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
  chmodSync(opts.keyFile, 0o600);
  return key;
}
