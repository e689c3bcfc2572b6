import { addDays, isIsoDate, stockholmDate } from '../booking/calendar.ts';
import { isPositiveDecimal, numberToDecimalString } from '../booking/decimal.ts';
import { meteredFetch } from '../http/metered-fetch.ts';
import { isJsonContentType, networkErrorCode } from '../http/network-error.ts';
import { DEFAULT_RETRY_POLICY, decideRetry, type RetryPolicy } from '../http/retry.ts';
import { sleep as defaultSleep } from '../http/sleep.ts';
import { identityQuote, latestOnOrBefore, type RateQuote, type RateSource } from './rate-source.ts';

export const RIKSBANK_BASE_URL = 'https://api.riksbank.se/swea/v1';

export interface RiksbankRateSourceOptions {
  /** SWEA API root; tests point it at the simulator. */
  baseUrl?: string;
  /** API-portal key (`Ocp-Apim-Subscription-Key`): 200 calls a minute instead of the anonymous few. */
  subscriptionKey?: string;
  /** Per request. */
  timeoutMs?: number;
  /** How far back to look for the last quote; ten days span any Swedish holiday run. */
  lookbackDays?: number;
  retryPolicy?: RetryPolicy;
  fetch?: typeof fetch;
  sleep?: (ms: number, signal?: AbortSignal) => Promise<void>;
  /** Clock, for deciding whether a date's quote can still appear. */
  now?: () => Date;
}

/** Raised when the Riksbank could not be asked or answered something unusable. */
export class RiksbankRateError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'RiksbankRateError';
  }
}

interface Observation {
  date: string;
  sekPerUnit: string;
}

/**
 * SEK rates from the Riksbank's SWEA API, series `SEK{ISO}PMI` (SEK per one unit since
 * 2023-11-27). For date D it asks for D−10 days … D and takes the latest quote on or
 * before D.
 *
 * A quote for D can still appear while D is today (rates are published 16:15 on banking
 * days), so until D is over the answer is null unless D's own quote is out: otherwise a
 * morning run would book yesterday's rate and an evening run today's. Final answers are
 * cached per (currency, date) for the life of the source.
 */
export class RiksbankRateSource implements RateSource {
  private readonly baseUrl: string;
  private readonly timeoutMs: number;
  private readonly lookbackDays: number;
  private readonly policy: RetryPolicy;
  private readonly fetchFn: typeof fetch;
  private readonly sleep: (ms: number, signal?: AbortSignal) => Promise<void>;
  private readonly now: () => Date;
  private readonly cache = new Map<string, Promise<{ quote: RateQuote | null; final: boolean }>>();

  constructor(private readonly options: RiksbankRateSourceOptions = {}) {
    this.baseUrl = (options.baseUrl ?? RIKSBANK_BASE_URL).replace(/\/+$/, '');
    this.timeoutMs = options.timeoutMs ?? 10_000;
    this.lookbackDays = options.lookbackDays ?? 10;
    this.policy = options.retryPolicy ?? DEFAULT_RETRY_POLICY;
    this.fetchFn = meteredFetch('riksbank', options.fetch ?? fetch);
    this.sleep = options.sleep ?? defaultSleep;
    this.now = options.now ?? (() => new Date());
  }

  async rateFor(currency: string, date: string): Promise<RateQuote | null> {
    const code = currency.toUpperCase();
    if (!/^[A-Z]{3}$/.test(code)) throw new RangeError(`not a currency code: ${currency}`);
    if (!isIsoDate(date)) throw new RangeError(`not a date: ${date}`);
    if (code === 'SEK') return identityQuote(date);

    const key = `${code}:${date}`;
    let pending = this.cache.get(key);
    if (!pending) {
      pending = this.lookup(code, date);
      this.cache.set(key, pending);
    }
    try {
      const result = await pending;
      if (!result.final) this.cache.delete(key);
      return result.quote;
    } catch (err) {
      this.cache.delete(key);
      throw err;
    }
  }

