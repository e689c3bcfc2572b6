import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the Riksbank's SWEA API (exchange-rate observations), written from the
 * published API description, not from this product's client, so the two can disagree
 * the way the real service would. Serves:
 *
 *   GET /swea/v1/Observations/{seriesId}/{from}[/{to}]  → [{ date, value }] or 204
 *   GET /swea/v1/Observations/Latest/{seriesId}          → { date, value } or 204
 *
 * Series ids are `SEK{ISO}PMI` (SEK per 1 unit). Weekends never have observations, as
 * at the Riksbank; holidays are simply dates missing from the data given.
 */

export interface RiksbankObservationInput {
  date: string;
  /** A number, or a decimal string emitted verbatim as a JSON number. */
  value: number | string;
}

export interface RiksbankFault {
  status: number;
  body?: string;
  headers?: Record<string, string>;
  /** Wait this long before answering, to exercise client timeouts. */
  delayMs?: number;
}

export interface RiksbankSimulatorOptions {
  /**
   * Observations per ISO currency, e.g. { EUR: [{ date: '2026-03-31', value: 10.888 }] }.
   * Without it, a deterministic series for EUR, USD, NOK, DKK, GBP and CHF covers every
   * weekday from 2020 through 2030.
   */
  rates?: Record<string, RiksbankObservationInput[]>;
  /** When set, requests without this `Ocp-Apim-Subscription-Key` get 401. */
  subscriptionKey?: string;
  /** Observations after this date are not published yet. */
  publishedThrough?: string;
  host?: string;
  port?: number;
}

export interface RiksbankRequestLog {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
}

export interface RiksbankSimulator {
  /** API root to use as the client's base URL, e.g. http://127.0.0.1:53211/swea/v1 */
  url: string;
  requests: RiksbankRequestLog[];
  /** Queues a canned answer for the next request (one per call, first in first out). */
  fail(fault: RiksbankFault): void;
  close(): Promise<void>;
}

const BASE = '/swea/v1';
const DATE = /^\d{4}-\d{2}-\d{2}$/;
const NUMBER = /^\d+(\.\d+)?$/;

const DEFAULT_LEVELS: Record<string, number> = {
  EUR: 11.2,
  USD: 10.3,
  NOK: 0.97,
  DKK: 1.5,
  GBP: 13.1,
  CHF: 11.6,
};

type Series = (from: string, to: string) => Array<{ date: string; value: string }>;

