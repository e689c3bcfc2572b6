import { stockholmDate } from '../booking/calendar.ts';
import { HOME_CURRENCY } from '../booking/fx.ts';
import { type GateFailure, gateFailures } from '../booking/gates.ts';
import { type BookingMapping, bankAccountFor } from '../booking/mapping.ts';
import { type ExchangeRate, planVoucher, type VoucherPlan } from '../booking/voucher.ts';
import type { RateSource } from '../rates/rate-source.ts';
import {
  type BookingPayout,
  changePayoutState,
  payoutFacts,
  type StoredFailure,
  type StoredPlan,
  updatePayoutPlan,
} from '../store/booking.repository.ts';
import type { Store } from '../store/db.ts';
import type { ChartSnapshot } from './chart.ts';
import { canTransition, type PayoutState } from './payout-state.ts';

/** What a planning decided for one payout, before or after it was stored. */
export type PayoutVerdict =
  | { status: 'ready' | 'needs_attention' | 'skip'; plan: VoucherPlan }
  /** The lines are not (completely) loaded yet: nothing can be judged. */
  | { status: 'waiting'; reason: string };

export interface PlanContext {
  store: Pick<Store, 'db'>;
  mapping: BookingMapping;
  chart: ChartSnapshot;
  rates: RateSource;
}

/**
 * The run's rate source, asked once per currency and day; once it fails for a currency
 * (unreachable, say) the rest of the run takes that answer instead of waiting out the
 * same retries for every payout.
 */
export function runRateSource(source: RateSource): RateSource {
  const answers = new Map<string, Promise<Awaited<ReturnType<RateSource['rateFor']>>>>();
  const broken = new Map<string, unknown>();
  return {
    async rateFor(currency, date) {
      if (broken.has(currency)) throw broken.get(currency);
      const key = `${currency}:${date}`;
      let answer = answers.get(key);
      if (!answer) {
        answer = source.rateFor(currency, date);
        answers.set(key, answer);
      }
      try {
        return await answer;
      } catch (err) {
        broken.set(currency, err);
        throw err;
      }
    },
  };
}

export const WAITING_REASON =
  'The transactions of this payout are not (completely) fetched from Klarna yet. Nothing to do: the next sync fetches them again.';

/** Plans one payout from what the store holds; writes nothing. */
export async function planPayout(ctx: PlanContext, payout: BookingPayout): Promise<PayoutVerdict> {
  if (!payout.transactionsComplete || !payout.reconciliation)
    return { status: 'waiting', reason: WAITING_REASON };
  const facts = await payoutFacts(ctx.store.db, payout.id);
  const r = payout.reconciliation;
  const reconciliation = {
    ok: r.ok,
    summary: r.ok ? 'totals match the transactions' : r.problems.join('; '),
    ...(r.ok ? {} : { differences: r.checks.filter((c) => !c.ok) }),
  };

  let rate: ExchangeRate | null | undefined;
  let rateProblem: string | undefined;
  const voucherDate = stockholmDate(payout.payoutDate);
  // A currency without a bank account is blocked anyway; asking for its rate would only cost time.
  if (
    payout.currencyCode !== HOME_CURRENCY &&
    voucherDate &&
    bankAccountFor(ctx.mapping, payout.currencyCode)
  ) {
    try {
      const quote = await ctx.rates.rateFor(payout.currencyCode, voucherDate);
      rate = quote ? { ...quote, currency: payout.currencyCode } : null;
    } catch (err) {
      rate = null;
      rateProblem = `the rate source could not be asked: ${(err as Error).message}`;
    }
  }

  let plan = planVoucher({
    payout: {
      paymentReference: payout.paymentReference,
      payoutDate: payout.payoutDate,
      currencyCode: payout.currencyCode,
      merchantId: payout.merchantId,
      totals: payout.totals,
    },
    facts,
    reconciliation,
    mapping: ctx.mapping,
    chart: ctx.chart,
    ...(rate !== undefined ? { rate } : {}),
  });
  if (rateProblem && !plan.ok) {
    // The planner only knows "no rate"; say why there was none.
    const failures = plan.failures.map((f) =>
      f.code === 'NO_EXCHANGE_RATE'
        ? gateFailures.noExchangeRate(
            payout.paymentReference,
            payout.currencyCode,
            voucherDate!,
            rateProblem!,
          )
        : f,
    );
    plan = { ...plan, failures };
  }
  return { status: plan.status, plan };
}

