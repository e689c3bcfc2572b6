import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { Kysely } from 'kysely';
import nodemailer from 'nodemailer';
import { Counter } from 'prom-client';
import { z } from 'zod';
import { parseEnv } from '../config.ts';
import { Secret } from '../setup/secret.ts';
import { listEvents, recordEvent } from '../store/events.repository.ts';
import type { Database } from '../store/schema.ts';
import { PREFIX, processRegistry } from './metrics.ts';
import type { RunReport } from './scheduler.ts';

// Tells a person when the books need them: payouts that newly need attention, or a sync
// that keeps failing (and, once it works again, that it recovered). Channels are a signed
// webhook and e-mail over SMTP.
//
// Configuration is global, from the environment, for every integration alike: the
// integration settings schema has no `notifications` key yet. A per-integration override
// would be a new optional key there, read in `createNotifier` before the global one.
//
// Every attempt is recorded as a `notification.sent` event (channel, outcome; never a
// secret, never the webhook URL's path, which often is a credential itself). Those events
// also carry what was notified, so a restart does not notify the same payouts again.

export type NotificationEvent = 'needs_attention' | 'sync_failing' | 'sync_recovered';

export interface NotifiedPayout {
  id: string;
  paymentReference: string;
  payoutDate: string;
  currency: string;
  /** Decimal string in the currency's unit, e.g. "1234.50". */
  amount: string;
  reason: string | null;
}

/** The JSON body of a webhook call. */
export interface NotificationPayload {
  event: NotificationEvent;
  integration: { id: string; name: string };
  /** English, one paragraph; the e-mail carries Swedish and English. */
  message: string;
  payouts?: NotifiedPayout[];
  at: string;
}

export interface WebhookConfig {
  url: string;
  secret: Secret;
  /** Per attempt; default 10 s. */
  timeoutMs: number;
  /** Attempts after the first; default 2. */
  retries: number;
}

export interface EmailConfig {
  /** smtp://user:pass@host:port or smtps://…; holds the password, hence a Secret. */
  smtpUrl: Secret;
  to: string[];
  from: string;
  /** Per connection phase; default 10 s. */
  timeoutMs: number;
}

export interface NotificationConfig {
  webhook?: WebhookConfig;
  email?: EmailConfig;
  /** Failed runs in a row before "sync failing" is sent; default 3. */
  failureThreshold: number;
}

export const SIGNATURE_HEADER = 'X-KlarnaSpiris-Signature';
export const EVENT_HEADER = 'X-KlarnaSpiris-Event';
export const DELIVERY_HEADER = 'X-KlarnaSpiris-Delivery';
export const NOTIFICATION_EVENT_KIND = 'notification.sent';
/** A webhook body lists at most this many payouts; the message says how many there are. */
export const MAX_LISTED_PAYOUTS = 50;

const notificationsTotal = new Counter({
  name: `${PREFIX}notifications_total`,
  help: 'Notifications attempted, by channel, event and outcome.',
  labelNames: ['channel', 'event', 'outcome'] as const,
  registers: [processRegistry],
});

// ---- configuration -------------------------------------------------------------------

const optional = z
  .string()
  .optional()
  .transform((v) => (v?.trim() ? v.trim() : undefined));

const NotifyEnvSchema = z.object({
  KLARNA_SPIRIS_WEBHOOK_URL: optional,
  KLARNA_SPIRIS_WEBHOOK_SECRET: optional,
  KLARNA_SPIRIS_SMTP_URL: optional,
  KLARNA_SPIRIS_NOTIFY_EMAIL_TO: optional,
  KLARNA_SPIRIS_NOTIFY_EMAIL_FROM: optional,
  KLARNA_SPIRIS_NOTIFY_AFTER_FAILURES: z.coerce.number().int().min(1).max(1000).default(3),
});

