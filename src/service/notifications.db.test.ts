import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openTestStore, type TestStore } from '../../test/support/test-store.ts';
import { listEvents } from '../store/events.repository.ts';
import { newId } from '../store/ids.ts';
import { createIntegration, type Integration } from '../store/integrations.repository.ts';
import {
  createNotifier,
  DELIVERY_HEADER,
  deliverWebhook,
  EVENT_HEADER,
  loadNotificationConfig,
  type NotificationConfig,
  type NotificationPayload,
  type Notifier,
  SIGNATURE_HEADER,
  signWebhook,
  verifyWebhookSignature,
} from './notifications.ts';
import type { RunReport } from './scheduler.ts';

// A real webhook receiver and a real SMTP server on loopback: what arrives is checked
// the way a receiver would check it, and nothing secret may arrive or be recorded.

const WEBHOOK_SECRET = 'whsec_9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const URL_TOKEN = 'T0KEN-in-the-path-4711';
const SMTP_PASSWORD = 'p@ss w0rd!-smtp-1234';

let store: TestStore;
let receiver: Server;
let receiverUrl: string;
let smtp: SMTPServer;
let smtpPort: number;

interface Received {
  headers: Record<string, string | string[] | undefined>;
  body: string;
  payload: NotificationPayload;
  signatureOk: boolean;
}
const webhooks: Received[] = [];
/** Statuses the receiver answers with, first in first out; 200 once empty. */
const replies: number[] = [];
const mails: ParsedMail[] = [];
const logLines: string[] = [];

const logger = {
  info: (obj: object, msg?: string) => void logLines.push(JSON.stringify({ obj, msg })),
  warn: (obj: object, msg?: string) => void logLines.push(JSON.stringify({ obj, msg })),
};

function env(overrides: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    KLARNA_SPIRIS_WEBHOOK_URL: `${receiverUrl}/hooks/${URL_TOKEN}`,
    KLARNA_SPIRIS_WEBHOOK_SECRET: WEBHOOK_SECRET,
    KLARNA_SPIRIS_SMTP_URL: `smtp://mailer:${encodeURIComponent(SMTP_PASSWORD)}@127.0.0.1:${smtpPort}`,
    KLARNA_SPIRIS_NOTIFY_EMAIL_TO: 'ekonomi@example.se, revisor@example.se',
    KLARNA_SPIRIS_NOTIFY_EMAIL_FROM: 'klarna-spiris <noreply@example.se>',
    ...overrides,
  };
}

function notifier(config: NotificationConfig = loadNotificationConfig(env())): Notifier {
  return createNotifier({ db: store.db, config, logger, sleep: async () => {} });
}

function report(integration: Integration, overrides: Partial<RunReport> = {}): RunReport {
  return {
    integration: { id: integration.id, name: integration.name },
    trigger: 'schedule',
    startedAt: new Date().toISOString(),
    finishedAt: new Date().toISOString(),
    durationMs: 1200,
    outcome: 'succeeded',
    summary: { booked: 1, needsAttention: 1, skipped: 0, failed: 0 },
    consecutiveFailures: 0,
    ...overrides,
  };
}

async function payout(integration: Integration, ref: string, state: string, amount = -4250): Promise<string> {
  const id = newId();
  const now = new Date().toISOString();
  await store.db
    .insertInto('klarna_payouts')
    .values({
      id,
      integration_id: integration.id,
      merchant_id: 'K100001',
      payment_reference: ref,
      payout_date: '2026-02-20T00:00:00Z',
      currency_code: 'SEK',
      merchant_settlement_type: 'NET',
      settlement_amount: amount,
      totals_json: '{}',
      raw_json: '{}',
      transaction_count: 3,
      transactions_complete: 1,
      unknown_types_json: null,
      reconciled: 1,
      reconciliation_json: null,
      state,
      state_reason: state === 'needs_attention' ? 'Account 3001 is missing in Spiris' : null,
      voucher_id: null,
      voucher_number: null,
      fetched_at: now,
      updated_at: now,
    })
    .execute();
  return id;
}

const setState = (id: string, state: string) =>
  store.db.updateTable('klarna_payouts').set({ state }).where('id', '=', id).execute();

async function notificationEvents(integration: Integration) {
  return listEvents(store.db, { integrationId: integration.id, kindPrefix: 'notification.sent' });
}

function expectNoSecrets(text: string): void {
  for (const s of [WEBHOOK_SECRET, URL_TOKEN, SMTP_PASSWORD, encodeURIComponent(SMTP_PASSWORD)]) {
    expect(text).not.toContain(s);
  }
}

