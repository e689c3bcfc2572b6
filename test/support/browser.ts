import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type Browser, chromium } from 'playwright-core';

// Debian's Chromium driven by playwright-core: no downloaded browser. Missing locally,
// the browser tests skip; missing in CI, they fail loudly rather than pass by skipping.

export const CHROMIUM = process.env.KS_CHROMIUM_PATH ?? '/usr/bin/chromium';
export const SHOTS = fileURLToPath(new URL('../../test-artifacts/screenshots/', import.meta.url));
export const haveBrowser = existsSync(CHROMIUM);

if (!haveBrowser && process.env.CI) {
  throw new Error(`Chromium not found at ${CHROMIUM}: run .ci/install-browser.sh`);
}

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-quic',
      '--no-first-run',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}