/** Reads and checks the notification settings; every problem is reported at once. */
export function loadNotificationConfig(env: NodeJS.ProcessEnv = process.env): NotificationConfig {
  const e = parseEnv(NotifyEnvSchema, env);
  const problems: string[] = [];
  let webhook: WebhookConfig | undefined;
  if (e.KLARNA_SPIRIS_WEBHOOK_URL) {
    if (!/^https?:\/\//i.test(e.KLARNA_SPIRIS_WEBHOOK_URL) || !URL.canParse(e.KLARNA_SPIRIS_WEBHOOK_URL)) {
      problems.push('KLARNA_SPIRIS_WEBHOOK_URL must be an http(s):// URL');
    } else if (!e.KLARNA_SPIRIS_WEBHOOK_SECRET) {
      problems.push(
        'KLARNA_SPIRIS_WEBHOOK_SECRET is required with KLARNA_SPIRIS_WEBHOOK_URL (calls are signed)',
      );
    } else {
      webhook = {
        url: e.KLARNA_SPIRIS_WEBHOOK_URL,
        secret: new Secret(e.KLARNA_SPIRIS_WEBHOOK_SECRET),
        timeoutMs: 10_000,
        retries: 2,
      };
    }
  } else if (e.KLARNA_SPIRIS_WEBHOOK_SECRET) {
    problems.push('KLARNA_SPIRIS_WEBHOOK_SECRET is set but KLARNA_SPIRIS_WEBHOOK_URL is not');
  }

  let email: EmailConfig | undefined;
  if (e.KLARNA_SPIRIS_SMTP_URL) {
    const smtp = e.KLARNA_SPIRIS_SMTP_URL;
    const to = (e.KLARNA_SPIRIS_NOTIFY_EMAIL_TO ?? '')
      .split(/[,;\s]+/)
      .map((s) => s.trim())
      .filter(Boolean);
    // The URL holds the password: describe what is wrong with it, never echo it.
    if (!/^smtps?:\/\//i.test(smtp) || !URL.canParse(smtp)) {
      problems.push('KLARNA_SPIRIS_SMTP_URL must look like smtp://user:pass@host:587 or smtps://…');
    } else if (to.length === 0) {
      problems.push('KLARNA_SPIRIS_NOTIFY_EMAIL_TO is required with KLARNA_SPIRIS_SMTP_URL');
    } else if (to.some((a) => !/^[^@\s]+@[^@\s]+$/.test(a))) {
      problems.push('KLARNA_SPIRIS_NOTIFY_EMAIL_TO must be e-mail addresses separated by commas');
    } else {
      const host = new URL(smtp).hostname || 'localhost';
      email = {
        smtpUrl: new Secret(smtp),
        to,
        from: e.KLARNA_SPIRIS_NOTIFY_EMAIL_FROM ?? `klarna-spiris <klarna-spiris@${host}>`,
        timeoutMs: 10_000,
      };
    }
  } else if (e.KLARNA_SPIRIS_NOTIFY_EMAIL_TO) {
    problems.push('KLARNA_SPIRIS_NOTIFY_EMAIL_TO is set but KLARNA_SPIRIS_SMTP_URL is not');
  }
  if (problems.length > 0) throw new Error(`Invalid notification settings: ${problems.join('; ')}`);
  return Object.freeze({
    ...(webhook ? { webhook } : {}),
    ...(email ? { email } : {}),
    failureThreshold: e.KLARNA_SPIRIS_NOTIFY_AFTER_FAILURES,
  });
}

// ---- webhook signature ---------------------------------------------------------------

/**
 * The signature header for a body: `t=<unix seconds>,v1=<hex HMAC-SHA256>` over the
 * string `${t}.${body}` with the shared secret.
 */
export function signWebhook(body: string, secret: string | Secret, timestampSeconds: number): string {
  const key = secret instanceof Secret ? secret.reveal() : secret;
  const mac = createHmac('sha256', key).update(`${timestampSeconds}.${body}`).digest('hex');
  return `t=${timestampSeconds},v1=${mac}`;
}

/**
 * How a receiver checks a call, in any language:
 *
 *   1. Read the header `X-KlarnaSpiris-Signature: t=1767225600,v1=5d41…`.
 *   2. Compute HMAC-SHA256 with the shared secret over `<t>.<raw request body>` (the
 *      bytes as received, before any JSON parsing) and hex-encode it.
 *   3. Compare it with each `v1` value in constant time; one match is enough.
 *   4. Reject a `t` more than a few minutes from your clock (replays).
 *
 * `X-KlarnaSpiris-Delivery` stays the same across retries of one notification, so a
 * receiver can drop duplicates.
 */
