import { datePart } from '../booking/calendar.ts';
import type { Chart, ChartAccount, FiscalYear } from '../booking/gates.ts';
import type { SpirisClient } from '../spiris/spiris.client.ts';
import { SpirisApiError, SpirisAuthError } from '../spiris/spiris.errors.ts';

/**
 * The company's fiscal years, lock date and chart of accounts as the planner's `Chart`,
 * read from Spiris once per run: fiscal years and company settings up front, a year's
 * accounts the first time a payout dated in that year needs them.
 */
export class ChartSnapshot implements Chart {
  readonly fiscalYears: FiscalYear[];
  readonly lockedThrough: string | null;
  /** Why the lock date is unknown, when it is; Spiris then has the last word when posting. */
  readonly lockDateProblem: string | null;
  readonly #client: SpirisClient;
  readonly #accounts = new Map<string, ChartAccount[] | undefined>();
  readonly #accountProblems = new Map<string, string>();
  #requests = 0;

  private constructor(
    client: SpirisClient,
    fiscalYears: FiscalYear[],
    lockedThrough: string | null,
    lockDateProblem: string | null,
    requests: number,
  ) {
    this.#client = client;
    this.fiscalYears = fiscalYears;
    this.lockedThrough = lockedThrough;
    this.lockDateProblem = lockDateProblem;
    this.#requests = requests;
  }

  static async load(client: SpirisClient, opts: { signal?: AbortSignal } = {}): Promise<ChartSnapshot> {
    const fiscalYears: FiscalYear[] = [];
    let requests = 1;
    for await (const fy of client.listFiscalYears(opts)) {
      fiscalYears.push({
        id: fy.Id,
        startDate: datePart(fy.StartDate),
        endDate: datePart(fy.EndDate),
        isClosed: fy.IsLockedForAccounting === true,
        bookkeepingMethod: fy.BookkeepingMethod ?? null,
      });
    }
    let lockedThrough: string | null = null;
    let problem: string | null = null;
    try {
      requests += 1;
      const settings = await client.getCompanySettings(opts);
      lockedThrough = settings.AccountingLockedTo ? datePart(settings.AccountingLockedTo) : null;
    } catch (err) {
      // Company settings need a sales scope some connections lack; without the lock date
      // a payout in a locked period is still refused by Spiris (4026) and lands in
      // needs_attention with Spiris' explanation, so this is not worth stopping for.
      if (!(err instanceof SpirisAuthError)) throw err;
      problem = `The lock date could not be read from Spiris (${err.explanation?.name ?? `HTTP ${err.status}`}).`;
    }
    return new ChartSnapshot(client, fiscalYears, lockedThrough, problem, requests);
  }

  /** Spiris requests spent on the chart so far in this run. */
  get requests(): number {
    return this.#requests;
  }

  fiscalYearFor(date: string): FiscalYear | undefined {
    return this.fiscalYears.find((y) => y.startDate <= date && date <= y.endDate);
  }

  /** Reads the accounts of every year holding one of `dates` that was not read yet. */
  async ensureAccountsFor(dates: Iterable<string>, opts: { signal?: AbortSignal } = {}): Promise<void> {
    const years = new Set<string>();
    for (const d of dates) {
      const fy = this.fiscalYearFor(d);
      if (fy && !fy.isClosed && !this.#accounts.has(fy.id)) years.add(fy.id);
    }
    for (const id of years) {
      try {
        this.#requests += 1;
        const list: ChartAccount[] = [];
        for await (const a of this.#client.listAccounts(id, { ...opts, pageSize: 1000 })) {
          list.push({
            number: String(a.Number).trim(),
            name: a.Name,
            isActive: a.IsActive !== false,
            isBlockedForManualBooking: a.IsBlockedForManualBooking === true,
          });
        }
        this.#accounts.set(id, list);
      } catch (err) {
        // The planner turns a missing chart into CHART_NOT_LOADED for the payouts of this
        // year only; other years still book.
        if (!(err instanceof SpirisApiError)) throw err;
        this.#accounts.set(id, undefined);
        this.#accountProblems.set(id, err.message);
      }
    }
  }

  accounts = (fiscalYearId: string): ChartAccount[] | undefined => this.#accounts.get(fiscalYearId);

  /** Account number → name over every year read, for readable preview tables. */
  accountNames(): Record<string, string> {
    const names: Record<string, string> = {};
    for (const list of this.#accounts.values()) for (const a of list ?? []) names[a.number] ??= a.name;
    return names;
  }
}
