import { mkdirSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type AdminHarness,
  openAdminHarness,
  SEEDED_KLARNA_KEY,
  seedIntegration,
} from '../../src/admin/admin-test-kit.ts';
import { haveBrowser, launchChromium, SHOTS } from '../support/browser.ts';

// The admin UI in a real browser: Debian's Chromium driven by playwright-core (no
// downloaded browser). One browser for the file; a fresh context per scenario.

const PASSWORD = 'ett långt och hemligt lösenord';

let h: AdminHarness;
let browser: Browser;
let base: string;

async function shot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
}

/** Fails the test on any console error, which is how a CSP violation (inline code) shows up. */
function watchConsole(page: Page): string[] {
  const errors: string[] = [];
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  page.on('pageerror', (e) => errors.push(e.message));
  return errors;
}

async function newContext(): Promise<BrowserContext> {
  return browser.newContext({ locale: 'sv-SE', viewport: { width: 1280, height: 860 } });
}

describe.skipIf(!haveBrowser)('admin UI in Chromium', () => {
  let context: BrowserContext;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    h = await openAdminHarness();
    await seedIntegration(h.app);
    await h.server.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(h.server.server.address() as AddressInfo).port}`;
    browser = await launchChromium();
    context = await newContext();
  });

  afterAll(async () => {
    await browser?.close();
    await h?.close();
  });

  it('first-run setup → login → integration list → integration page', async () => {
    const page = await context.newPage();
    const consoleErrors = watchConsole(page);

    const first = await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/setup');
    const headers = first!.headers();
    expect(headers['content-security-policy']).toContain("frame-ancestors 'none'");
    expect(headers['content-security-policy']).toContain("script-src 'self'");
    expect(headers['x-frame-options']).toBe('DENY');
    expect(headers['x-content-type-options']).toBe('nosniff');
    expect(headers['referrer-policy']).toBe('no-referrer');
    await shot(page, '01-setup');

    await page.getByLabel('Nytt lösenord').fill(PASSWORD);
    await page.getByLabel('Upprepa lösenordet').fill(PASSWORD);
    await page.getByRole('button', { name: 'Spara lösenord' }).click();
    await page.waitForURL(/\/login\?notice=afterSetup$/);
    await expect.poll(() => page.getByRole('status').textContent()).toContain('Lösenordet är sparat');
    await shot(page, '02-login');

    await page.getByLabel('Lösenord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Logga in' }).click();
    await page.waitForURL(`${base}/`);
    const row = page.getByRole('row', { name: /Butiken AB/ });
    expect(await row.textContent()).toContain('Behöver åtgärd');
    expect(await row.textContent()).toContain('klarna_test_api_…Lk9');
    expect(await page.content()).not.toContain(SEEDED_KLARNA_KEY);
    await shot(page, '03-integrations');

    // Keyboard users land on the skip link first, and it leads to the main content.
    await page.keyboard.press('Tab');
    expect(await page.locator(':focus').getAttribute('class')).toBe('skip-link');
    await page.keyboard.press('Enter');
    expect(await page.locator(':focus').getAttribute('id')).toBe('main');

    const session = (await context.cookies()).find((c) => c.name === 'ks_session');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Lax' });
    expect(await page.evaluate<string>('document.cookie')).not.toContain('ks_session');

    await page.getByRole('link', { name: 'Butiken AB' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain('Butiken AB');
    await shot(page, '04-integration-overview');

    await page
      .getByRole('navigation', { name: 'Avsnitt' })
      .getByRole('link', { name: 'Utbetalningar' })
      .click();
    await page.waitForURL(/\/payouts$/);
    const table = (await page.getByRole('table').textContent())!.replace(/[\u00a0\u202f]/g, ' ');
    expect(table).toContain('PR-1001');
    expect(table).toContain('12 345,67 kr');
    expect(table).toContain('−42,50 kr');
    await shot(page, '05-integration-payouts');

    await page.getByRole('link', { name: 'EN', exact: true }).click();
    await expect.poll(() => page.getByRole('table').textContent()).toContain('Needs attention');

    expect(consoleErrors).toEqual([]);
    await page.close();
  });

  it('refuses a form POST without the CSRF token, even from the logged-in browser', async () => {
    const res = await context.request.post(`${base}/integrations`, {
      form: { name: 'Forged' },
      maxRedirects: 0,
    });
    expect(res.status()).toBe(403);
    const withToken = await context.request.post(`${base}/integrations`, {
      form: { name: 'Forged', _csrf: 'not-the-token' },
      maxRedirects: 0,
    });
    expect(withToken.status()).toBe(403);
    const page = await context.newPage();
    await page.goto(`${base}/?lang=sv`);
    expect(await page.getByRole('row', { name: /Forged/ }).count()).toBe(0);
    await page.close();
  });

  it('shows a wrong password, then locks the address out with a clear wait', async () => {
    const fresh = await newContext();
    const page = await fresh.newPage();
    await page.goto(`${base}/login`);
    for (let attempt = 1; attempt <= 3; attempt++) {
      await page.getByLabel('Lösenord').fill(`fel lösenord nummer ${attempt}`);
      await page.getByRole('button', { name: 'Logga in' }).click();
      await expect.poll(() => page.getByRole('alert').textContent()).toBe('Fel lösenord.');
    }
    await shot(page, '06-login-wrong');
    // The right password no longer helps while the address is locked out.
    await page.getByLabel('Lösenord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Logga in' }).click();
    await expect
      .poll(() => page.getByRole('alert').textContent())
      .toBe('För många misslyckade inloggningsförsök. Vänta 15 minuter och försök igen.');
    expect(new URL(page.url()).pathname).toBe('/login');
    await shot(page, '07-login-rate-limited');
    await fresh.close();
  });
});
