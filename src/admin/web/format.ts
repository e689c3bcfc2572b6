// sv-SE formatting for money and time. Money arrives as integer minor units; it is
// turned into an exact decimal string (never a float) before Intl formats it.

const moneyFormats = new Map<string, Intl.NumberFormat>();

function moneyFormat(currency: string, locale: string): Intl.NumberFormat {
  const key = `${locale}:${currency}`;
  let f = moneyFormats.get(key);
  if (!f) {
    f = new Intl.NumberFormat(locale, { style: 'currency', currency });
    moneyFormats.set(key, f);
  }
  return f;
}

/** 123456 SEK → "1 234,56 kr". Exact for any integer, including beyond 2^53 as bigint. */
export function formatMoney(minor: number | bigint, currency: string, locale = 'sv-SE'): string {
  const f = moneyFormat(currency, locale);
  const digits = f.resolvedOptions().maximumFractionDigits ?? 2;
  const value = BigInt(minor);
  const negative = value < 0n;
  const abs = negative ? -value : value;
  const scale = 10n ** BigInt(digits);
  const major = abs / scale;
  const fraction = (abs % scale).toString().padStart(digits, '0');
  const decimal = `${negative ? '-' : ''}${major}${digits > 0 ? `.${fraction}` : ''}`;
  // Intl accepts a decimal string and formats it without going through a double.
  return f.format(decimal as unknown as number);
}

const TIME_ZONE = 'Europe/Stockholm';
const dateTimeFormats = new Map<string, Intl.DateTimeFormat>();

/** An ISO timestamp as "2026-11-26 14:05" in Swedish time, the way the books date things. */
export function formatDateTime(iso: string | null | undefined, locale = 'sv-SE'): string {
  if (!iso) return '—';
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) return iso;
  let f = dateTimeFormats.get(locale);
  if (!f) {
    f = new Intl.DateTimeFormat(locale === 'en' ? 'en-GB' : 'sv-SE', {
      timeZone: TIME_ZONE,
      year: 'numeric',
      month: '2-digit',
      day: '2-digit',
      hour: '2-digit',
      minute: '2-digit',
    });
    dateTimeFormats.set(locale, f);
  }
  return f.format(d);
}
