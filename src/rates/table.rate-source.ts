import { daysBetween, isIsoDate } from '../booking/calendar.ts';
import { isPositiveDecimal, normaliseDecimal, numberToDecimalString } from '../booking/decimal.ts';
import { identityQuote, latestOnOrBefore, type RateQuote, type RateSource } from './rate-source.ts';

/** One row of a user's rate table: SEK for one unit of `currency` on `date`. */
export interface RateTableEntry {
  currency: string;
  date: string;
  /** Decimal string, SEK per 1 unit. */
  rate: string;
}

export interface TableRateSourceOptions {
  /** How the table is named in voucher texts. */
  name?: string;
  /**
   * Oldest quote still used, in days before the payout. A monthly table stays usable all
   * month; a table nobody has updated in months stops the payout instead of booking it
   * at a stale rate.
   */
  maxAgeDays?: number;
}

/** A rate table that cannot be read; the message names the line. */
export class RateTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RateTableError';
  }
}

/** Rates the user supplies (CSV or JSON): the latest on or before the date, per currency. */
export class TableRateSource implements RateSource {
  private readonly byCurrency = new Map<string, Array<{ date: string; rate: string }>>();
  private readonly name: string;
  private readonly maxAgeDays: number;

  constructor(entries: readonly RateTableEntry[], options: TableRateSourceOptions = {}) {
    this.name = options.name ?? 'egen kurstabell';
    this.maxAgeDays = options.maxAgeDays ?? 31;
    const seen = new Map<string, string>();
    entries.forEach((raw, i) => {
      const entry = checkEntry(raw, `entry ${i + 1}`);
      const key = `${entry.currency}:${entry.date}`;
      const earlier = seen.get(key);
      if (earlier !== undefined && earlier !== entry.rate) {
        throw new RateTableError(
          `entry ${i + 1}: ${entry.currency} ${entry.date} appears twice, with ${earlier} and ${entry.rate}`,
        );
      }
      if (earlier !== undefined) return;
      seen.set(key, entry.rate);
      const list = this.byCurrency.get(entry.currency) ?? [];
      list.push({ date: entry.date, rate: entry.rate });
      this.byCurrency.set(entry.currency, list);
    });
  }

  static fromCsv(text: string, options?: TableRateSourceOptions): TableRateSource {
    return new TableRateSource(parseRateTableCsv(text), options);
  }

  static fromJson(json: string | unknown, options?: TableRateSourceOptions): TableRateSource {
    return new TableRateSource(parseRateTableJson(json), options);
  }

  async rateFor(currency: string, date: string): Promise<RateQuote | null> {
    const code = currency.toUpperCase();
    if (!isIsoDate(date)) throw new RangeError(`not a date: ${date}`);
    if (code === 'SEK') return identityQuote(date);
    const best = latestOnOrBefore(this.byCurrency.get(code) ?? [], date);
    if (!best || daysBetween(best.date, date) > this.maxAgeDays) return null;
    return { sekPerUnit: best.rate, date: best.date, source: this.name };
  }
}

function checkEntry(
  raw: { currency?: unknown; date?: unknown; rate?: unknown },
  where: string,
): RateTableEntry {
  const currency = typeof raw.currency === 'string' ? raw.currency.trim().toUpperCase() : '';
  if (!/^[A-Z]{3}$/.test(currency))
    throw new RateTableError(`${where}: "${String(raw.currency)}" is not a currency code`);
  const date = typeof raw.date === 'string' ? raw.date.trim() : '';
  if (!isIsoDate(date))
    throw new RateTableError(`${where}: "${String(raw.date)}" is not a date (YYYY-MM-DD)`);
  const rate =
    typeof raw.rate === 'number'
      ? numberToDecimalString(raw.rate)
      : typeof raw.rate === 'string'
        ? raw.rate.trim()
        : null;
  if (!rate || !isPositiveDecimal(rate)) {
    throw new RateTableError(
      `${where}: "${String(raw.rate)}" is not a positive rate (SEK per 1 ${currency})`,
    );
  }
  return { currency, date, rate: normaliseDecimal(rate) };
}

const HEADER_NAMES: Record<string, 'currency' | 'date' | 'rate'> = {
  currency: 'currency',
  valuta: 'currency',
  date: 'date',
  datum: 'date',
  rate: 'rate',
  kurs: 'rate',
  sekperunit: 'rate',
};

/**
 * `currency,date,rate` lines, with or without a header naming the columns (English or
 * Swedish). Semicolon- or tab-separated files may write the rate with a decimal comma, as
 * Swedish spreadsheets export it. Blank lines and lines starting with # are skipped.
 */
export function parseRateTableCsv(text: string): RateTableEntry[] {
  // Spreadsheet exports often start with a byte-order mark.
  const lines = text
    .replace(/^\uFEFF/, '')
    .split(/\r?\n/)
    .map((line, i) => ({ line: line.trim(), number: i + 1 }))
    .filter(({ line }) => line !== '' && !line.startsWith('#'));
  if (lines.length === 0) return [];
  const first = lines[0]!.line;
  const delimiter = first.includes(';') ? ';' : first.includes('\t') ? '\t' : ',';
  const split = (line: string) =>
    line.split(delimiter).map((cell) =>
      cell
        .trim()
        .replace(/^"(.*)"$/, '$1')
        .trim(),
    );

  let columns: Record<'currency' | 'date' | 'rate', number> = { currency: 0, date: 1, rate: 2 };
  const headerCells = split(first).map((c) => HEADER_NAMES[c.toLowerCase()]);
  if (headerCells.some((c) => c !== undefined)) {
    const at = (name: 'currency' | 'date' | 'rate') => {
      const i = headerCells.indexOf(name);
      if (i < 0) throw new RateTableError(`line ${lines[0]!.number}: the header has no ${name} column`);
      return i;
    };
    columns = { currency: at('currency'), date: at('date'), rate: at('rate') };
    lines.shift();
  }

  return lines.map(({ line, number }) => {
    const cells = split(line);
    const rate = cells[columns.rate] ?? '';
    return checkEntry(
      {
        currency: cells[columns.currency],
        date: cells[columns.date],
        rate: delimiter === ',' ? rate : rate.replace(',', '.'),
      },
      `line ${number}`,
    );
  });
}

/** `[{ "currency": "EUR", "date": "2026-03-31", "rate": "11.0671" }, …]`, or that list under `rates`. */
export function parseRateTableJson(json: string | unknown): RateTableEntry[] {
  let data: unknown = json;
  if (typeof json === 'string') {
    try {
      data = JSON.parse(json);
    } catch {
      throw new RateTableError('the rate table is not valid JSON');
    }
  }
  const list = Array.isArray(data) ? data : (data as { rates?: unknown } | null)?.rates;
  if (!Array.isArray(list))
    throw new RateTableError('the rate table must be a list of { currency, date, rate }');
  return list.map((entry, i) => checkEntry((entry ?? {}) as Record<string, unknown>, `entry ${i + 1}`));
}
