import type { App } from '../app.ts';
import { stockholmDate } from '../booking/calendar.ts';
import { openSpirisConnection, type SpirisRuntimeOptions } from '../spiris/spiris.connection.ts';
import type { Integration } from '../store/integrations.repository.ts';
import { ChartSnapshot } from '../sync/chart.ts';

// The company's chart of accounts, read from Spiris for account names beside the
// mapping and the preview tables. Kept a few minutes per connection: the chart rarely
// changes, and a page should not cost two Spiris calls on every load.

const TTL_MS = 5 * 60_000;

export interface AccountNameLookup {
  /** Account number → name; empty when the chart could not be read. */
  names: Record<string, string>;
  /** Why there are no names (no connection, Spiris refused); null when there are. */
  problem: string | null;
}

export class AccountNames {
  readonly #app: App;
  readonly #spirisOptions: SpirisRuntimeOptions;
  readonly #cache = new Map<string, { at: number; value: Promise<AccountNameLookup> }>();

  constructor(app: App, spirisOptions: SpirisRuntimeOptions = {}) {
    this.#app = app;
    this.#spirisOptions = spirisOptions;
  }

  lookup(integration: Pick<Integration, 'spirisConnectionId'>): Promise<AccountNameLookup> {
    const id = integration.spirisConnectionId;
    if (!id) return Promise.resolve({ names: {}, problem: 'No Spiris company is connected.' });
    const hit = this.#cache.get(id);
    if (hit && Date.now() - hit.at < TTL_MS) return hit.value;
    const value = this.#load(id);
    this.#cache.set(id, { at: Date.now(), value });
    // A failure is shown once and asked again next time, not cached for minutes.
    void value.then((v) => {
      if (v.problem) this.#cache.delete(id);
    });
    return value;
  }

  async #load(connectionId: string): Promise<AccountNameLookup> {
    try {
      const { client } = await openSpirisConnection(this.#app.store, this.#app.sealer, connectionId, {
        actor: 'admin-ui',
        ...this.#spirisOptions,
      });
      const chart = await ChartSnapshot.load(client);
      const today = stockholmDate(new Date())!;
      // This year's chart, and next year's when it exists (payouts near new year).
      const nextYear = `${Number(today.slice(0, 4)) + 1}${today.slice(4)}`;
      await chart.ensureAccountsFor([today, nextYear]);
      const names = chart.accountNames();
      return {
        names,
        problem: Object.keys(names).length === 0 ? 'Spiris returned no accounts for this year.' : null,
      };
    } catch (err) {
      return { names: {}, problem: (err as Error)?.message ?? String(err) };
    }
  }

  /** After a reconnect the company may differ; its names are read afresh. */
  forget(connectionId: string | null | undefined): void {
    if (connectionId) this.#cache.delete(connectionId);
  }
}
