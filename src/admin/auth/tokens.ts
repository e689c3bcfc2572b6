import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

// Random values with 256 bits of entropy need no slow hash: nobody can guess one, so a
// plain SHA-256 is enough to keep a copied database from handing out working tokens.

export const API_TOKEN_PREFIX = 'ks_';

export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url');
}

export function generateApiToken(): string {
  return `${API_TOKEN_PREFIX}${randomToken()}`;
}

export function sha256Hex(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** What a list shows so a user can tell tokens apart: `ks_…x7Qa`. */
export function apiTokenHint(token: string): string {
  return `${API_TOKEN_PREFIX}…${token.slice(-4)}`;
}

export function safeEqual(a: string, b: string): boolean {
  const ab = Buffer.from(a, 'utf8');
  const bb = Buffer.from(b, 'utf8');
  return ab.length === bb.length && timingSafeEqual(ab, bb);
}
