import { addDays } from '../booking/calendar.ts';
import type { IntegrationSettings } from './integration-settings.ts';
import type { PayoutState } from './payout-state.ts';
import { clock, type SyncDeps } from './sync-context.ts';

/** States the planner looks at each run; needs_attention is retried by itself this way. */
export const PLANNABLE_STATES: readonly PayoutState[] = [
  'discovered',
  'ready',
  'needs_attention',
  'reversed',
];

export interface SyncWindow {
  since: string;
  until: string;
  /** Payouts dated before this day are not booked (the merchant booked them before). */
  bookFrom: string;
}

/**
 * First run: from `--since`, or the settings' catch-up day, or one window back. Later
 * runs: a trailing window that overlaps the last successful run, so a late or re-dated
 * payout is never missed; re-fetching a known payout costs one list entry.
 */
export async function syncWindow(
  deps: SyncDeps,
  integrationId: string,
  settings: IntegrationSettings,
  since: string | undefined,
): Promise<SyncWindow> {
  const now = clock(deps)();
  const until = now.toISOString().slice(0, 10);
  const last = await deps.store.db
    .selectFrom('sync_runs')
    .select(['started_at', 'summary_json'])
    .where('integration_id', '=', integrationId)
    .where('kind', '=', 'sync')
    .where('status', '=', 'succeeded')
    .orderBy('started_at', 'desc')
    .limit(1)
    .executeTakeFirst();
  const previous = last?.summary_json
    ? (JSON.parse(last.summary_json) as { bookFrom?: string; window?: { until?: string } })
    : undefined;
  const earliest = [previous?.bookFrom, since].filter((d): d is string => !!d).sort()[0];
  const bookFrom = settings.catchUpSince ?? earliest ?? addDays(until, -settings.syncWindowDays);
  // The last success covered payouts up to its own `until` (its clock, not the row's
  // timestamp), so the overlap is measured from there.
  const lastUntil = previous?.window?.until ?? last?.started_at.slice(0, 10);
  let from: string;
  if (since) from = since;
  else if (lastUntil) {
    const trailing = addDays(lastUntil, -settings.syncWindowDays);
    // ISO dates order as text; Math.max would turn them into NaN.
    from = [trailing, bookFrom].sort()[1]!;
  } else from = bookFrom;
  return { since: [from, until].sort()[0]!, until, bookFrom };
}