beforeAll(async () => {
  store = await openTestStore();
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      if (req.url?.includes('/hang')) return;
      const body = Buffer.concat(chunks).toString('utf8');
      const header = req.headers[SIGNATURE_HEADER.toLowerCase()] as string | undefined;
      webhooks.push({
        headers: req.headers,
        body,
        payload: JSON.parse(body) as NotificationPayload,
        signatureOk: verifyWebhookSignature({ header, body, secret: WEBHOOK_SECRET }),
      });
      res.writeHead(replies.shift() ?? 200).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}`;

  smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    logger: false,
    onAuth(auth, _session, cb) {
      if (auth.username === 'mailer' && auth.password === SMTP_PASSWORD) cb(null, { user: 'mailer' });
      else cb(new Error('Invalid username or password'));
    },
    onData(stream, _session, cb) {
      simpleParser(stream)
        .then((mail) => {
          mails.push(mail);
          cb();
        })
        .catch(cb);
    },
  });
  await new Promise<void>((resolve) => smtp.listen(0, '127.0.0.1', resolve));
  smtpPort = (smtp.server.address() as AddressInfo).port;
});

afterAll(async () => {
  receiver?.closeAllConnections();
  await new Promise((r) => receiver?.close(r));
  await new Promise<void>((r) => (smtp ? smtp.close(() => r()) : r()));
  await store?.close();
});

describe('needs-attention notifications', () => {
  it('sends new payouts needing attention once, signed, by webhook and e-mail, across runs and restarts', async () => {
    const shop = await createIntegration(store.db, { name: 'Butik <Ö> & Co' });
    const p1 = await payout(shop, 'PR-1', 'needs_attention');
    await payout(shop, 'PR-2', 'booked', 100_000);
    webhooks.length = 0;
    mails.length = 0;

    const n = notifier();
    expect(n.channels).toEqual(['webhook', 'email']);
    await n.afterRun(report(shop));

    expect(webhooks).toHaveLength(1);
    const hook = webhooks[0]!;
    expect(hook.signatureOk).toBe(true);
    expect(hook.headers['content-type']).toBe('application/json');
    expect(hook.headers[EVENT_HEADER.toLowerCase()]).toBe('needs_attention');
    expect(hook.headers[DELIVERY_HEADER.toLowerCase()]).toMatch(/^[0-9a-f-]{36}$/);
    expect(hook.headers[SIGNATURE_HEADER.toLowerCase()]).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(hook.payload).toEqual({
      event: 'needs_attention',
      integration: { id: shop.id, name: 'Butik <Ö> & Co' },
      message: expect.stringContaining('1 payout(s)'),
      payouts: [
        {
          id: p1,
          paymentReference: 'PR-1',
          payoutDate: '2026-02-20T00:00:00Z',
          currency: 'SEK',
          amount: '-42.50',
          reason: 'Account 3001 is missing in Spiris',
        },
      ],
      at: expect.stringMatching(/^\d{4}-\d{2}-\d{2}T/),
    });

    expect(mails).toHaveLength(1);
    const mail = mails[0]!;
    expect(mail.subject).toBe(
      'Klarna → Spiris: 1 utbetalning(ar) behöver åtgärd / 1 payout(s) need attention – Butik <Ö> & Co',
    );
    expect(mail.from?.text).toContain('noreply@example.se');
    expect(JSON.stringify(mail.to)).toContain('revisor@example.se');
    expect(mail.text).toContain('har inte bokförts');
    expect(mail.text).toContain('were not booked');
    expect(mail.text).toContain('PR-1  -42.50 SEK  Account 3001 is missing in Spiris');
    expect(mail.html).toContain('Butik &lt;Ö&gt; &amp; Co');
    expect(mail.html).not.toContain('<Ö>');

    // The next hourly run: nothing new, nothing sent.
    await n.afterRun(report(shop));
    expect(webhooks).toHaveLength(1);
    expect(mails).toHaveLength(1);

    // A second payout: only it is listed.
    await payout(shop, 'PR-3', 'needs_attention');
    await n.afterRun(report(shop, { outcome: 'failed', error: 'x', consecutiveFailures: 1 }));
    expect(webhooks).toHaveLength(2);
    expect(webhooks[1]!.payload.payouts!.map((p) => p.paymentReference)).toEqual(['PR-3']);

    // A restart remembers what was sent (from the events).
    const restarted = notifier();
    await restarted.afterRun(report(shop));
    expect(webhooks).toHaveLength(2);

    // Resolved, then needing attention again: that is news.
    await setState(p1, 'booked');
    await restarted.afterRun(report(shop));
    await setState(p1, 'needs_attention');
    await restarted.afterRun(report(shop));
    expect(webhooks).toHaveLength(3);
    expect(webhooks[2]!.payload.payouts!.map((p) => p.paymentReference)).toEqual(['PR-1']);
    expect(mails).toHaveLength(3);

    const events = await notificationEvents(shop);
    expect(events).toHaveLength(6);
    expect(events.map((e) => (e.data as { channel: string }).channel).sort()).toEqual([
      'email',
      'email',
      'email',
      'webhook',
      'webhook',
      'webhook',
    ]);
    expect(events[0]).toMatchObject({
      actor: 'scheduler',
      data: { outcome: 'delivered', event: 'needs_attention', target: expect.any(String) },
    });
    expectNoSecrets(JSON.stringify(events));
    expectNoSecrets(logLines.join('\n'));
  });
});

describe('failure notifications', () => {
  it('tells once after N failed runs in a row, and once when the sync recovers, across a restart', async () => {
    const shop = await createIntegration(store.db, { name: 'Failing shop' });
    webhooks.length = 0;
    mails.length = 0;
    const n = notifier();
    const failed = (k: number) =>
      report(shop, {
        outcome: 'failed',
        consecutiveFailures: k,
        error: `Spiris answered 503 (token ${WEBHOOK_SECRET})`,
      });

    await n.afterRun(failed(1));
    await n.afterRun(failed(2));
    expect(webhooks).toHaveLength(0);
    await n.afterRun(failed(3));
    expect(webhooks.map((w) => w.payload.event)).toEqual(['sync_failing']);
    expect(webhooks[0]!.payload.message).toContain('failed 3 times in a row');
    expect(webhooks[0]!.payload.message).toContain('Spiris answered 503');
    expect(webhooks[0]!.payload).not.toHaveProperty('payouts');
    expect(mails[0]!.subject).toBe('Klarna → Spiris: synken misslyckas / sync failing – Failing shop');
    expect(mails[0]!.text).toContain('misslyckats 3 gånger i rad');
    expectNoSecrets(webhooks[0]!.body);
    expectNoSecrets(mails[0]!.text ?? '');

    await n.afterRun(failed(4));
    await notifier().afterRun(failed(5));
    expect(webhooks).toHaveLength(1);

    await n.afterRun(report(shop));
    expect(webhooks.map((w) => w.payload.event)).toEqual(['sync_failing', 'sync_recovered']);
    expect(mails[1]!.subject).toBe('Klarna → Spiris: synken fungerar igen / sync recovered – Failing shop');
    await n.afterRun(report(shop));
    await notifier().afterRun(report(shop));
    expect(webhooks).toHaveLength(2);

    // A threshold from the environment.
    const other = await createIntegration(store.db, { name: 'Strict shop' });
    const strict = notifier(loadNotificationConfig(env({ KLARNA_SPIRIS_NOTIFY_AFTER_FAILURES: '1' })));
    await strict.afterRun(report(other, { outcome: 'failed', consecutiveFailures: 1, error: 'boom' }));
    expect(webhooks.at(-1)!.payload).toMatchObject({ event: 'sync_failing', integration: { id: other.id } });
  });
});

describe('delivery', () => {
  it('retries a 5xx, gives up on a 4xx, records each outcome without secrets, and retries undelivered payouts next run', async () => {
    const shop = await createIntegration(store.db, { name: 'Flaky receiver' });
    await payout(shop, 'PR-9', 'needs_attention');
    webhooks.length = 0;
    const badMail = loadNotificationConfig(
      env({ KLARNA_SPIRIS_SMTP_URL: `smtp://mailer:wrong-${SMTP_PASSWORD}@127.0.0.1:${smtpPort}` }),
    );

    replies.push(404);
    await notifier(badMail).afterRun(report(shop));
    expect(webhooks).toHaveLength(1);
    let events = await notificationEvents(shop);
    expect(events.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'webhook', outcome: 'failed', status: 404, attempts: 1 }),
        expect.objectContaining({ channel: 'email', outcome: 'failed', error: expect.any(String) }),
      ]),
    );

    // Nothing was delivered, so the same payout is tried again on the next run.
    replies.push(503, 500);
    const n = notifier(badMail);
    await n.afterRun(report(shop));
    expect(webhooks).toHaveLength(4);
    expect(webhooks.slice(1).every((w) => w.signatureOk)).toBe(true);
    // Retries keep the delivery id, so a receiver can drop duplicates.
    expect(new Set(webhooks.slice(1).map((w) => w.headers[DELIVERY_HEADER.toLowerCase()])).size).toBe(1);
    events = await notificationEvents(shop);
    expect(events[0]!.data).toMatchObject({ channel: expect.any(String) });
    expect(events.map((e) => e.data)).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ channel: 'webhook', outcome: 'delivered', status: 200, attempts: 3 }),
      ]),
    );
    await n.afterRun(report(shop));
    expect(webhooks).toHaveLength(4);

    expectNoSecrets(JSON.stringify(events));
    expectNoSecrets(logLines.join('\n'));
    expect(JSON.stringify(events)).not.toContain('wrong-');
  });

  it('times out a receiver that never answers', async () => {
    const config = loadNotificationConfig(env({ KLARNA_SPIRIS_WEBHOOK_URL: `${receiverUrl}/hang` }));
    const result = await deliverWebhook(
      { ...config.webhook!, timeoutMs: 100, retries: 0 },
      { event: 'sync_recovered', integration: { id: 'i', name: 'n' }, message: 'm', at: 'now' },
    );
    expect(result).toEqual({ ok: false, attempts: 1, error: 'timed out after 100 ms' });
  });
});

