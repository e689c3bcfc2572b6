/**
 * Calendar dates as `YYYY-MM-DD` strings. Bookkeeping dates are Swedish calendar days,
 * so instants are read in Europe/Stockholm; plain date arithmetic runs in UTC where no
 * daylight-saving shift can move a day.
 */

export const STOCKHOLM_TIME_ZONE = 'Europe/Stockholm';

const ISO_DATE = /^(\d{4})-(\d{2})-(\d{2})$/;
const LOCAL_DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$/;

const stockholmFormat = new Intl.DateTimeFormat('en-CA', {
  timeZone: STOCKHOLM_TIME_ZONE,
  year: 'numeric',
  month: '2-digit',
  day: '2-digit',
});

/** A real calendar date in `YYYY-MM-DD` form (rejects 2026-02-30). */
export function isIsoDate(text: string): boolean {
  const m = ISO_DATE.exec(text);
  if (!m) return false;
  const d = new Date(Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])));
  return d.toISOString().slice(0, 10) === text;
}

/**
 * The Stockholm calendar day of an instant. A bare date is taken as that day; a
 * date-time without an offset is read as UTC, the zone Klarna states for payout_date.
 * Returns null for text that is not a date.
 */
export function stockholmDate(instant: string | Date): string | null {
  let at: Date;
  if (instant instanceof Date) {
    at = instant;
  } else {
    const text = instant.trim();
    if (ISO_DATE.test(text)) return isIsoDate(text) ? text : null;
    at = new Date(LOCAL_DATE_TIME.test(text) ? `${text}Z` : text);
  }
  if (Number.isNaN(at.getTime())) return null;
  const parts = Object.fromEntries(stockholmFormat.formatToParts(at).map((p) => [p.type, p.value]));
  return `${parts.year}-${parts.month}-${parts.day}`;
}

/** `date` moved by `days` calendar days. */
export function addDays(date: string, days: number): string {
  const d = new Date(`${date}T00:00:00Z`);
  d.setUTCDate(d.getUTCDate() + days);
  return d.toISOString().slice(0, 10);
}

/** Whole days from `from` to `to` (positive when `to` is later). */
export function daysBetween(from: string, to: string): number {
  return Math.round((Date.parse(`${to}T00:00:00Z`) - Date.parse(`${from}T00:00:00Z`)) / 86_400_000);
}

/** The date part of an API date or date-time (`2026-01-01T00:00:00` → `2026-01-01`). */
export function datePart(text: string): string {
  return text.trim().slice(0, 10);
}