export function verifyWebhookSignature(input: {
  header: string | undefined | null;
  body: string | Buffer;
  secret: string;
  /** Allowed clock difference; default 300 s. */
  toleranceSeconds?: number;
  /** Unix seconds; default now. */
  now?: number;
}): boolean {
  if (!input.header) return false;
  let t: number | undefined;
  const candidates: string[] = [];
  for (const part of input.header.split(',')) {
    const [k, v] = part.trim().split('=', 2);
    if (k === 't' && v && /^\d+$/.test(v)) t = Number(v);
    else if (k === 'v1' && v && /^[0-9a-f]{64}$/i.test(v)) candidates.push(v.toLowerCase());
  }
  if (t === undefined || candidates.length === 0) return false;
  const now = input.now ?? Math.floor(Date.now() / 1000);
  if (Math.abs(now - t) > (input.toleranceSeconds ?? 300)) return false;
  const body = typeof input.body === 'string' ? input.body : input.body.toString('utf8');
  const expected = Buffer.from(createHmac('sha256', input.secret).update(`${t}.${body}`).digest('hex'));
  return candidates.some((c) => timingSafeEqual(Buffer.from(c), expected));
}

// ---- delivery ------------------------------------------------------------------------

export interface DeliveryResult {
  ok: boolean;
  attempts: number;
  status?: number;
  error?: string;
}

export interface DeliveryDeps {
  fetch?: typeof fetch;
  sleep?: (ms: number) => Promise<void>;
  /** Unix milliseconds. */
  now?: () => number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
const BACKOFF_MS = [1_000, 5_000, 15_000];

/** What may be said about a webhook target: its origin; the path is often a token. */
export function webhookTarget(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return '(invalid URL)';
  }
}

/** Removes every known secret (and the webhook URL's path) from a message. */
function scrub(message: string, config: NotificationConfig): string {
  let out = message;
  const secrets: string[] = [];
  if (config.webhook) {
    secrets.push(config.webhook.secret.reveal(), config.webhook.url);
  }
  if (config.email) {
    const raw = config.email.smtpUrl.reveal();
    secrets.push(raw);
    try {
      const u = new URL(raw);
      if (u.password) secrets.push(decodeURIComponent(u.password), u.password);
    } catch {
      // An unparsable URL was refused at start.
    }
  }
  for (const s of secrets.filter((x) => x.length >= 4).sort((a, b) => b.length - a.length)) {
    out = out.split(s).join('[redacted]');
  }
  return out;
}

/**
 * POSTs the payload, signed, retrying network errors, timeouts, 429 and 5xx a few times;
 * any other status is final.
 */
export async function deliverWebhook(
  config: WebhookConfig,
  payload: NotificationPayload,
  deps: DeliveryDeps = {},
): Promise<DeliveryResult> {
  const fetchFn = deps.fetch ?? fetch;
  const sleep = deps.sleep ?? defaultSleep;
  const now = deps.now ?? Date.now;
  const body = JSON.stringify(payload);
  const delivery = randomUUID();
  let last: DeliveryResult = { ok: false, attempts: 0 };
  for (let attempt = 1; attempt <= config.retries + 1; attempt++) {
    if (attempt > 1) await sleep(BACKOFF_MS[Math.min(attempt - 2, BACKOFF_MS.length - 1)]!);
    try {
      const res = await fetchFn(config.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'klarna-spiris',
          [SIGNATURE_HEADER]: signWebhook(body, config.secret, Math.floor(now() / 1000)),
          [EVENT_HEADER]: payload.event,
          [DELIVERY_HEADER]: delivery,
        },
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(config.timeoutMs),
      });
      // Drain the body so the connection can be reused; its content is of no interest.
      await res.arrayBuffer().catch(() => undefined);
      if (res.status >= 200 && res.status < 300) return { ok: true, attempts: attempt, status: res.status };
      last = { ok: false, attempts: attempt, status: res.status, error: `HTTP ${res.status}` };
      if (res.status !== 429 && res.status < 500) return last;
    } catch (err) {
      const e = err as Error;
      const timedOut = e.name === 'TimeoutError' || e.name === 'AbortError';
      const cause = (e as { cause?: { code?: string } }).cause?.code;
      last = {
        ok: false,
        attempts: attempt,
        error: timedOut
          ? `timed out after ${config.timeoutMs} ms`
          : `${e.message}${cause ? ` (${cause})` : ''}`,
      };
    }
  }
  return last;
}

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

