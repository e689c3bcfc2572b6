import type { Kysely } from 'kysely';
import { Counter, Histogram } from 'prom-client';
import { z } from 'zod';
import type { App } from '../app.ts';
import { parseEnv } from '../config.ts';
import { getIntegration, listIntegrations } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { PREFIX, processRegistry } from './metrics.ts';
import type { ServeHook } from './serve.ts';

// Runs every integration's sync on a timer inside the serve process. The sync engine
// itself is injected (SyncFunction), so this file knows nothing about Klarna or Spiris:
// it decides *when* and *how many at once*, and leaves *what* to the engine, which also
// writes sync_runs and holds a database lease per integration. The in-process guard
// here only keeps this process from asking for a second run of the same integration.

/** What one sync run reports, as counts; the engine's own result has the payouts. */
export interface SyncSummary {
  readonly booked: number;
  /** Every payout of the integration waiting for a person, not only this run's. */
  readonly needsAttention: number;
  readonly skipped: number;
  /** Payouts not settled this run for a passing reason; retried next run. */
  readonly failed: number;
  /** Set when the run stopped early (it counts as failed); what happened before stands. */
  readonly error?: string | null;
}

/** The sync engine as the scheduler sees it: throws, or reports `error`, when the run failed. */
export type SyncFunction = (input: { integrationId: string; signal: AbortSignal }) => Promise<SyncSummary>;

export type RunTrigger = 'schedule' | 'manual';

/** Handed to `onRunFinished` (notifications) after every run. */
export interface RunReport {
  readonly integration: { readonly id: string; readonly name: string };
  readonly trigger: RunTrigger;
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly durationMs: number;
  readonly outcome: 'succeeded' | 'failed';
  readonly summary?: SyncSummary;
  readonly error?: string;
  /** Failed runs in a row, newest first, read from sync_runs (0 after a success). */
  readonly consecutiveFailures: number;
}

export interface IntegrationScheduleStatus {
  id: string;
  name: string;
  mode: string;
  running: boolean;
  runningSince: string | null;
  runningTrigger: RunTrigger | null;
  /** Null while it runs, or when the integration is no longer scheduled (off, paused, removed). */
  nextRunAt: string | null;
  lastOutcome: 'succeeded' | 'failed' | null;
  lastFinishedAt: string | null;
  consecutiveFailures: number;
}

export interface RunnerStatus {
  state: 'new' | 'running' | 'stopping' | 'stopped';
  intervalMinutes: number;
  concurrency: number;
  integrations: IntegrationScheduleStatus[];
}

/**
 * The job-runner port: what the serve process, the admin "sync now" button and a
 * shutdown need from whatever runs syncs. This file has the in-process implementation;
 * a PostgreSQL-backed one (pg-boss) can implement the same four methods so several
 * serve processes share the work. Implementations must guarantee: at most one run per
 * integration at a time, a bounded number of runs overall, and that `stop` returns only
 * after running syncs finished or were aborted.
 */
export interface JobRunner {
  /** Begins scheduling; resolves after the first look at the integrations. */
  start(): Promise<void>;
  /**
   * Starts no more runs, waits up to `drainMs` for running ones, then aborts them
   * through their AbortSignal and waits a little longer for them to wind down.
   */
  stop(opts?: { drainMs?: number }): Promise<void>;
  /**
   * Runs an integration at once and resolves with its summary (a run that stopped early
   * resolves too, with `error` set); rejects with SyncAlreadyRunningError when it
   * already runs, or with the engine's error when the run could not happen.
   */
  runNow(integrationId: string): Promise<SyncSummary>;
  status(): RunnerStatus;
}

export class SyncAlreadyRunningError extends Error {
  constructor(readonly integrationName: string) {
    super(`A sync of "${integrationName}" is already running; wait for it to finish.`);
    this.name = 'SyncAlreadyRunningError';
  }
}

export class SchedulerStoppedError extends Error {
  constructor(message = 'The scheduler is shutting down; no new syncs start.') {
    super(message);
    this.name = 'SchedulerStoppedError';
  }
}

