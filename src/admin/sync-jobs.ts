import { type Kysely, sql } from 'kysely';
import type { App } from '../app.ts';
import { type JobRunner, SchedulerStoppedError, SyncAlreadyRunningError } from '../service/scheduler.ts';
import { getSyncLease } from '../store/booking.repository.ts';
import { getIntegration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { listSyncRuns, type SyncRun } from '../store/sync-runs.repository.ts';
import { type SyncProgress, syncIntegration } from '../sync/sync.service.ts';
import { assertPostingAllowed, type SyncDeps } from '../sync/sync-context.ts';
import { domainApiError } from './domain-errors.ts';
import { ApiError } from './errors.ts';

// "Sync now" and the progress shown while a sync runs. With the serve process's
// scheduler the run goes through its runNow (one run per integration, counted in its
// concurrency); without one (a second instance with --no-sync, tests) the engine runs
// here in the background. Either way the engine's lease keeps it to one sync per
// integration across processes, and progress is read from the store, so a run started
// by the scheduler or by another process shows the same way.

export type RunVia = 'scheduler' | 'background';

export interface SyncProgressView {
  integrationId: string;
  running: boolean;
  /** Who runs it: this process's scheduler, a background run here, or another process (lease). */
  via: RunVia | 'elsewhere' | null;
  /** sync, preview, retry, reverse … (the lease's purpose) while running elsewhere. */
  purpose: string | null;
  startedAt: string | null;
  /** The engine's own progress, when this process runs it in the background. */
  phase: { name: SyncProgress['phase']; done: number; total: number | null } | null;
  /** Since the run started, from the store. */
  counts: { fetched: number; booked: number; waiting: number; needsAttention: number };
  lastRun: Pick<SyncRun, 'id' | 'kind' | 'status' | 'startedAt' | 'finishedAt' | 'error'> | null;
  nextRunAt: string | null;
}

interface BackgroundRun {
  startedAt: string;
  controller: AbortController;
  done: Promise<void>;
  progress: SyncProgress | null;
}

export interface SyncJobsOptions {
  app: App;
  /** The serve process's scheduler, once it runs; undefined without one. */
  runner?: () => JobRunner | undefined;
  /** Engine overrides (tests: fast retries, a clock). */
  syncDeps?: Partial<SyncDeps>;
  now?: () => Date;
}

export class SyncJobs {
  readonly #app: App;
  readonly #runner: () => JobRunner | undefined;
  readonly #syncDeps: Partial<SyncDeps>;
  readonly #now: () => Date;
  readonly #background = new Map<string, BackgroundRun>();

  constructor(options: SyncJobsOptions) {
    this.#app = options.app;
    this.#runner = options.runner ?? (() => undefined);
    this.#syncDeps = options.syncDeps ?? {};
    this.#now = options.now ?? (() => new Date());
  }

  get #db(): Kysely<Database> {
    return this.#app.store.db;
  }

  /** The engine's dependencies for an action taken by `actor` (admin-ui, api:<token>). */
  deps(actor: string): SyncDeps {
    return {
      store: this.#app.store,
      sealer: this.#app.sealer,
      logger: this.#app.logger.child({ component: 'sync' }),
      ...this.#syncDeps,
      actor,
    };
  }

  /**
   * Starts a sync and returns at once; refusals that can be known up front (off,
   * preview-only, already running here or elsewhere) are thrown as 409 so the person
   * pressing the button sees them now rather than in the run history.
   */
  async start(integrationId: string, actor: string): Promise<{ via: RunVia }> {
    const integration = await getIntegration(this.#db, integrationId);
    if (!integration) throw new ApiError(404, 'not_found', 'No such integration.');
    try {
      await assertPostingAllowed(this.deps(actor), integration);
    } catch (err) {
      throw domainApiError(err) ?? err;
    }
    const busy = await this.#runningElsewhere(integrationId);
    if (this.#background.has(integrationId) || busy) {
      throw new ApiError(
        409,
        'conflict',
        `A ${busy?.purpose ?? 'sync'} of "${integration.name}" is already running; its progress is shown on the runs page.`,
      );
    }
    const runner = this.#runner();
    const scheduled = runner?.status().integrations.find((i) => i.id === integrationId);
    if (scheduled?.running) {
      throw new ApiError(409, 'conflict', new SyncAlreadyRunningError(integration.name).message);
    }
    const runnerState = runner?.status().state;
    if (runnerState === 'stopping' || runnerState === 'stopped') {
      // Shutting down: a run started now would be cut off by the drain.
      throw new ApiError(503, 'unavailable', new SchedulerStoppedError().message);
    }
    if (runner && runnerState === 'running') {
      let launched: Promise<unknown>;
      try {
        launched = runner.runNow(integrationId);
      } catch (err) {
        throw this.#runnerError(err);
      }
      // runNow settles when the run ends; a refusal arrives at once, so wait a moment for it.
      const early = await Promise.race([
        launched.then(
          () => undefined,
          (err: unknown) => err,
        ),
        new Promise((resolve) => setTimeout(() => resolve('started'), 50)),
      ]);
      if (early !== 'started' && early !== undefined) throw this.#runnerError(early);
      launched.catch((err: unknown) =>
        this.#app.logger.warn({ integrationId, err: (err as Error)?.message }, 'sync now failed'),
      );
      return { via: 'scheduler' };
    }
    this.#launchBackground(integrationId, actor);
    return { via: 'background' };
  }

  #runnerError(err: unknown): unknown {
    if (err instanceof SyncAlreadyRunningError) return new ApiError(409, 'conflict', err.message);
    if (err instanceof SchedulerStoppedError) return new ApiError(503, 'unavailable', err.message);
    return domainApiError(err) ?? err;
  }

  #launchBackground(integrationId: string, actor: string): void {
    const controller = new AbortController();
    const run: BackgroundRun = {
      startedAt: this.#now().toISOString(),
      controller,
      progress: null,
      done: Promise.resolve(),
    };
    run.done = syncIntegration(this.deps(actor), {
      integrationId,
      signal: controller.signal,
      onProgress: (p) => {
        run.progress = p;
      },
    })
      .then(
        (r) =>
          this.#app.logger.info(
            { integrationId, booked: r.booked.length, needsAttention: r.needsAttention.length },
            'sync now finished',
          ),
        // The engine wrote the failed run to sync_runs; the runs page shows it.
        (err: unknown) =>
          this.#app.logger.warn({ integrationId, err: (err as Error)?.message }, 'sync now failed'),
      )
      .finally(() => this.#background.delete(integrationId));
    this.#background.set(integrationId, run);
  }

  async #runningElsewhere(integrationId: string) {
    const lease = await getSyncLease(this.#db, integrationId);
    if (!lease || lease.expiresAt <= this.#now().toISOString()) return undefined;
    return lease;
  }

  async progress(integrationId: string): Promise<SyncProgressView> {
    const runnerStatus = this.#runner()?.status();
    const scheduled = runnerStatus?.integrations.find((i) => i.id === integrationId);
    const background = this.#background.get(integrationId);
    const [lease, runs] = await Promise.all([
      this.#runningElsewhere(integrationId),
      listSyncRuns(this.#db, { integrationId, limit: 1 }),
    ]);
    let via: SyncProgressView['via'] = null;
    let startedAt: string | null = null;
    if (background) {
      via = 'background';
      startedAt = background.startedAt;
    } else if (scheduled?.running) {
      via = 'scheduler';
      startedAt = scheduled.runningSince;
    } else if (lease) {
      via = 'elsewhere';
      startedAt = lease.acquiredAt;
    }
    const running = via !== null;
    const p = background?.progress;
    const phase = p
      ? p.phase === 'import'
        ? { name: p.phase, done: 0, total: null }
        : { name: p.phase, done: p.done, total: p.total }
      : null;
    const last = runs[0];
    return {
      integrationId,
      running,
      via,
      purpose: lease?.purpose ?? (running ? 'sync' : null),
      startedAt,
      phase,
      counts: await this.#counts(integrationId, startedAt),
      lastRun: last
        ? {
            id: last.id,
            kind: last.kind,
            status: last.status,
            startedAt: last.startedAt,
            finishedAt: last.finishedAt,
            error: last.error,
          }
        : null,
      nextRunAt: scheduled?.nextRunAt ?? null,
    };
  }

  async #counts(integrationId: string, since: string | null): Promise<SyncProgressView['counts']> {
    // Polled every 2 s while a run is active: one aggregate, whatever the payout count.
    const from = since ?? '9999';
    const row = await this.#db
      .selectFrom('klarna_payouts')
      .select([
        sql<string>`sum(case when fetched_at >= ${from} then 1 else 0 end)`.as('fetched'),
        sql<string>`sum(case when booked_at >= ${from} then 1 else 0 end)`.as('booked'),
        sql<string>`sum(case when state in ('discovered', 'ready', 'posting') then 1 else 0 end)`.as(
          'waiting',
        ),
        sql<string>`sum(case when state = 'needs_attention' then 1 else 0 end)`.as('attention'),
      ])
      .where('integration_id', '=', integrationId)
      .executeTakeFirst();
    return {
      fetched: Number(row?.fetched ?? 0),
      booked: Number(row?.booked ?? 0),
      waiting: Number(row?.waiting ?? 0),
      needsAttention: Number(row?.attention ?? 0),
    };
  }

  /** Ends background runs on shutdown: they stop between payouts and the next run resumes. */
  async close(): Promise<void> {
    for (const run of this.#background.values()) run.controller.abort();
    await Promise.allSettled([...this.#background.values()].map((r) => r.done));
  }
}