/** Sends one message over a fresh SMTP connection; notifications are rare enough. */
export async function deliverEmail(config: EmailConfig, message: EmailMessage): Promise<DeliveryResult> {
  const transport = nodemailer.createTransport({
    url: config.smtpUrl.reveal(),
    connectionTimeout: config.timeoutMs,
    greetingTimeout: config.timeoutMs,
    socketTimeout: config.timeoutMs,
  });
  try {
    await transport.sendMail({
      from: config.from,
      to: config.to,
      subject: message.subject,
      text: message.text,
      html: message.html,
    });
    return { ok: true, attempts: 1 };
  } catch (err) {
    return { ok: false, attempts: 1, error: (err as Error).message };
  } finally {
    transport.close();
  }
}

// ---- messages ------------------------------------------------------------------------

function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!,
  );
}

function currencyDigits(currency: string): number {
  try {
    return (
      new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ??
      2
    );
  } catch {
    return 2;
  }
}

/** Minor units to a plain decimal string ("-12.50"), exact for any safe integer. */
export function minorToDecimal(minor: number, currency: string): string {
  const digits = currencyDigits(currency);
  const sign = minor < 0 ? '-' : '';
  const abs = Math.abs(minor);
  if (digits === 0) return `${sign}${abs}`;
  const unit = 10 ** digits;
  return `${sign}${Math.floor(abs / unit)}.${String(abs % unit).padStart(digits, '0')}`;
}

interface Composed {
  payload: NotificationPayload;
  email: EmailMessage;
}

function compose(
  event: NotificationEvent,
  integration: { id: string; name: string },
  at: string,
  details: { payouts?: NotifiedPayout[]; totalPayouts?: number; failures?: number; error?: string },
): Composed {
  const name = integration.name;
  let message: string;
  let subject: string;
  let sv: string;
  let en: string;
  if (event === 'needs_attention') {
    const n = details.totalPayouts ?? details.payouts?.length ?? 0;
    message = `${n} payout(s) of integration "${name}" need attention: they were not booked and wait for a person in the admin UI.`;
    subject = `Klarna → Spiris: ${n} utbetalning(ar) behöver åtgärd / ${n} payout(s) need attention – ${name}`;
    sv = `${n} utbetalning(ar) i integrationen "${name}" har inte bokförts och väntar på dig i administrationen.`;
    en = `${n} payout(s) of integration "${name}" were not booked and wait for you in the admin UI.`;
  } else if (event === 'sync_failing') {
    const n = details.failures ?? 0;
    message = `The sync of integration "${name}" failed ${n} times in a row. Last error: ${details.error ?? 'unknown'}`;
    subject = `Klarna → Spiris: synken misslyckas / sync failing – ${name}`;
    sv = `Synkroniseringen av "${name}" har misslyckats ${n} gånger i rad. Senaste felet: ${details.error ?? 'okänt'}`;
    en = `The sync of "${name}" failed ${n} times in a row. Last error: ${details.error ?? 'unknown'}`;
  } else {
    message = `The sync of integration "${name}" works again.`;
    subject = `Klarna → Spiris: synken fungerar igen / sync recovered – ${name}`;
    sv = `Synkroniseringen av "${name}" fungerar igen.`;
    en = `The sync of "${name}" works again.`;
  }
  const payouts = details.payouts ?? [];
  const rows = payouts.map(
    (p) =>
      `${p.payoutDate.slice(0, 10)}  ${p.paymentReference}  ${p.amount} ${p.currency}${p.reason ? `  ${p.reason}` : ''}`,
  );
  const more =
    details.totalPayouts && details.totalPayouts > payouts.length
      ? [`… +${details.totalPayouts - payouts.length}`]
      : [];
  const text = [
    sv,
    '',
    en,
    ...(rows.length ? ['', ...rows, ...more] : []),
    '',
    `— klarna-spiris, ${at}`,
  ].join('\n');
  const table = payouts.length
    ? `<table><thead><tr><th>Datum / Date</th><th>Referens / Reference</th><th>Belopp / Amount</th><th>Orsak / Reason</th></tr></thead><tbody>${payouts
        .map(
          (p) =>
            `<tr><td>${escapeHtml(p.payoutDate.slice(0, 10))}</td><td>${escapeHtml(p.paymentReference)}</td><td>${escapeHtml(`${p.amount} ${p.currency}`)}</td><td>${escapeHtml(p.reason ?? '')}</td></tr>`,
        )
        .join('')}</tbody></table>${more.length ? `<p>${escapeHtml(more[0]!)}</p>` : ''}`
    : '';
  const html = `<!doctype html><html><body><p lang="sv">${escapeHtml(sv)}</p><p lang="en">${escapeHtml(en)}</p>${table}<p><small>klarna-spiris, ${escapeHtml(at)}</small></p></body></html>`;
  return {
    payload: {
      event,
      integration: { id: integration.id, name },
      message,
      ...(event === 'needs_attention' ? { payouts } : {}),
      at,
    },
    email: { subject, text, html },
  };
}