/** Log sink: pino's Logger fits. */
export interface SchedulerLogger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface SchedulerOptions {
  db: Kysely<Database>;
  sync: SyncFunction;
  logger: SchedulerLogger;
  /** Default 60. */
  intervalMinutes?: number;
  /** Each next run lands within ±this share of the interval; default 0.1. */
  jitter?: number;
  /** Runs at once over all integrations; default 2. A manual run may exceed it by one per integration. */
  concurrency?: number;
  /** How often integrations are listed again (added, removed, mode changed); default 60 s. */
  relistMs?: number;
  /** An integration whose last run is older than the interval (or that never ran) runs this soon after start; default 5 s. */
  firstRunDelayMs?: number;
  /** …plus a random part up to this, so overdue integrations do not all queue at one instant; default 10 s. */
  firstRunSpreadMs?: number;
  /** After the drain timeout and the abort, how long `stop` still waits for aborted runs; default 5 s. */
  abortGraceMs?: number;
  /** Notifications hook; its failures are logged, never thrown. */
  onRunFinished?: (report: RunReport) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export const DEFAULT_INTERVAL_MINUTES = 60;
export const DEFAULT_CONCURRENCY = 2;
export const DEFAULT_DRAIN_MS = 30_000;

const runsTotal = new Counter({
  name: `${PREFIX}scheduler_runs_total`,
  help: 'Sync runs started by the scheduler or "sync now", by trigger and outcome.',
  labelNames: ['trigger', 'outcome'] as const,
  registers: [processRegistry],
});

const runDuration = new Histogram({
  name: `${PREFIX}scheduler_run_duration_seconds`,
  help: 'Duration of sync runs started by the scheduler or "sync now".',
  buckets: [1, 5, 15, 30, 60, 120, 300, 600, 1800],
  registers: [processRegistry],
});

interface Scheduled {
  id: string;
  name: string;
  mode: string;
  nextRunAt: number;
}

interface Running {
  name: string;
  trigger: RunTrigger;
  startedAt: number;
  controller: AbortController;
  done: Promise<unknown>;
}

interface LastResult {
  outcome: 'succeeded' | 'failed';
  finishedAt: number;
  consecutiveFailures: number;
}

const SCHEDULABLE_MODES = new Set(['test', 'live']);
const PAUSED = 'paused';

/** An integration the scheduler runs by itself: test or live, and not paused. */
export function isSchedulable(i: { mode: string; status: string }): boolean {
  return SCHEDULABLE_MODES.has(i.mode) && i.status !== PAUSED;
}

/**
 * Failed runs in a row, newest first, from sync_runs (runs still going are skipped), so
 * the count survives restarts and agrees with what the admin pages show.
 */
export async function countConsecutiveFailures(
  db: Kysely<Database>,
  integrationId: string,
  opts: { limit?: number } = {},
): Promise<number> {
  const rows = await db
    .selectFrom('sync_runs')
    .select('status')
    .where('integration_id', '=', integrationId)
    .where('status', '!=', 'running')
    .orderBy('started_at', 'desc')
    .limit(opts.limit ?? 100)
    .execute();
  let n = 0;
  for (const r of rows) {
    if (r.status !== 'failed') break;
    n++;
  }
  return n;
}

async function lastRunStarts(db: Kysely<Database>, ids: string[]): Promise<Map<string, number>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .selectFrom('sync_runs')
    .select(['integration_id', (eb) => eb.fn.max('started_at').as('last')])
    .where('integration_id', 'in', ids)
    .groupBy('integration_id')
    .execute();
  const out = new Map<string, number>();
  for (const r of rows) {
    const t = r.last ? Date.parse(String(r.last)) : Number.NaN;
    if (r.integration_id && !Number.isNaN(t)) out.set(r.integration_id, t);
  }
  return out;
}

