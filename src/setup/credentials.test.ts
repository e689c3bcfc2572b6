import { randomBytes } from 'node:crypto';
import { mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { describe, expect, it } from 'vitest';
import { AesGcmSealer, loadOrCreateSecretKey, parseSecretKey } from './credentials.ts';
import { maskSecret, Secret } from './secret.ts';

const KEY = 'klarna_live_api_elZGI1B5dHBIabcdefghijklmnopqrstuvwxyzUybz0';

describe('Secret', () => {
  it('never prints the clear value through toString, JSON or inspect', () => {
    const s = new Secret(KEY);
    expect(`${s}`).toBe('klarna_live_api_…bz0');
    expect(JSON.stringify({ s })).toBe('{"s":"klarna_live_api_…bz0"}');
    expect(inspect({ s })).not.toContain('elZGI1B5');
    expect(s.reveal()).toBe(KEY);
  });

  it('masks short or foreign secrets without revealing most of them', () => {
    expect(maskSecret('abc')).toBe('…');
    expect(maskSecret('a-long-client-secret-value')).toBe('…lue');
  });
});

describe('AesGcmSealer', () => {
  it('round-trips, uses a fresh IV per write and hides the plaintext', () => {
    const sealer = new AesGcmSealer(randomBytes(32));
    const a = sealer.seal(new Secret(KEY));
    const b = sealer.seal(new Secret(KEY));
    expect(a).not.toBe(b);
    expect(a).not.toContain('elZGI1B5');
    expect(sealer.open(a).reveal()).toBe(KEY);
  });

  it('explains a wrong key instead of returning garbage', () => {
    const sealed = new AesGcmSealer(randomBytes(32)).seal(new Secret(KEY));
    expect(() => new AesGcmSealer(randomBytes(32)).open(sealed)).toThrow(/secret key differs/);
  });

  it('rejects a key that is not 256 bits', () => {
    expect(() => parseSecretKey('c2hvcnQ=')).toThrow(/256 bits/);
    expect(parseSecretKey(randomBytes(32).toString('hex'))).toHaveLength(32);
  });

  it('creates a key file readable only by its owner on first start, and reuses it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ks-key-'));
    const file = join(dir, 'nested', 'secret.key');
    const k1 = loadOrCreateSecretKey({ keyFile: file });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(loadOrCreateSecretKey({ keyFile: file }).equals(k1)).toBe(true);
  });
});
