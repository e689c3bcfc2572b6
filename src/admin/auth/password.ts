import { randomBytes, type ScryptOptions, scrypt, timingSafeEqual } from 'node:crypto';

export interface ScryptParams {
  /** CPU/memory cost, a power of two. */
  N: number;
  r: number;
  p: number;
  keyLength: number;
}

// N=2^15, r=8 costs ~32 MiB and ~50–100 ms per hash on one core: slow enough to make
// guessing expensive, fast enough that a login never feels slow. Parameters are stored
// with each hash, so raising them later only affects new passwords.
export const DEFAULT_SCRYPT_PARAMS: ScryptParams = { N: 2 ** 15, r: 8, p: 1, keyLength: 32 };

export const MIN_PASSWORD_LENGTH = 12;
// Bounds the work one request can ask of scrypt; no real password is this long.
export const MAX_PASSWORD_LENGTH = 1024;

function scryptAsync(password: string, salt: Buffer, params: ScryptParams): Promise<Buffer> {
  const options: ScryptOptions = {
    N: params.N,
    r: params.r,
    p: params.p,
    maxmem: 256 * params.N * params.r * params.p,
  };
  return new Promise((resolve, reject) =>
    scrypt(password.normalize('NFC'), salt, params.keyLength, options, (err, key) =>
      err ? reject(err) : resolve(key),
    ),
  );
}

/** `scrypt$N=32768,r=8,p=1$<salt b64>$<hash b64>`: everything needed to verify later. */
export async function hashPassword(
  password: string,
  params: ScryptParams = DEFAULT_SCRYPT_PARAMS,
): Promise<string> {
  const salt = randomBytes(16);
  const key = await scryptAsync(password, salt, params);
  return `scrypt$N=${params.N},r=${params.r},p=${params.p}$${salt.toString('base64')}$${key.toString('base64')}`;
}

export function parsePasswordHash(
  encoded: string,
): { params: ScryptParams; salt: Buffer; key: Buffer } | undefined {
  const m = /^scrypt\$N=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/.exec(encoded);
  if (!m) return undefined;
  const key = Buffer.from(m[5]!, 'base64');
  const params = { N: Number(m[1]), r: Number(m[2]), p: Number(m[3]), keyLength: key.length };
  if (params.N < 2 || (params.N & (params.N - 1)) !== 0 || params.keyLength < 16) return undefined;
  return { params, salt: Buffer.from(m[4]!, 'base64'), key };
}

export async function verifyPassword(password: string, encoded: string): Promise<boolean> {
  if (password.length > MAX_PASSWORD_LENGTH) return false;
  const parsed = parsePasswordHash(encoded);
  if (!parsed) return false;
  const key = await scryptAsync(password, parsed.salt, parsed.params);
  return timingSafeEqual(key, parsed.key);
}

export type PasswordProblem = 'too_short' | 'too_long' | 'mismatch';

/** Length is the rule that matters (NIST SP 800-63B); composition rules only breed "Password1!". */
export function checkNewPassword(password: string, confirmation?: string): PasswordProblem | undefined {
  if ([...password].length < MIN_PASSWORD_LENGTH) return 'too_short';
  if (password.length > MAX_PASSWORD_LENGTH) return 'too_long';
  if (confirmation !== undefined && confirmation !== password) return 'mismatch';
  return undefined;
}
