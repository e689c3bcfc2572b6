/**
 * Where SEK exchange rates come from. The booking code takes a rate as data; the sync
 * asks a RateSource for it, so the Riksbank and a user's own table are interchangeable.
 */

export interface RateQuote {
  /** SEK for one unit of the currency, as an exact decimal string ("11.06705"). */
  sekPerUnit: string;
  /** The date the rate is quoted for: the latest quote on or before the date asked for. */
  date: string;
  /** Where it came from, as it should read in a voucher text ("Riksbanken SEKEURPMI"). */
  source: string;
}

export interface RateSource {
  /**
   * The rate for `currency` on `date` (`YYYY-MM-DD`): the latest quote on or before it,
   * as Swedish practice wants for weekends and holidays. Null when there is none (yet);
   * a thrown error means the source could not be asked and the question stays open.
   */
  rateFor(currency: string, date: string): Promise<RateQuote | null>;
}

/** The observation with the latest date on or before `date`, in any input order. */
export function latestOnOrBefore<T extends { date: string }>(
  observations: Iterable<T>,
  date: string,
): T | undefined {
  let best: T | undefined;
  for (const o of observations) {
    if (o.date <= date && (best === undefined || o.date > best.date)) best = o;
  }
  return best;
}

/** SEK in SEK: no lookup, no source to fail. */
export const identityQuote = (date: string): RateQuote => ({ sekPerUnit: '1', date, source: 'SEK' });