const iso = (ms: number): string => new Date(ms).toISOString();

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The in-process JobRunner: timers in this process, state in memory, history in sync_runs. */
export class InProcessScheduler implements JobRunner {
  readonly #db: Kysely<Database>;
  readonly #sync: SyncFunction;
  readonly #log: SchedulerLogger;
  readonly #intervalMs: number;
  readonly #jitter: number;
  readonly #concurrency: number;
  readonly #relistMs: number;
  readonly #firstRunDelayMs: number;
  readonly #firstRunSpreadMs: number;
  readonly #abortGraceMs: number;
  readonly #onRunFinished: ((r: RunReport) => Promise<void>) | undefined;
  readonly #now: () => number;
  readonly #random: () => number;

  #state: RunnerStatus['state'] = 'new';
  readonly #scheduled = new Map<string, Scheduled>();
  readonly #running = new Map<string, Running>();
  readonly #last = new Map<string, LastResult>();
  /** Post-run work (failure count, notifications) that a drain waits for too. */
  readonly #settling = new Set<Promise<void>>();
  #timer: NodeJS.Timeout | undefined;
  #nextRelistAt = 0;
  #relisting: Promise<void> | undefined;

  constructor(options: SchedulerOptions) {
    this.#db = options.db;
    this.#sync = options.sync;
    this.#log = options.logger;
    const minutes = options.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
    if (!(minutes > 0)) throw new RangeError('intervalMinutes must be positive');
    this.#intervalMs = minutes * 60_000;
    this.#jitter = Math.min(Math.max(options.jitter ?? 0.1, 0), 0.5);
    this.#concurrency = Math.max(1, Math.floor(options.concurrency ?? DEFAULT_CONCURRENCY));
    this.#relistMs = options.relistMs ?? 60_000;
    this.#firstRunDelayMs = options.firstRunDelayMs ?? 5_000;
    this.#firstRunSpreadMs = options.firstRunSpreadMs ?? 10_000;
    this.#abortGraceMs = options.abortGraceMs ?? 5_000;
    this.#onRunFinished = options.onRunFinished;
    this.#now = options.now ?? Date.now;
    this.#random = options.random ?? Math.random;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`the scheduler cannot start when ${this.#state}`);
    this.#state = 'running';
    await this.#relist();
    this.#pump();
  }