export async function startRiksbankSimulator(
  options: RiksbankSimulatorOptions = {},
): Promise<RiksbankSimulator> {
  const series = buildSeries(options.rates);
  const requests: RiksbankRequestLog[] = [];
  const faults: RiksbankFault[] = [];

  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0] ?? '/';
    requests.push({ method: req.method ?? 'GET', path, headers: req.headers });
    const fault = faults.shift();
    if (fault) {
      const answer = () => {
        if (res.destroyed) return;
        res.writeHead(fault.status, { 'content-type': 'application/json', ...fault.headers });
        res.end(fault.body ?? '');
      };
      if (fault.delayMs) setTimeout(answer, fault.delayMs).unref();
      else answer();
      return;
    }
    handle(req, res, path, series, options);
  });

  await new Promise<void>((resolve) =>
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', resolve),
  );
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host ?? '127.0.0.1'}:${port}${BASE}`,
    requests,
    fail: (fault) => {
      faults.push(fault);
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

function handle(
  req: IncomingMessage,
  res: ServerResponse,
  path: string,
  series: Map<string, Series>,
  options: RiksbankSimulatorOptions,
): void {
  if (options.subscriptionKey && req.headers['ocp-apim-subscription-key'] !== options.subscriptionKey) {
    // The API gateway's own shape, not ProblemDetails.
    json(res, 401, { statusCode: 401, message: 'Access denied due to invalid subscription key.' });
    return;
  }
  if (req.method !== 'GET') {
    problem(res, 405, 'Method Not Allowed', `${req.method} is not supported`, path);
    return;
  }
  if (!path.startsWith(`${BASE}/`)) {
    problem(res, 404, 'Not Found', 'No such resource', path);
    return;
  }
  const parts = path
    .slice(BASE.length + 1)
    .split('/')
    .map(decodeURIComponent);
  if (parts[0] !== 'Observations') {
    problem(res, 404, 'Not Found', 'No such resource', path);
    return;
  }

  const latest = parts[1] === 'Latest';
  const seriesId = latest ? parts[2] : parts[1];
  const lookup = seriesId ? series.get(seriesId) : undefined;
  if (!seriesId || !lookup) {
    problem(res, 404, 'Not Found', `Series ${seriesId ?? ''} was not found`, path);
    return;
  }
  const cap = options.publishedThrough ?? '9999-12-31';

  if (latest) {
    if (parts.length !== 3) {
      problem(res, 404, 'Not Found', 'No such resource', path);
      return;
    }
    const all = lookup('0000-01-01', cap);
    const last = all[all.length - 1];
    if (!last) noContent(res);
    else rawJson(res, observationJson(last));
    return;
  }

  const from = parts[2];
  const to = parts[3] ?? cap;
  if (parts.length > 4 || !from || !isDate(from) || !isDate(to)) {
    problem(res, 400, 'Bad Request', 'Dates must be valid and written YYYY-MM-DD', path);
    return;
  }
  if (from > to) {
    problem(res, 400, 'Bad Request', 'The from date must not be after the to date', path);
    return;
  }
  const found = lookup(from, to).filter((o) => o.date <= cap);
  if (found.length === 0) noContent(res);
  else rawJson(res, `[${found.map(observationJson).join(',')}]`);
}

function buildSeries(rates: RiksbankSimulatorOptions['rates']): Map<string, Series> {
  const out = new Map<string, Series>();
  if (rates) {
    for (const [currency, list] of Object.entries(rates)) {
      const sorted = list
        .map((o) => ({ date: o.date, value: typeof o.value === 'number' ? String(o.value) : o.value }))
        .filter((o) => {
          if (!isDate(o.date) || !NUMBER.test(o.value))
            throw new Error(`bad observation for ${currency}: ${JSON.stringify(o)}`);
          return !isWeekend(o.date);
        })
        .sort((a, b) => a.date.localeCompare(b.date));
      out.set(`SEK${currency}PMI`, (from, to) => sorted.filter((o) => o.date >= from && o.date <= to));
    }
    return out;
  }
  for (const [currency, level] of Object.entries(DEFAULT_LEVELS)) {
    out.set(`SEK${currency}PMI`, (from, to) => generated(level, from, to));
  }
  return out;
}

/** A gentle, repeatable wave around `level`, four decimals, on weekdays 2020–2030. */
function generated(level: number, from: string, to: string): Array<{ date: string; value: string }> {
  const start = from < '2020-01-01' ? '2020-01-01' : from;
  const end = to > '2030-12-31' ? '2030-12-31' : to;
  const out: Array<{ date: string; value: string }> = [];
  for (let day = new Date(`${start}T00:00:00Z`); day <= new Date(`${end}T00:00:00Z`); ) {
    const date = day.toISOString().slice(0, 10);
    if (!isWeekend(date)) {
      const n = day.getTime() / 86_400_000;
      out.push({ date, value: (level * (1 + 0.03 * Math.sin(n / 17))).toFixed(4) });
    }
    day = new Date(day.getTime() + 86_400_000);
  }
  return out;
}

function isDate(text: string): boolean {
  if (!DATE.test(text)) return false;
  return new Date(`${text}T00:00:00Z`).toISOString().slice(0, 10) === text;
}

function isWeekend(date: string): boolean {
  const day = new Date(`${date}T00:00:00Z`).getUTCDay();
  return day === 0 || day === 6;
}

const observationJson = (o: { date: string; value: string }) => `{"date":"${o.date}","value":${o.value}}`;

function rawJson(res: ServerResponse, body: string): void {
  res.writeHead(200, { 'content-type': 'application/json; charset=utf-8' });
  res.end(body);
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(body));
}

function noContent(res: ServerResponse): void {
  res.writeHead(204);
  res.end();
}

function problem(res: ServerResponse, status: number, title: string, detail: string, instance: string): void {
  res.writeHead(status, { 'content-type': 'application/problem+json; charset=utf-8' });
  res.end(JSON.stringify({ type: 'about:blank', title, status, detail, instance }));
}