// ---- the notifier --------------------------------------------------------------------

export interface Notifier {
  /** Channels in use, e.g. ['webhook', 'email']; empty means notifications are off. */
  readonly channels: readonly ('webhook' | 'email')[];
  /** Called after every sync run; decides whether anything is worth telling. */
  afterRun(report: RunReport): Promise<void>;
}

export interface NotifierDeps extends DeliveryDeps {
  db: Kysely<Database>;
  config: NotificationConfig;
  logger: { info(obj: object, msg?: string): void; warn(obj: object, msg?: string): void };
  /** Swaps e-mail delivery (tests); default SMTP via nodemailer. */
  sendEmail?: (config: EmailConfig, message: EmailMessage) => Promise<DeliveryResult>;
}

interface AttentionRow {
  id: string;
  payment_reference: string;
  payout_date: string;
  currency_code: string;
  settlement_amount: number;
  state_reason: string | null;
  failures_json: string | null;
}

interface Memory {
  /** Payouts needing attention that were already told about (or already seen at the last run). */
  attentionSeen: Set<string>;
  /** A "sync failing" went out and no "recovered" since. */
  failingNotified: boolean;
}

function reasonOf(row: AttentionRow): string | null {
  if (row.state_reason) return row.state_reason;
  if (!row.failures_json) return null;
  try {
    const failures = JSON.parse(row.failures_json) as Array<{ message?: string }>;
    return failures[0]?.message ?? null;
  } catch {
    return null;
  }
}