export function formatReason(failures: readonly Pick<GateFailure, 'message' | 'action'>[]): string | null {
  if (failures.length === 0) return null;
  return failures.map((f) => `${f.message} What to do: ${f.action}`).join('\n');
}

function toStoredFailures(failures: readonly GateFailure[]): StoredFailure[] {
  return failures.map((f) => ({
    code: f.code,
    message: f.message,
    action: f.action,
    ...(f.details ? { details: f.details } : {}),
  }));
}

const TARGET: Record<PayoutVerdict['status'], PayoutState> = {
  ready: 'ready',
  needs_attention: 'needs_attention',
  skip: 'skipped',
  waiting: 'discovered',
};

/**
 * Stores a verdict: plan, failures and reason, and the state it leads to. Returns the
 * state the payout is in afterwards (unchanged when someone else moved it first).
 */
export async function applyVerdict(
  ctx: { store: Pick<Store, 'db'>; actor: string; now: () => Date },
  payout: BookingPayout,
  verdict: PayoutVerdict,
): Promise<PayoutState> {
  const target = TARGET[verdict.status];
  const plannedAt = ctx.now().toISOString();
  const stored: StoredPlan =
    verdict.status === 'waiting'
      ? { status: 'needs_attention', warnings: [], plannedAt }
      : {
          status: verdict.plan.status,
          ...(verdict.plan.draft ? { draft: verdict.plan.draft } : {}),
          warnings: verdict.plan.warnings,
          plannedAt,
        };
  const failures =
    verdict.status === 'waiting' || verdict.plan.ok ? [] : toStoredFailures(verdict.plan.failures);
  const reason =
    verdict.status === 'waiting'
      ? verdict.reason
      : verdict.status === 'skip'
        ? (failures[0]?.message ?? null)
        : formatReason(failures);
  const fiscalYearId = verdict.status === 'waiting' ? null : (verdict.plan.draft?.fiscalYearId ?? null);
  const fields = { plan: stored, failures, reason, fiscalYearId };

  if (payout.state === target) {
    await updatePayoutPlan(ctx.store.db, payout.id, payout.state, fields);
    return target;
  }
  if (!canTransition(payout.state, target)) return payout.state;
  const moved = await changePayoutState(ctx.store.db, {
    id: payout.id,
    integrationId: payout.integrationId,
    paymentReference: payout.paymentReference,
    from: payout.state,
    to: target,
    generation: payout.generation,
    set: {
      plan_json: JSON.stringify(stored),
      failures_json: failures.length > 0 ? JSON.stringify(failures) : null,
      fiscal_year_id: fiscalYearId,
    },
    reason,
    actor: ctx.actor,
    message: verdictMessage(payout, verdict, reason),
    data: {
      ...(failures.length > 0 ? { codes: failures.map((f) => f.code) } : {}),
      // A ready payout is posted without anyone looking at its plan: its event is where
      // what it was warned about stays on record.
      ...(stored.warnings.length > 0 ? { warnings: stored.warnings } : {}),
    },
  });
  return moved ? target : payout.state;
}

function verdictMessage(payout: BookingPayout, verdict: PayoutVerdict, reason: string | null): string {
  const ref = payout.paymentReference;
  switch (verdict.status) {
    case 'ready':
      return `Payout ${ref} is ready to book.${verdict.plan.warnings.map((w) => ` Note: ${w}`).join('')}`;
    case 'skip':
      return `Payout ${ref} is skipped: ${reason ?? 'nothing to book'}`;
    case 'waiting':
      return `Payout ${ref} waits for its transactions from Klarna.`;
    default:
      return `Payout ${ref} needs attention: ${reason ?? ''}`;
  }
}
