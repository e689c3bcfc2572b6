import type { IntegrationActivity, RunSummary } from '../store/admin.repository.ts';
import type { Integration } from '../store/integrations.repository.ts';

export type HealthState = 'ok' | 'attention' | 'failing' | 'setup' | 'paused' | 'error';

export interface IntegrationHealth {
  state: HealthState;
  /** Why, when the state is not ok: the integration's own status reason or the failed run's error. */
  reason: string | null;
  needsAttention: number;
  lastRun: RunSummary | null;
  lastSuccessAt: string | null;
}

/**
 * One word for "is this integration fine?", most urgent first: a broken integration
 * beats payouts waiting for a person, which beat a failed run, which beats an
 * unfinished setup. The list page sorts and colours by it.
 */
export function integrationHealth(
  integration: Integration,
  activity: IntegrationActivity | undefined,
): IntegrationHealth {
  const needsAttention = activity?.payoutsByState.needs_attention ?? 0;
  const lastRun = activity?.lastRun ?? null;
  const base = { needsAttention, lastRun, lastSuccessAt: activity?.lastSuccessAt ?? null };
  if (integration.status !== 'ok')
    return { ...base, state: 'error', reason: integration.statusReason ?? integration.status };
  if (needsAttention > 0) return { ...base, state: 'attention', reason: null };
  if (lastRun?.status === 'failed') return { ...base, state: 'failing', reason: lastRun.error };
  if (!integration.klarnaConnectionId || !integration.spirisConnectionId)
    return { ...base, state: 'setup', reason: null };
  if (integration.mode === 'off') return { ...base, state: 'paused', reason: null };
  return { ...base, state: 'ok', reason: null };
}