  /** Starts no more runs; running ones go on. `stop` does this first; the serve shutdown calls it early. */
  stopScheduling(): void {
    if (this.#state === 'new' || this.#state === 'running') this.#state = 'stopping';
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped') return;
    this.stopScheduling();
    const drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
    const pending = () => [...[...this.#running.values()].map((r) => r.done), ...this.#settling];
    if (this.#running.size > 0) {
      this.#log.info(
        { running: [...this.#running.values()].map((r) => r.name), drainMs },
        'waiting for running syncs to finish',
      );
    }
    if (!(await settleWithin(pending(), drainMs))) {
      const names = [...this.#running.values()].map((r) => r.name);
      this.#log.warn(
        { running: names, drainMs },
        'syncs still running after the drain timeout; aborting them',
      );
      const reason = new SchedulerStoppedError(
        `Stopped by a shutdown after waiting ${Math.round(drainMs / 1000)} s; the next run picks up where it ended.`,
      );
      for (const r of this.#running.values()) r.controller.abort(reason);
      if (!(await settleWithin(pending(), this.#abortGraceMs))) {
        this.#log.error(
          { running: [...this.#running.values()].map((r) => r.name) },
          'aborted syncs did not stop in time; leaving them (their database lease expires by itself)',
        );
      }
    }
    this.#state = 'stopped';
  }

  runNow(integrationId: string): Promise<SyncSummary> {
    if (this.#state === 'stopping' || this.#state === 'stopped') {
      return Promise.reject(new SchedulerStoppedError());
    }
    const running = this.#running.get(integrationId);
    if (running) return Promise.reject(new SyncAlreadyRunningError(running.name));
    const known = this.#scheduled.get(integrationId);
    if (known) return this.#launch(integrationId, known.name, 'manual');
    // Not scheduled (mode off, paused, or added since the last listing): the engine
    // decides whether such an integration may sync; we only need its name.
    return getIntegration(this.#db, integrationId).then((found) => {
      if (!found) throw new Error(`Integration ${integrationId} does not exist.`);
      const raced = this.#running.get(integrationId);
      if (raced) throw new SyncAlreadyRunningError(raced.name);
      if (this.#state === 'stopping' || this.#state === 'stopped') throw new SchedulerStoppedError();
      return this.#launch(found.id, found.name, 'manual');
    });
  }

  status(): RunnerStatus {
    const ids = new Set([...this.#scheduled.keys(), ...this.#running.keys()]);
    const integrations: IntegrationScheduleStatus[] = [];
    for (const id of ids) {
      const s = this.#scheduled.get(id);
      const r = this.#running.get(id);
      const last = this.#last.get(id);
      integrations.push({
        id,
        name: s?.name ?? r?.name ?? id,
        mode: s?.mode ?? 'unscheduled',
        running: !!r,
        runningSince: r ? iso(r.startedAt) : null,
        runningTrigger: r?.trigger ?? null,
        nextRunAt: s && !r ? iso(s.nextRunAt) : null,
        lastOutcome: last?.outcome ?? null,
        lastFinishedAt: last ? iso(last.finishedAt) : null,
        consecutiveFailures: last?.consecutiveFailures ?? 0,
      });
    }
    integrations.sort((a, b) => (a.nextRunAt ?? '~').localeCompare(b.nextRunAt ?? '~'));
    return {
      state: this.#state,
      intervalMinutes: this.#intervalMs / 60_000,
      concurrency: this.#concurrency,
      integrations,
    };
  }

  // ---- internals ---------------------------------------------------------------------

  #jittered(): number {
    return this.#intervalMs * (1 + this.#jitter * (2 * this.#random() - 1));
  }

  #firstRunAt(now: number): number {
    return now + this.#firstRunDelayMs + this.#random() * this.#firstRunSpreadMs;
  }

  /** Picks up added, removed and changed integrations. Never throws: a failed listing is retried. */
  #relist(): Promise<void> {
    this.#relisting ??= (async () => {
      const now = this.#now();
      this.#nextRelistAt = now + this.#relistMs;
      try {
        const wanted = (await listIntegrations(this.#db)).filter(isSchedulable);
        const wantedIds = new Set(wanted.map((i) => i.id));
        for (const id of this.#scheduled.keys()) {
          if (!wantedIds.has(id)) this.#scheduled.delete(id);
        }
        const added = wanted.filter((i) => !this.#scheduled.has(i.id));
        const lastStarts = await lastRunStarts(
          this.#db,
          added.map((i) => i.id),
        );
        for (const i of wanted) {
          const existing = this.#scheduled.get(i.id);
          if (existing) {
            existing.name = i.name;
            existing.mode = i.mode;
            continue;
          }
          const last = lastStarts.get(i.id);
          // Overdue (or never run): soon after start. Otherwise when its interval is up,
          // which spreads integrations by their own history rather than by our start time.
          const nextRunAt =
            last === undefined || last + this.#intervalMs <= now
              ? this.#firstRunAt(now)
              : Math.max(last + this.#jittered(), now + this.#firstRunDelayMs);
          this.#scheduled.set(i.id, { id: i.id, name: i.name, mode: i.mode, nextRunAt });
        }
      } catch (err) {
        this.#log.warn({ err: errorMessage(err) }, 'could not list integrations to schedule; retrying');
      } finally {
        this.#relisting = undefined;
      }
    })();
    return this.#relisting;
  }

  /** Starts due runs while there is room, then sleeps until the next thing to do. */
  #pump(): void {
    if (this.#state !== 'running') return;
    const now = this.#now();
    // The listing runs beside the due runs; its own pump picks up what it changed.
    if (now >= this.#nextRelistAt && !this.#relisting) void this.#relist().then(() => this.#pump());
    const due = [...this.#scheduled.values()]
      .filter((s) => s.nextRunAt <= now && !this.#running.has(s.id))
      .sort((a, b) => a.nextRunAt - b.nextRunAt);
    for (const s of due) {
      if (this.#running.size >= this.#concurrency) break;
      this.#launch(s.id, s.name, 'schedule').catch(() => {
        // Logged and counted in #finish; a scheduled run has nobody to reject to.
      });
    }
    this.#arm();
  }

  #arm(): void {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#state !== 'running') return;
    let wake = this.#nextRelistAt;
    if (this.#running.size < this.#concurrency) {
      for (const s of this.#scheduled.values()) {
        if (!this.#running.has(s.id) && s.nextRunAt < wake) wake = s.nextRunAt;
      }
    }
    // Timers beyond 2^31 ms fire at once; the relist keeps the wait far below that anyway.
    const delay = Math.min(Math.max(0, wake - this.#now()), 2 ** 31 - 1);
    this.#timer = setTimeout(() => this.#pump(), delay);
    this.#timer.unref();
  }

  #launch(id: string, name: string, trigger: RunTrigger): Promise<SyncSummary> {
    const controller = new AbortController();
    const startedAt = this.#now();
    const run = Promise.resolve().then(() => this.#sync({ integrationId: id, signal: controller.signal }));
    const done = run.then(
      (summary) => this.#finish(id, name, trigger, startedAt, { summary }),
      (err: unknown) => this.#finish(id, name, trigger, startedAt, { error: err }),
    );
    this.#running.set(id, { name, trigger, startedAt, controller, done });
    return run;
  }

  async #finish(
    id: string,
    name: string,
    trigger: RunTrigger,
    startedAt: number,
    result: { summary?: SyncSummary; error?: unknown },
  ): Promise<void> {
    const finishedAt = this.#now();
    const failure =
      result.error !== undefined ? errorMessage(result.error) : result.summary?.error || undefined;
    const outcome = failure === undefined ? 'succeeded' : 'failed';
    // Free the slot first: notifications may take a while, and "sync now" must not be
    // refused because an e-mail is still being sent.
    this.#running.delete(id);
    const s = this.#scheduled.get(id);
    if (s) s.nextRunAt = finishedAt + this.#jittered();
    runsTotal.inc({ trigger, outcome });
    runDuration.observe((finishedAt - startedAt) / 1000);

    const after = (async () => {
      let consecutiveFailures: number;
      try {
        consecutiveFailures = await countConsecutiveFailures(this.#db, id);
      } catch {
        const before = this.#last.get(id)?.consecutiveFailures ?? 0;
        consecutiveFailures = outcome === 'failed' ? before + 1 : 0;
      }
      this.#last.set(id, { outcome, finishedAt, consecutiveFailures });
      const summary = result.summary;
      const line = {
        integrationId: id,
        integration: name,
        trigger,
        outcome,
        durationMs: finishedAt - startedAt,
        ...(summary
          ? {
              booked: summary.booked,
              needsAttention: summary.needsAttention,
              skipped: summary.skipped,
              failed: summary.failed,
            }
          : {}),
        consecutiveFailures,
        ...(failure !== undefined ? { error: failure } : {}),
        ...(s && this.#state === 'running' ? { nextRunAt: iso(s.nextRunAt) } : {}),
      };
      if (outcome === 'succeeded') this.#log.info(line, 'sync run finished');
      else this.#log.warn(line, 'sync run failed');
      if (this.#onRunFinished) {
        try {
          await this.#onRunFinished({
            integration: { id, name },
            trigger,
            startedAt: iso(startedAt),
            finishedAt: iso(finishedAt),
            durationMs: finishedAt - startedAt,
            outcome,
            ...(summary ? { summary } : {}),
            ...(failure !== undefined ? { error: failure } : {}),
            consecutiveFailures,
          });
        } catch (err) {
          this.#log.error({ integrationId: id, err: errorMessage(err) }, 'after-run hook failed');
        }
      }
    })();
    this.#settling.add(after);
    void after.finally(() => this.#settling.delete(after));
    this.#pump();
    await after;
  }
}

/** True when every promise settled within `ms`. */
async function settleWithin(promises: Promise<unknown>[], ms: number): Promise<boolean> {
  if (promises.length === 0) return true;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), ms);
  });
  try {
    return await Promise.race([Promise.allSettled(promises).then(() => true as const), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---- configuration -----------------------------------------------------------------

const SchedulerEnvSchema = z.object({
  KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES: z.coerce
    .number()
    .positive()
    .max(7 * 24 * 60)
    .default(DEFAULT_INTERVAL_MINUTES),
  KLARNA_SPIRIS_SYNC_CONCURRENCY: z.coerce.number().int().min(1).max(32).default(DEFAULT_CONCURRENCY),
  KLARNA_SPIRIS_SYNC_DRAIN_SECONDS: z.coerce
    .number()
    .min(0)
    .max(3600)
    .default(DEFAULT_DRAIN_MS / 1000),
});

export interface SchedulerConfig {
  readonly intervalMinutes: number;
  readonly concurrency: number;
  readonly drainMs: number;
}

/** The scheduler's settings from the environment; `--sync-interval` wins over the variable. */
export function loadSchedulerConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: { intervalMinutes?: number } = {},
): SchedulerConfig {
  const e = parseEnv(SchedulerEnvSchema, env);
  return Object.freeze({
    intervalMinutes: flags.intervalMinutes ?? e.KLARNA_SPIRIS_SYNC_INTERVAL_MINUTES,
    concurrency: e.KLARNA_SPIRIS_SYNC_CONCURRENCY,
    drainMs: e.KLARNA_SPIRIS_SYNC_DRAIN_SECONDS * 1000,
  });
}

// ---- serve wiring ------------------------------------------------------------------

export interface SchedulerHookOptions
  extends Pick<
    SchedulerOptions,
    'jitter' | 'relistMs' | 'firstRunDelayMs' | 'firstRunSpreadMs' | 'abortGraceMs'
  > {
  config: SchedulerConfig;
  /** The engine, bound to the app (see sync-runner.ts). */
  sync: (app: App) => SyncFunction;
  /** Notifications, bound to the app; undefined when none are configured. */
  onRunFinished?: (app: App) => ((report: RunReport) => Promise<void>) | undefined;
}

/**
 * The scheduler as a serve hook: starts with the server, stops scheduling as soon as
 * shutdown begins, and drains after the server has closed. `current()` hands the
 * runner to whatever needs "sync now" or its status.
 */
export function schedulerServeHook(options: SchedulerHookOptions): {
  hook: ServeHook;
  current(): InProcessScheduler | undefined;
} {
  let scheduler: InProcessScheduler | undefined;
  return {
    hook: async (app) => {
      const onRunFinished = options.onRunFinished?.(app);
      const s = new InProcessScheduler({
        db: app.store.db,
        sync: options.sync(app),
        logger: app.logger.child({ component: 'scheduler' }),
        intervalMinutes: options.config.intervalMinutes,
        concurrency: options.config.concurrency,
        ...(options.jitter !== undefined ? { jitter: options.jitter } : {}),
        ...(options.relistMs !== undefined ? { relistMs: options.relistMs } : {}),
        ...(options.firstRunDelayMs !== undefined ? { firstRunDelayMs: options.firstRunDelayMs } : {}),
        ...(options.firstRunSpreadMs !== undefined ? { firstRunSpreadMs: options.firstRunSpreadMs } : {}),
        ...(options.abortGraceMs !== undefined ? { abortGraceMs: options.abortGraceMs } : {}),
        ...(onRunFinished ? { onRunFinished } : {}),
      });
      await s.start();
      scheduler = s;
      const { integrations } = s.status();
      app.logger.info(
        {
          integrations: integrations.length,
          intervalMinutes: options.config.intervalMinutes,
          concurrency: options.config.concurrency,
          notifications: !!onRunFinished,
        },
        'sync scheduler started',
      );
      return {
        beginShutdown: () => s.stopScheduling(),
        stop: () => s.stop({ drainMs: options.config.drainMs }),
      };
    },
    current: () => scheduler,
  };
}