export function createNotifier(deps: NotifierDeps): Notifier {
  const { db, config, logger } = deps;
  const channels: ('webhook' | 'email')[] = [];
  if (config.webhook) channels.push('webhook');
  if (config.email) channels.push('email');
  const sendEmail = deps.sendEmail ?? deliverEmail;
  const now = deps.now ?? Date.now;
  const memory = new Map<string, Memory>();

  /** What earlier notifications covered, from the events they left; survives restarts. */
  async function remember(integrationId: string): Promise<Memory> {
    let m = memory.get(integrationId);
    if (m) return m;
    m = { attentionSeen: new Set(), failingNotified: false };
    const events = await listEvents(db, { integrationId, kindPrefix: NOTIFICATION_EVENT_KIND, limit: 100 });
    let attentionFound = false;
    let failureFound = false;
    for (const e of events) {
      const d = (e.data ?? {}) as { event?: string; outcome?: string; attentionIds?: unknown };
      if (d.outcome !== 'delivered') continue;
      if (!attentionFound && d.event === 'needs_attention' && Array.isArray(d.attentionIds)) {
        m.attentionSeen = new Set(d.attentionIds.map(String));
        attentionFound = true;
      }
      if (!failureFound && (d.event === 'sync_failing' || d.event === 'sync_recovered')) {
        m.failingNotified = d.event === 'sync_failing';
        failureFound = true;
      }
    }
    memory.set(integrationId, m);
    return m;
  }

  /** Sends on every channel; true when at least one delivered. Each attempt becomes an event. */
  async function send(composed: Composed, extra: Record<string, unknown>): Promise<boolean> {
    const { payload } = composed;
    const results = await Promise.all(
      channels.map(async (channel) => {
        let result: DeliveryResult;
        try {
          result =
            channel === 'webhook'
              ? await deliverWebhook(config.webhook!, payload, deps)
              : await sendEmail(config.email!, composed.email);
        } catch (err) {
          result = { ok: false, attempts: 1, error: (err as Error).message };
        }
        const outcome = result.ok ? 'delivered' : 'failed';
        const error = result.error ? scrub(result.error, config) : undefined;
        notificationsTotal.inc({ channel, event: payload.event, outcome });
        const target =
          channel === 'webhook' ? webhookTarget(config.webhook!.url) : config.email!.to.join(', ');
        const line = {
          integrationId: payload.integration.id,
          channel,
          event: payload.event,
          outcome,
          target,
        };
        if (result.ok) logger.info(line, 'notification sent');
        else logger.warn({ ...line, error }, 'notification failed');
        try {
          await recordEvent(db, {
            integrationId: payload.integration.id,
            actor: 'scheduler',
            kind: NOTIFICATION_EVENT_KIND,
            message:
              `${channel === 'webhook' ? 'Webhook' : 'E-mail'} notification "${payload.event}" to ${target} ` +
              (result.ok ? 'delivered' : `failed: ${error ?? 'unknown error'}`),
            data: {
              channel,
              outcome,
              event: payload.event,
              target,
              attempts: result.attempts,
              ...(result.status !== undefined ? { status: result.status } : {}),
              ...(error ? { error } : {}),
              ...extra,
            },
          });
        } catch (err) {
          logger.warn({ err: (err as Error).message }, 'could not record the notification event');
        }
        return result.ok;
      }),
    );
    return results.some(Boolean);
  }

  async function attentionPayouts(integrationId: string): Promise<AttentionRow[]> {
    return db
      .selectFrom('klarna_payouts')
      .select([
        'id',
        'payment_reference',
        'payout_date',
        'currency_code',
        'settlement_amount',
        'state_reason',
        'failures_json',
      ])
      .where('integration_id', '=', integrationId)
      .where('state', '=', 'needs_attention')
      .orderBy('payout_date')
      .orderBy('payment_reference')
      .execute();
  }

  return {
    channels,
    async afterRun(report) {
      if (channels.length === 0) return;
      const { integration } = report;
      const m = await remember(integration.id);
      const at = new Date(now()).toISOString();

      // Payouts newly needing attention, whether the run succeeded or not.
      const rows = await attentionPayouts(integration.id);
      const current = new Set(rows.map((r) => r.id));
      const fresh = rows.filter((r) => !m.attentionSeen.has(r.id));
      if (fresh.length > 0) {
        const listed = fresh.slice(0, MAX_LISTED_PAYOUTS).map(
          (r): NotifiedPayout => ({
            id: r.id,
            paymentReference: r.payment_reference,
            payoutDate: r.payout_date,
            currency: r.currency_code,
            amount: minorToDecimal(Number(r.settlement_amount), r.currency_code),
            reason: reasonOf(r),
          }),
        );
        const delivered = await send(
          compose('needs_attention', integration, at, { payouts: listed, totalPayouts: fresh.length }),
          { payoutIds: fresh.map((r) => r.id), attentionIds: [...current] },
        );
        // Undelivered payouts stay "unseen", so the next run tries again.
        m.attentionSeen = delivered ? current : new Set([...current].filter((id) => m.attentionSeen.has(id)));
      } else {
        // Dropping resolved payouts lets one that comes back be told about again.
        m.attentionSeen = current;
      }

      if (report.outcome === 'failed') {
        if (report.consecutiveFailures >= config.failureThreshold && !m.failingNotified) {
          m.failingNotified = await send(
            compose('sync_failing', integration, at, {
              failures: report.consecutiveFailures,
              ...(report.error ? { error: scrub(report.error, config) } : {}),
            }),
            { consecutiveFailures: report.consecutiveFailures },
          );
        }
      } else if (m.failingNotified) {
        await send(compose('sync_recovered', integration, at, {}), {});
        m.failingNotified = false;
      }
    },
  };
}
