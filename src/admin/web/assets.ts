import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';

// CSS and JS are files, never inline, so the Content-Security-Policy can forbid inline
// code outright. They are read once at start and addressed by content hash, so browsers
// cache them for a year and still pick up a new version at once.

export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly hash: string;
  /** The URL pages link to: /assets/<name>?v=<hash>. */
  readonly url: string;
}

const FILES: Record<string, string> = {
  'app.css': 'text/css; charset=utf-8',
  'app.js': 'text/javascript; charset=utf-8',
  'klarna-key.js': 'text/javascript; charset=utf-8',
  'favicon.svg': 'image/svg+xml',
};

export type AssetMap = ReadonlyMap<string, Asset>;

export function loadAssets(): AssetMap {
  const out = new Map<string, Asset>();
  for (const [name, contentType] of Object.entries(FILES)) {
    const body = readFileSync(new URL(`./assets/${name}`, import.meta.url));
    const hash = createHash('sha256').update(body).digest('hex').slice(0, 12);
    out.set(name, { body, contentType, hash, url: `/assets/${name}?v=${hash}` });
  }
  return out;
}