describe('webhook signatures', () => {
  const body = '{"event":"needs_attention"}';
  const now = 1_767_225_600;

  it('verifies a signed body and refuses anything altered, stale or signed with another secret', () => {
    const header = signWebhook(body, WEBHOOK_SECRET, now);
    expect(verifyWebhookSignature({ header, body, secret: WEBHOOK_SECRET, now })).toBe(true);
    expect(
      verifyWebhookSignature({ header, body: Buffer.from(body), secret: WEBHOOK_SECRET, now: now + 299 }),
    ).toBe(true);
    expect(verifyWebhookSignature({ header, body: `${body} `, secret: WEBHOOK_SECRET, now })).toBe(false);
    expect(verifyWebhookSignature({ header, body, secret: 'another-secret', now })).toBe(false);
    expect(verifyWebhookSignature({ header, body, secret: WEBHOOK_SECRET, now: now + 301 })).toBe(false);
    expect(verifyWebhookSignature({ header: undefined, body, secret: WEBHOOK_SECRET, now })).toBe(false);
    expect(verifyWebhookSignature({ header: 'garbage', body, secret: WEBHOOK_SECRET, now })).toBe(false);
    // During a secret rotation a sender may add a second v1; one match is enough.
    const old = signWebhook(body, 'old-secret', now).split(',')[1]!;
    expect(verifyWebhookSignature({ header: `${header},${old}`, body, secret: 'old-secret', now })).toBe(
      true,
    );
  });
});