  private async lookup(currency: string, date: string): Promise<{ quote: RateQuote | null; final: boolean }> {
    const today = stockholmDate(this.now())!;
    if (date > today) return { quote: null, final: false };
    const seriesId = `SEK${currency}PMI`;
    const observations = await this.observations(seriesId, addDays(date, -this.lookbackDays), date);
    if (observations === null) return { quote: null, final: true };
    const best = latestOnOrBefore(observations, date);
    const final = date < today || best?.date === date;
    if (!best || !final) return { quote: null, final };
    return {
      quote: { sekPerUnit: best.sekPerUnit, date: best.date, source: `Riksbanken ${seriesId}` },
      final,
    };
  }

  /** Observations in [from, to]; [] when the range has none (204); null when the series does not exist. */
  private async observations(seriesId: string, from: string, to: string): Promise<Observation[] | null> {
    const url = `${this.baseUrl}/Observations/${encodeURIComponent(seriesId)}/${from}/${to}`;
    const headers: Record<string, string> = { accept: 'application/json' };
    if (this.options.subscriptionKey) headers['Ocp-Apim-Subscription-Key'] = this.options.subscriptionKey;

    for (let attempt = 1; ; attempt++) {
      let response: Response;
      try {
        response = await this.fetchFn(url, { headers, signal: AbortSignal.timeout(this.timeoutMs) });
      } catch (err) {
        const code = networkErrorCode(err);
        const decision = decideRetry({ attempt, method: 'GET', networkError: code }, this.policy);
        if (!decision.retry) throw new RiksbankRateError(`Riksbank ${seriesId}: ${decision.reason}`);
        await this.sleep(decision.delayMs);
        continue;
      }

      if (response.status === 204) return [];
      const body = await response.text().catch(() => '');
      if (response.ok) return parseObservations(seriesId, body);
      // An unknown series is an unknown currency: no rate, not an outage.
      if (response.status === 404) return null;

      const decision = decideRetry(
        {
          attempt,
          method: 'GET',
          status: response.status,
          headers: Object.fromEntries(response.headers),
          ...hint(body),
        },
        this.policy,
      );
      if (!decision.retry) {
        const detail = problemDetail(body, response.headers.get('content-type'));
        throw new RiksbankRateError(
          `Riksbank ${seriesId}: ${decision.reason}${detail ? ` (${detail})` : ''}`,
          response.status,
        );
      }
      await this.sleep(decision.delayMs);
    }
  }
}

function parseObservations(seriesId: string, body: string): Observation[] {
  if (body.trim() === '') return [];
  let data: unknown;
  try {
    data = JSON.parse(body);
  } catch {
    throw new RiksbankRateError(`Riksbank ${seriesId}: the answer is not JSON`);
  }
  if (!Array.isArray(data))
    throw new RiksbankRateError(`Riksbank ${seriesId}: expected a list of observations`);
  return data.map((o: unknown) => {
    const { date, value } = (o ?? {}) as { date?: unknown; value?: unknown };
    const sekPerUnit = typeof value === 'number' ? numberToDecimalString(value) : null;
    if (
      typeof date !== 'string' ||
      !isIsoDate(date.slice(0, 10)) ||
      !sekPerUnit ||
      !isPositiveDecimal(sekPerUnit)
    ) {
      throw new RiksbankRateError(`Riksbank ${seriesId}: malformed observation ${JSON.stringify(o)}`);
    }
    return { date: date.slice(0, 10), sekPerUnit };
  });
}

/** The Riksbank's 429 says "Try again in N seconds." in its body, often without Retry-After. */
function hint(body: string): { hintMs?: number } {
  const m = /try again in (\d+) seconds?/i.exec(body);
  return m ? { hintMs: Number(m[1]) * 1000 } : {};
}

function problemDetail(body: string, contentType: string | null): string | undefined {
  if (!isJsonContentType(contentType)) return body.trim().slice(0, 200) || undefined;
  try {
    const p = JSON.parse(body) as { title?: unknown; detail?: unknown; message?: unknown };
    const parts = [p.title, p.detail, p.message].filter(
      (x): x is string => typeof x === 'string' && x !== '',
    );
    return parts.join(': ') || undefined;
  } catch {
    return undefined;
  }
}
