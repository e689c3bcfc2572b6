import { randomBytes } from 'node:crypto';
import { mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import pino from 'pino';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { FAST_TEST_OPTIONS, type Simulators, startSimulators } from '../../src/admin/admin-test-kit.ts';
import { type App, createApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { schedulerServeHook } from '../../src/service/scheduler.ts';
import { type RunningService, startService } from '../../src/service/serve.ts';
import { loadServiceConfig } from '../../src/service/service-config.ts';
import { lazySyncFunction } from '../../src/service/sync-runner.ts';
import { AesGcmSealer } from '../../src/setup/credentials.ts';
import { listBookingPayouts } from '../../src/store/booking.repository.ts';
import { listIntegrations } from '../../src/store/integrations.repository.ts';
import { haveBrowser, launchChromium, SHOTS } from '../support/browser.ts';
import { openTestStore, type TestStore } from '../support/test-store.ts';

// The whole setup in a real browser, as a merchant would do it, against the Klarna and
// Spiris simulators and the service as `serve` runs it (startService on port 0 with the
// scheduler, whose runNow "Sync now" uses):
//   1. log in; 2. paste a test key (live check and environment badge; stored masked);
//   3. connect Spiris through the OAuth redirect; 4. run the connection test; 5. map an
//   account and see its name; 6. preview; 7. go live: refused with the checklist for
//   the test setup, then honoured for a second integration with a live key and a
//   production company; 8. sync now and see the payouts booked with voucher numbers,
//   reverse one (with its confirmation) and book it again.

const DOCS_SHOT = fileURLToPath(new URL('../../docs/payouts.png', import.meta.url));
const PASSWORD = 'ett långt och hemligt lösenord';

let store: TestStore;
let app: App;
let service: RunningService;
let test: Simulators;
let live: Simulators;
let browser: Browser;
let context: BrowserContext;
let page: Page;
let base: string;
const consoleErrors: string[] = [];
const secrets: string[] = [];
const pages: string[] = [];

const text = async (locator: ReturnType<Page['locator']>) =>
  ((await locator.textContent()) ?? '').replace(/[\u00a0\u202f]/g, ' ');

async function shot(name: string): Promise<void> {
  await page.screenshot({ path: `${SHOTS}${name}.png`, fullPage: true });
  pages.push(await page.content());
}

async function tab(name: string): Promise<void> {
  await page.getByRole('navigation', { name: 'Avsnitt' }).getByRole('link', { name, exact: true }).click();
  await page.waitForLoadState('domcontentloaded');
}

async function createIntegration(name: string): Promise<void> {
  await page.goto(`${base}/`);
  await page.getByLabel('Namn', { exact: true }).fill(name);
  await page.getByRole('button', { name: 'Skapa integration' }).click();
  await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toContain(name);
}

async function pasteKlarnaKey(key: string, klarnaUrl: string): Promise<void> {
  await tab('Kom igång');
  const input = page.getByLabel('Klarnas API-nyckel');
  const advanced = page.locator('#klarna details.advanced');
  if (!(await advanced.evaluate((d) => (d as unknown as { open: boolean }).open))) {
    await advanced.locator('summary').click();
  }
  await page.getByLabel('API-adress (valfritt)').fill(klarnaUrl);
  await input.fill(key);
  await expect.poll(() => text(page.locator('#klarna-key-status'))).toBe('Nyckeln ser rätt ut.');
  await page.getByRole('button', { name: /Kontrollera och (spara|byt)/ }).click();
  await page.waitForURL(/notice=klarnaConnected/);
}

/** Sync now, then wait for app.js's polling to reload the page when the run is done. */
async function syncNow(progressShot?: string): Promise<boolean> {
  await tab('Körningar');
  await page.getByRole('button', { name: 'Synka nu' }).click();
  await page.waitForURL(/\/runs\?notice=syncStarted/);
  let sawProgress = false;
  await expect
    .poll(
      async () => {
        try {
          const panel = page.locator('#run-progress');
          if ((await panel.getAttribute('data-running')) === 'true') {
            if (!sawProgress && /Pågår/.test(await text(panel))) {
              sawProgress = true;
              if (progressShot) await shot(progressShot);
            }
            return 'running';
          }
          return await text(page.locator('table tbody tr').first());
        } catch {
          return 'navigating';
        }
      },
      { timeout: 60_000, interval: 200 },
    )
    .toContain('Lyckades');
  return sawProgress;
}

describe.skipIf(!haveBrowser)('the setup walk in Chromium', () => {
  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    mkdirSync(dirname(DOCS_SHOT), { recursive: true });
    [test, live, store] = await Promise.all([
      startSimulators({ environment: 'playground', seed: 31, days: 5 }),
      startSimulators({ environment: 'production', seed: 32, days: 6 }),
      openTestStore(),
    ]);
    secrets.push(
      test.merchant.credentials.apiKey,
      live.merchant.credentials.apiKey,
      test.spiris.clientSecret,
      PASSWORD,
    );
    app = await createApp(loadConfig({ KLARNA_SPIRIS_LOG_LEVEL: 'silent' }), {
      store,
      logger: pino({ level: 'silent' }),
      sealer: new AesGcmSealer(randomBytes(32)),
    });
    // The scheduler as `serve` wires it, but without runs of its own during the walk.
    const scheduler = schedulerServeHook({
      config: { intervalMinutes: 60, concurrency: 2, drainMs: 5_000 },
      sync: (a) => lazySyncFunction(a),
      firstRunDelayMs: 3_600_000,
      firstRunSpreadMs: 0,
    });
    service = await startService(
      app,
      loadServiceConfig({ KLARNA_SPIRIS_ADMIN_PASSWORD: PASSWORD }, { port: 0, host: '127.0.0.1' }),
      { hooks: [scheduler.hook], runner: scheduler.current, adminOptions: FAST_TEST_OPTIONS },
    );
    base = service.url;
    browser = await launchChromium();
    context = await browser.newContext({ locale: 'sv-SE', viewport: { width: 1280, height: 900 } });
    page = await context.newPage();
    page.on('console', (m) => {
      // A refused form answers 409/422 by design; every other console error (a CSP
      // violation above all) fails the walk.
      if (m.type() === 'error' && !/status of (409|422)/.test(m.text())) consoleErrors.push(m.text());
    });
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });

  // A failed step leaves its page behind, to look at.
  afterEach(async (ctx) => {
    if (ctx.task.result?.state !== 'fail' || !page) return;
    await page.screenshot({
      path: `${SHOTS}failed-${ctx.task.name.slice(0, 12).replace(/\W+/g, '-')}.png`,
      fullPage: true,
    });
    console.error(
      `page at failure: ${page.url()}\n${((await page.locator('main').textContent()) ?? '').slice(0, 3000)}`,
    );
  });

  afterAll(async () => {
    await browser?.close();
    await service?.close();
    await app?.close();
    await store?.close();
    await test?.close();
    await live?.close();
  });

  it('1–2. logs in and stores a pasted test key after checking it live, showing it masked', async () => {
    await page.goto(`${base}/`);
    expect(new URL(page.url()).pathname).toBe('/login');
    await page.getByLabel('Lösenord').fill(PASSWORD);
    await page.getByRole('button', { name: 'Logga in' }).click();
    await page.waitForURL(`${base}/`);

    await createIntegration('Butiken Test AB');
    await tab('Kom igång');
    const input = page.getByLabel('Klarnas API-nyckel');
    const status = page.locator('#klarna-key-status');
    const badge = page.locator('#klarna-env');
    // As the key is typed: what is wrong, in words, and the environment once the prefix shows it.
    await input.fill('K123456_abcd1234');
    await expect.poll(() => text(status)).toContain('äldre Klarna-användarnamn');
    expect(await badge.isHidden()).toBe(true);
    await input.fill('klarna_test_api_abc');
    await expect.poll(() => text(status)).toContain('ofullständig');
    await expect.poll(() => text(badge)).toBe('Playground (test)');
    expect(await input.getAttribute('aria-invalid')).toBe('true');
    const key = test.merchant.credentials.apiKey;
    await input.fill(key);
    await expect.poll(() => text(status)).toBe('Nyckeln ser rätt ut.');
    expect(await input.getAttribute('aria-invalid')).toBe('false');
    await shot('walk-01-klarna-key');

    // The server checks on submit too, whatever the browser did.
    await input.evaluate((el, v) => {
      (el as unknown as { value: string }).value = v;
    }, `"${key}"`);
    await page.getByRole('button', { name: 'Kontrollera och spara nyckeln' }).click();
    await expect.poll(() => text(page.locator('#klarna .field-error'))).toContain('citattecken');

    await pasteKlarnaKey(key, test.klarna.url);
    const facts = await text(page.locator('#klarna .current-connection'));
    expect(facts).toContain(`klarna_test_api_…${key.slice(-3)}`);
    expect(facts).toContain('Playground (test)');
    expect(await page.content()).not.toContain(key);
  });

  it('3. connects Spiris through the OAuth redirect and back to the callback', async () => {
    const oauth = page.locator('form[action$="/spiris/authorize"]');
    await oauth.getByLabel('Miljö').selectOption('sandbox');
    await oauth.getByLabel('Klient-id').fill(test.spiris.clientId);
    await oauth.getByLabel('Klienthemlighet').fill(test.spiris.clientSecret);
    await oauth.locator('summary', { hasText: 'Värdar' }).click();
    await oauth.getByLabel('Identitetsserver').fill(test.spiris.identityBaseUrl);
    await oauth.getByLabel('API-adress').fill(test.spiris.apiBaseUrl);
    expect(await text(oauth)).toContain(`${base}/oauth/spiris/callback`);
    await shot('walk-02-spiris-form');
    await oauth.getByRole('button', { name: 'Anslut Spiris' }).click();
    // Our page → Visma's authorize (the simulator approves at once) → our callback → the guide.
    await page.waitForURL(/\/setup\?notice=spirisConnected/, { timeout: 20_000 });
    expect(await text(page.getByRole('status').first())).toContain('Spiris-företaget är anslutet');
    const facts = await text(page.locator('#spiris .current-connection'));
    expect(facts).toContain('Testbolaget Nordic AB');
    expect(facts).toContain('Sandlåda');
    await shot('walk-03-setup-connected');
  });

  it('4. runs the connection test: a line per check, each with its result', async () => {
    await tab('Anslutningar');
    await page.getByRole('button', { name: 'Kör anslutningstestet' }).click();
    await page.waitForURL(/notice=tested/);
    const table = page.getByRole('table', { name: 'Kontroller i det senaste anslutningstestet' });
    expect(await table.locator('tbody tr').count()).toBeGreaterThan(8);
    expect(await table.locator('tr.check-fail').count()).toBe(0);
    expect(await text(table)).toContain('Testbolaget Nordic AB');
    await shot('walk-04-connection-test');
  });

  it('5. maps an account and shows its name from the chart', async () => {
    await tab('Kontering');
    const fee = page.getByLabel('Klarna avgifter', { exact: true });
    expect(await fee.inputValue()).toBe('6064');
    expect(await text(page.locator(`#${await fee.getAttribute('id')}-name`))).toBe('Factoringavgifter');
    await fee.fill('6570');
    // The name follows the number as it is typed (from the chart's list in the page).
    await expect.poll(() => text(page.locator('#map-accounts-fee-amount-name'))).toBe('Bankkostnader');
    await fee.fill('6571');
    await expect
      .poll(() => text(page.locator('#map-accounts-fee-amount-name')))
      .toBe('Finns inte i kontoplanen');
    await fee.fill('6570');
    await page.getByRole('button', { name: 'Spara konteringen' }).click();
    await page.waitForURL(/notice=saved/);
    expect(await page.getByLabel('Klarna avgifter', { exact: true }).inputValue()).toBe('6570');
    expect(await text(page.locator('#map-accounts-fee-amount-name'))).toBe('Bankkostnader');
    await shot('walk-05-mapping');
  });

  it('6. previews the next vouchers as debit/credit tables, with the gate result', async () => {
    await tab('Förhandsgranska');
    await page.getByRole('button', { name: 'Förhandsgranska' }).click();
    await expect
      .poll(() => text(page.getByRole('heading', { level: 2 }).nth(1)))
      .toMatch(/5 utbetalningar: 5 redo, 0 stoppade/);
    const voucher = page.locator('table.voucher').first();
    const body = await text(voucher);
    expect(body).toContain('Bankkostnader');
    expect(body).toContain('Företagskonto/checkkonto/affärskonto');
    expect(body).toMatch(/\d+,\d{2} kr/);
    expect(test.spiris.vouchers).toHaveLength(0);
    await shot('walk-06-preview');
  });

  it('7a. refuses live for the test setup and shows the checklist with what to fix', async () => {
    await tab('Gå live');
    await page.getByRole('button', { name: 'Byt till test' }).click();
    await page.waitForURL(/notice=mode-test/);
    await page.getByRole('button', { name: 'Gå live' }).click();
    await expect.poll(() => text(page.getByRole('alert'))).toContain('gick inte live');
    const failing = await page
      .locator('.checklist li.check-fail')
      .evaluateAll((els) => els.map((e) => (e as unknown as { dataset: { check?: string } }).dataset.check));
    expect(failing).toEqual(expect.arrayContaining(['klarna_live_key', 'spiris_production', 'confirmation']));
    expect(await text(page.locator('[data-check="klarna_live_key"]'))).toContain('Åtgärd:');
    expect(await text(page.getByRole('heading', { level: 1 }))).toContain('Test');
    await shot('walk-07-go-live-refused');
  });

  it('8a. syncs now into the sandbox, shows the vouchers, reverses one after confirming, books it again', async () => {
    await syncNow();
    await tab('Utbetalningar');
    const rows = page.locator('table.payouts tbody tr');
    expect(await rows.count()).toBe(5);
    for (const row of await rows.all()) {
      expect(await text(row)).toContain('Bokförd');
      expect(await text(row.locator('.voucher-number'))).toMatch(/\S/);
    }
    const first = rows.first();
    const reference = (await first.getAttribute('data-reference'))!;
    const voucher = await text(first.locator('.voucher-number'));
    await first.getByRole('link', { name: /Vänd/ }).click();
    await expect.poll(() => text(page.getByRole('heading', { level: 2 }).first())).toContain(reference);
    await shot('walk-08-reverse-confirm');
    await page.getByRole('button', { name: 'Bokför rättelseverifikation' }).click();
    // Without the box ticked the browser refuses to send; the server would refuse too.
    expect(new URL(page.url()).pathname).toMatch(/\/reverse$/);
    await page.getByLabel('Jag förstår att en rättelseverifikation bokförs i Spiris').check();
    await page.getByRole('button', { name: 'Bokför rättelseverifikation' }).click();
    await page.waitForURL(/notice=reversed/);
    const again = page.locator(`tr[data-reference="${reference}"]`);
    expect(await text(again)).toContain('Redo');
    await again.getByRole('button', { name: /Försök igen/ }).click();
    await page.waitForURL(/notice=retried/);
    const rebooked = page.locator(`tr[data-reference="${reference}"]`);
    expect(await text(rebooked)).toContain('Bokförd');
    expect(await text(rebooked.locator('.voucher-number'))).not.toBe(voucher);
    await shot('walk-09-payouts-test');
  });

  it('7b–8b. goes live with a live key and a production company once the gate passes, and books', async () => {
    await createIntegration('Butiken AB');
    await pasteKlarnaKey(live.merchant.credentials.apiKey, live.klarna.url);
    expect(await text(page.locator('#klarna .current-connection'))).toContain('Produktion');

    // Issued credentials this time, with the production host preset pointed at the simulator.
    const issued = live.spiris.issueTokens();
    secrets.push(issued.refreshToken, issued.accessToken);
    await page.locator('#spiris summary', { hasText: 'Har du fått färdiga uppgifter' }).click();
    const form = page.locator('form[action$="/spiris/issued"]');
    await form.getByLabel('Miljö').selectOption('production');
    await form.getByLabel('Klient-id').fill(live.spiris.clientId);
    await form.getByLabel('Klienthemlighet').fill(live.spiris.clientSecret);
    await form.getByLabel('Refresh-token').fill(issued.refreshToken);
    await form.getByLabel('Organisationsnummer (valfritt)').fill('556677-8899');
    await form.locator('summary', { hasText: 'Värdar' }).click();
    await form.getByLabel('Identitetsserver').fill(live.spiris.identityBaseUrl);
    await form.getByLabel('API-adress').fill(live.spiris.apiBaseUrl);
    await form.getByRole('button', { name: 'Kontrollera och spara' }).click();
    await page.waitForURL(/notice=spirisConnected/);
    expect(await text(page.locator('#spiris .current-connection'))).toContain('Produktion');

    await tab('Anslutningar');
    await page.getByRole('button', { name: 'Kör anslutningstestet' }).click();
    await page.waitForURL(/notice=tested/);
    await tab('Förhandsgranska');
    await page.getByRole('button', { name: 'Förhandsgranska' }).click();
    await expect.poll(() => text(page.locator('.gate-line'))).toContain('OK');

    await tab('Gå live');
    expect(await page.locator('.checklist li.check-fail').count()).toBe(0);
    await page.getByRole('button', { name: 'Gå live' }).click();
    await expect.poll(() => text(page.getByRole('alert'))).toContain('gick inte live');
    expect(
      await page
        .locator('.checklist li.check-fail')
        .evaluateAll((els) =>
          els.map((e) => (e as unknown as { dataset: { check?: string } }).dataset.check),
        ),
    ).toEqual(['confirmation']);
    await page
      .getByLabel('Jag bekräftar att verifikationer ska bokföras i företagets riktiga böcker')
      .check();
    await page.getByRole('button', { name: 'Gå live' }).click();
    await page.waitForURL(/notice=mode-live/);
    expect(await text(page.getByRole('heading', { level: 1 }))).toContain('Live');
    await shot('walk-10-live');

    // Spiris answers slowly, as on a long catch-up: the page shows the run's progress,
    // polled every 2 s, and reloads by itself when the run is done.
    live.spiris.injectFault({
      kind: 'slow',
      times: 6,
      delayMs: 800,
      method: 'POST',
      pathIncludes: '/vouchers',
    });
    expect(await syncNow('walk-10b-sync-progress')).toBe(true);
    await tab('Utbetalningar');
    const rows = page.locator('table.payouts tbody tr');
    expect(await rows.count()).toBe(6);
    expect(await text(page.locator('table.payouts'))).not.toContain('Redo');
    expect(live.spiris.vouchers.length).toBe(6);
    await shot('walk-11-payouts-live');
    // The picture in the README: the payouts page of a live integration. It is committed,
    // so it is rewritten only when asked (KS_UPDATE_DOCS=1), not by every test run.
    const target = process.env.KS_UPDATE_DOCS === '1' ? DOCS_SHOT : `${SHOTS}payouts.png`;
    await page.screenshot({ path: target, fullPage: true });
    expect(statSync(target).size).toBeLessThan(300_000);
  });

  it('lists both integrations with their health, and kept every secret out of every page', async () => {
    await page.goto(`${base}/`);
    const rows = page.getByRole('table', { name: 'Integrationer och deras status' }).locator('tbody tr');
    expect(await rows.count()).toBe(2);
    expect(await text(page.getByRole('row', { name: /Butiken AB/ }))).toContain('Live');
    await shot('walk-12-integrations');
    for (const html of pages) for (const s of secrets) expect(html).not.toContain(s);
    const [integration] = (await listIntegrations(store.db)).filter((i) => i.name === 'Butiken AB');
    const booked = await listBookingPayouts(store.db, { integrationId: integration!.id, states: ['booked'] });
    expect(booked).toHaveLength(6);
    expect(consoleErrors).toEqual([]);
  });
});