describe('loadNotificationConfig', () => {
  it('is off without settings, and names every problem without echoing the SMTP password', () => {
    expect(loadNotificationConfig({})).toEqual({ failureThreshold: 3 });
    expect(createNotifier({ db: store.db, config: { failureThreshold: 3 }, logger }).channels).toEqual([]);
    let message = '';
    try {
      loadNotificationConfig({
        KLARNA_SPIRIS_WEBHOOK_URL: 'ftp://example.se/hook',
        KLARNA_SPIRIS_SMTP_URL: `smtp://mailer:${SMTP_PASSWORD}@mail.example.se:587`,
      });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toMatch(/KLARNA_SPIRIS_WEBHOOK_URL must be an http\(s\):\/\/ URL/);
    expect(message).toMatch(/KLARNA_SPIRIS_NOTIFY_EMAIL_TO is required/);
    expect(message).not.toContain(SMTP_PASSWORD);
    expect(() => loadNotificationConfig({ KLARNA_SPIRIS_WEBHOOK_URL: 'https://example.se/hook' })).toThrow(
      /KLARNA_SPIRIS_WEBHOOK_SECRET is required/,
    );
    const config = loadNotificationConfig(env());
    expect(config.email).toMatchObject({ to: ['ekonomi@example.se', 'revisor@example.se'] });
    expect(JSON.stringify(config)).not.toContain(SMTP_PASSWORD);
    expect(JSON.stringify(config)).not.toContain(WEBHOOK_SECRET);
  });
});
