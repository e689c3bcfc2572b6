import { sql } from 'kysely';
import PgBoss from 'pg-boss';
import { Counter, Histogram } from 'prom-client';
import { PREFIX, processRegistry } from '../service/metrics.ts';
import {
  countConsecutiveFailures,
  DEFAULT_DRAIN_MS,
  DEFAULT_INTERVAL_MINUTES,
  type IntegrationScheduleStatus,
  isSchedulable,
  type JobRunner,
  type RunnerStatus,
  type RunReport,
  type SchedulerLogger,
  SchedulerStoppedError,
  SyncAlreadyRunningError,
  type SyncSummary,
} from '../service/scheduler.ts';
import { getIntegration, listIntegrations } from '../store/integrations.repository.ts';
import { type SyncDeps, SyncRefusedError } from '../sync/sync-context.ts';
import { failureMessage } from './failed-jobs.ts';
import { LeaseBusyError, waitingLease } from './lease-wait.ts';
import { DEFAULT_QUEUE_SCHEMA, openSyncJobs, queueSchema, runHistories } from './queue.repository.ts';
import {
  DEFAULT_QUEUE_POLICIES,
  jobPolicy,
  type PostJobData,
  QUEUE_KEYS,
  QUEUES,
  type QueueKey,
  type QueuePolicies,
  type QueuePolicy,
  type SyncJobData,
} from './queues.ts';
import {
  postTask,
  type Refused,
  type SyncTaskResult,
  scheduleTask,
  syncTask,
  type Task,
  type TaskHelpers,
} from './tasks.ts';

// The PostgreSQL JobRunner: pg-boss queues shared by every worker process on every
// machine using the same database. Each worker ticks; pg-boss keeps one tick job per
// slot fleet-wide, and whoever takes it enqueues the due syncs. A sync job imports and
// plans one integration, then enqueues one post job per ready payout. Duplicates are
// kept out at three levels: one waiting job per integration or payout in the queue
// (singletonKey), the engine's lease per integration (held by sync and post jobs
// alike), and the payout's ready → posting compare-and-set.
//
// Why the 'short' policy (one waiting job per key) rather than pg-boss's 'singleton' or
// 'stately' (one running job per key): in pg-boss 10 a fetch whose next job would break
// the one-running rule fails as a whole, so every other job of the queue waits until the
// running one ends, and for a killed worker that is the job's full expiry. The lease
// gives the same one-at-a-time guarantee without stalling anyone else.

const jobsTotal = new Counter({
  name: `${PREFIX}jobs_total`,
  help: 'Queue jobs run by this process, by queue and outcome (completed, failed, requeued).',
  labelNames: ['queue', 'outcome'] as const,
  registers: [processRegistry],
});

const jobDuration = new Histogram({
  name: `${PREFIX}job_duration_seconds`,
  help: 'Duration of queue jobs run by this process, by queue.',
  labelNames: ['queue'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 15, 60, 300, 1800],
  registers: [processRegistry],
});

export interface QueueRunnerOptions {
  /** postgres://… of the store; pg-boss keeps its tables in `schema` there. */
  connectionString: string;
  /** The engine's dependencies: store, sealer, logger, shared rate budgets. */
  deps: SyncDeps;
  logger: SchedulerLogger;
  /** Process jobs here. False: only enqueue and report (`serve --workers external`). */
  work?: boolean;
  /** Default 'pgboss'. */
  schema?: string;
  /** Minutes between syncs of each integration; default 60. */
  intervalMinutes?: number;
  /** Sync jobs at once in this process; default 2. */
  syncConcurrency?: number;
  /** Post jobs at once in this process; default 4. */
  postConcurrency?: number;
  /** How often this process asks for a schedule tick (one per tick runs fleet-wide); default 30. */
  tickSeconds?: number;
  /** How often an idle slot asks for a job; default 2. */
  pollingIntervalSeconds?: number;
  /** How often expired jobs (of killed workers) are failed over to a retry; default 30. */
  maintenanceIntervalSeconds?: number;
  /** Overrides of the queues' retry and expiry policy. */
  policies?: Partial<Record<QueueKey, Partial<QueuePolicy>>>;
  /** Longest wait for an integration's lease before the job is retried later; default 30 s. */
  leaseWaitMs?: number;
  /** After the drain timeout and the abort, how long `stop` still waits; default 5 s. */
  abortGraceMs?: number;
  /** How old `status()`'s snapshot may get before a call reads it again (in the background); default 10 s. */
  statusRefreshMs?: number;
  /** Notifications after each sync job, as the in-process scheduler does. */
  onRunFinished?: (report: RunReport) => Promise<void>;
}

interface RunningJob {
  queue: QueueKey;
  id: string;
  data: unknown;
  startedAt: number;
  controller: AbortController;
  done: Promise<void>;
}

const errorMessage = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** A JobRunner over pg-boss; see the file comment. */
export class QueueRunner implements JobRunner {
  readonly #o: QueueRunnerOptions;
  readonly #log: SchedulerLogger;
  readonly #schema: string;
  readonly #work: boolean;
  readonly #intervalMs: number;
  readonly #syncConcurrency: number;
  readonly #postConcurrency: number;
  readonly #policies: QueuePolicies;
  #boss: PgBoss | undefined;
  #state: RunnerStatus['state'] = 'new';
  readonly #running = new Map<string, RunningJob>();
  readonly #workerIds: Record<QueueKey, string[]> = { schedule: [], sync: [], post: [] };
  #tickTimer: NodeJS.Timeout | undefined;
  #snapshot: IntegrationScheduleStatus[] = [];
  #snapshotAt = 0;
  #refreshing: Promise<void> | undefined;

  constructor(options: QueueRunnerOptions) {
    this.#o = options;
    this.#log = options.logger;
    this.#schema = options.schema ?? DEFAULT_QUEUE_SCHEMA;
    queueSchema(this.#schema);
    this.#work = options.work ?? true;
    const minutes = options.intervalMinutes ?? DEFAULT_INTERVAL_MINUTES;
    if (!(minutes > 0)) throw new RangeError('intervalMinutes must be positive');
    this.#intervalMs = minutes * 60_000;
    this.#syncConcurrency = Math.max(1, Math.floor(options.syncConcurrency ?? 2));
    this.#postConcurrency = Math.max(1, Math.floor(options.postConcurrency ?? 4));
    const p = options.policies ?? {};
    this.#policies = {
      schedule: { ...DEFAULT_QUEUE_POLICIES.schedule, ...p.schedule },
      sync: { ...DEFAULT_QUEUE_POLICIES.sync, ...p.sync },
      post: { ...DEFAULT_QUEUE_POLICIES.post, ...p.post },
    };
  }

  get policies(): QueuePolicies {
    return this.#policies;
  }

  async start(): Promise<void> {
    if (this.#state !== 'new') throw new Error(`the queue runner cannot start when ${this.#state}`);
    this.#state = 'running';
    const boss = new PgBoss({
      connectionString: this.#o.connectionString,
      schema: this.#schema,
      application_name: 'klarna-spiris',
      max: this.#work ? this.#syncConcurrency + this.#postConcurrency + 3 : 3,
      // Expired jobs of dead workers are failed over by maintenance: workers do it.
      supervise: this.#work,
      maintenanceIntervalSeconds: this.#o.maintenanceIntervalSeconds ?? 30,
      // Ticks come from every worker (see #tick), not pg-boss's cron, whose slot is a minute.
      schedule: false,
    });
    boss.on('error', (err: Error) => this.#log.warn({ err: errorMessage(err) }, 'job queue error'));
    try {
      await boss.start();
      this.#boss = boss;
      await this.#ensureQueues(boss);
      if (this.#work) {
        await this.#register(boss, 'schedule', 1, scheduleTask);
        await this.#register(boss, 'sync', this.#syncConcurrency, this.#syncHandler());
        await this.#register(boss, 'post', this.#postConcurrency, postTask);
        await this.#tick();
        const tickMs = (this.#o.tickSeconds ?? 30) * 1000;
        this.#tickTimer = setInterval(() => void this.#tick(), tickMs);
        this.#tickTimer.unref();
      }
      await this.#refreshStatus();
    } catch (err) {
      this.#state = 'stopped';
      await boss.stop({ graceful: false }).catch(() => undefined);
      throw err;
    }
  }

  /** Takes no more jobs and enqueues no more ticks; running jobs go on. */
  stopScheduling(): void {
    if (this.#state === 'new' || this.#state === 'running') this.#state = 'stopping';
    if (this.#tickTimer) clearInterval(this.#tickTimer);
    this.#tickTimer = undefined;
    const boss = this.#boss;
    // offWork only flags the fetch loops; a job being handled runs to its end.
    if (boss) for (const key of QUEUE_KEYS) void boss.offWork(QUEUES[key]).catch(() => undefined);
  }

  async stop(opts: { drainMs?: number } = {}): Promise<void> {
    if (this.#state === 'stopped') return;
    this.stopScheduling();
    const drainMs = opts.drainMs ?? DEFAULT_DRAIN_MS;
    const pending = () => [...this.#running.values()].map((r) => r.done);
    if (this.#running.size > 0) {
      this.#log.info({ running: this.#runningNames(), drainMs }, 'waiting for running jobs to finish');
    }
    if (!(await settleWithin(pending(), drainMs))) {
      this.#log.warn(
        { running: this.#runningNames(), drainMs },
        'jobs still running after the drain timeout; aborting them',
      );
      const reason = new SchedulerStoppedError(
        `Stopped by a shutdown after waiting ${Math.round(drainMs / 1000)} s; the queue runs the job again.`,
      );
      for (const r of this.#running.values()) r.controller.abort(reason);
      if (!(await settleWithin(pending(), this.#o.abortGraceMs ?? 5_000))) {
        this.#log.error(
          { running: this.#runningNames() },
          'aborted jobs did not stop in time; pg-boss fails them so another worker retries',
        );
      }
    }
    // Short: pg-boss marks what still runs as failed (so it is retried) and closes its pool.
    await this.#boss?.stop({ graceful: true, timeout: 1_000, close: true }).catch((err: unknown) => {
      this.#log.warn({ err: errorMessage(err) }, 'the job queue did not stop cleanly');
    });
    this.#state = 'stopped';
  }

  async runNow(integrationId: string): Promise<SyncSummary> {
    const boss = this.#boss;
    if (this.#state !== 'running' || !boss) throw new SchedulerStoppedError();
    const db = this.#o.deps.store.db;
    const integration = await getIntegration(db, integrationId);
    if (!integration) throw new Error(`Integration ${integrationId} does not exist.`);
    const open = await openSyncJobs(db, { schema: this.#schema, integrationId });
    if (open.size > 0) throw new SyncAlreadyRunningError(integration.name);
    const data: SyncJobData = { integrationId, trigger: 'manual' };
    // Ahead of scheduled syncs: a person is waiting for this one.
    const id = await boss.send(QUEUES.sync, data, {
      ...jobPolicy(this.#policies.sync),
      singletonKey: integrationId,
      priority: 10,
    });
    if (!id) throw new SyncAlreadyRunningError(integration.name);
    this.#notify('sync');
    void this.#refreshStatus();
    return this.#awaitSync(boss, id);
  }

  /** The last snapshot, read again in the background when older than `statusRefreshMs`. */
  status(): RunnerStatus {
    if (this.#state === 'running' && Date.now() - this.#snapshotAt > (this.#o.statusRefreshMs ?? 10_000)) {
      void this.#refreshStatus();
    }
    const local = new Map<string, RunningJob>();
    for (const r of this.#running.values()) {
      if (r.queue === 'sync') local.set((r.data as SyncJobData).integrationId, r);
    }
    return {
      state: this.#state,
      intervalMinutes: this.#intervalMs / 60_000,
      concurrency: this.#work ? this.#syncConcurrency : 0,
      integrations: this.#snapshot.map((s) => {
        const here = local.get(s.id);
        if (!here || s.running) return s;
        return { ...s, running: true, runningSince: new Date(here.startedAt).toISOString(), nextRunAt: null };
      }),
    };
  }

  // ---- internals ---------------------------------------------------------------------

  async #ensureQueues(boss: PgBoss): Promise<void> {
    // Workers starting together would deadlock creating the same queue partitions; an
    // advisory lock held by our own transaction makes them take turns, since pg-boss's
    // statements on its own pool wait for it all the same.
    await this.#o.deps.store.db.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(hashtext(${`klarna-spiris:queues:${this.#schema}`}))`.execute(
        trx,
      );
      for (const key of QUEUE_KEYS) {
        const name = QUEUES[key];
        const policy = key === 'schedule' ? 'standard' : 'short';
        const options = { name, policy, ...jobPolicy(this.#policies[key]) } as const;
        if (!(await boss.getQueue(name))) await boss.createQueue(name, options);
        // Policy changes in the configuration reach jobs enqueued from now on.
        await boss.updateQueue(name, options);
      }
    });
  }

  async #register<P>(boss: PgBoss, key: QueueKey, slots: number, task: Task<P, unknown>): Promise<void> {
    for (let i = 0; i < slots; i++) {
      const slot = { id: '' };
      slot.id = await boss.work<P>(
        QUEUES[key],
        { pollingIntervalSeconds: this.#o.pollingIntervalSeconds ?? 2, batchSize: 1 },
        ([job]) => this.#run(key, job!, task, slot.id),
      );
      this.#workerIds[key].push(slot.id);
    }
  }

  async #run<P>(
    key: QueueKey,
    job: PgBoss.Job<P>,
    task: Task<P, unknown>,
    workerId: string,
  ): Promise<unknown> {
    const controller = new AbortController();
    const expireMs = job.expireInSeconds * 1000;
    // Stop a little before pg-boss gives the job to someone else, so two never overlap.
    const budgetMs = Math.max(500, expireMs - Math.min(5_000, expireMs * 0.2));
    const timer = setTimeout(
      () => controller.abort(new Error(`the job reached its time limit (${job.expireInSeconds} s)`)),
      budgetMs,
    );
    timer.unref();
    let settle = () => {};
    const entry: RunningJob = {
      queue: key,
      id: job.id,
      data: job.data,
      startedAt: Date.now(),
      controller,
      done: new Promise<void>((resolve) => {
        settle = resolve;
      }),
    };
    this.#running.set(job.id, entry);
    const stopTimer = jobDuration.startTimer({ queue: key });
    try {
      const result = await task(job.data, this.#helpers(controller.signal, budgetMs));
      jobsTotal.inc({ queue: key, outcome: 'completed' });
      if (key !== 'schedule')
        this.#log.info({ queue: key, jobId: job.id, ...brief(job.data), result }, 'job done');
      return result;
    } catch (err) {
      if (err instanceof LeaseBusyError && key === 'post' && (await this.#requeuePost(job))) {
        jobsTotal.inc({ queue: key, outcome: 'requeued' });
        this.#log.info(
          { queue: key, jobId: job.id, ...brief(job.data) },
          'integration busy (its sync or another post holds the lease); post job put back in the queue',
        );
        return { outcome: 'requeued', reason: err.message };
      }
      jobsTotal.inc({ queue: key, outcome: 'failed' });
      this.#log.warn(
        { queue: key, jobId: job.id, ...brief(job.data), err: errorMessage(err) },
        'job failed; the queue retries it after its backoff, or keeps it as failed',
      );
      throw err;
    } finally {
      stopTimer();
      clearTimeout(timer);
      this.#running.delete(job.id);
      settle();
      // Straight on to the next job: pg-boss 10 sleeps a polling interval after each
      // job unless its worker was notified meanwhile.
      if (this.#state === 'running') this.#boss?.notifyWorker(workerId);
    }
  }

  /**
   * A post job that found its integration busy waits its turn again instead of failing:
   * during a long catch-up the post jobs of one integration queue on one lease, and
   * counting each wait as a failure would use up their retries and leave them failed
   * for no fault of their own. Returns false when it could not be put back (shutting
   * down, or the queue refused), and the job then fails and retries as usual.
   */
  async #requeuePost(job: PgBoss.Job<unknown>): Promise<boolean> {
    const boss = this.#boss;
    if (!boss || this.#state !== 'running') return false;
    const data = job.data as PostJobData;
    try {
      // A waiting job for the payout already covers it (send returns null then).
      await boss.send(QUEUES.post, data, {
        ...jobPolicy(this.#policies.post),
        singletonKey: data.payoutId,
        startAfter: Math.round(3 + Math.random() * 7),
      });
      return true;
    } catch (err) {
      this.#log.warn({ err: errorMessage(err) }, 'could not put a busy post job back in the queue');
      return false;
    }
  }

  #helpers(signal: AbortSignal, budgetMs: number): TaskHelpers {
    return {
      deps: this.#o.deps,
      signal,
      logger: this.#log,
      withLease: waitingLease({ waitMs: Math.min(this.#o.leaseWaitMs ?? 30_000, budgetMs * 0.8), signal }),
      enqueueSyncs: (jobs) => this.#enqueue('sync', jobs, (j) => j.integrationId),
      enqueuePosts: (jobs) => this.#enqueue('post', jobs, (j: PostJobData) => j.payoutId),
      queueSchema: this.#schema,
      intervalMs: this.#intervalMs,
    };
  }

  async #enqueue<D extends object>(key: QueueKey, jobs: D[], keyOf: (d: D) => string): Promise<void> {
    const boss = this.#boss;
    if (!boss || jobs.length === 0) return;
    const policy = jobPolicy(this.#policies[key]);
    // One statement; a payout or integration that already has a waiting job is skipped.
    await boss.insert(
      jobs.map((data) => ({ name: QUEUES[key], data, singletonKey: keyOf(data), ...policy })),
    );
    this.#notify(key);
  }

  #notify(key: QueueKey): void {
    for (const id of this.#workerIds[key]) this.#boss?.notifyWorker(id);
  }

  async #tick(): Promise<void> {
    const boss = this.#boss;
    if (!boss || this.#state !== 'running') return;
    const seconds = Math.max(1, Math.round(this.#o.tickSeconds ?? 30));
    try {
      // Every worker asks; the singleton slot (key + seconds) lets one job per slot in.
      const id = await boss.sendThrottled(
        QUEUES.schedule,
        {},
        jobPolicy(this.#policies.schedule),
        seconds,
        'tick',
      );
      if (id) this.#notify('schedule');
    } catch (err) {
      this.#log.warn(
        { err: errorMessage(err) },
        'could not enqueue the schedule tick; trying again next tick',
      );
    }
  }

  /** The sync task, plus what the in-process scheduler does after a run: notifications. */
  #syncHandler(): Task<SyncJobData, SyncTaskResult | Refused> {
    return async (payload, h) => {
      const startedAt = Date.now();
      let result: SyncTaskResult | Refused | undefined;
      let error: unknown;
      try {
        result = await syncTask(payload, h);
        return result;
      } catch (err) {
        error = err;
        throw err;
      } finally {
        await this.#afterSync(payload, startedAt, result, error);
      }
    };
  }

  async #afterSync(
    payload: SyncJobData,
    startedAt: number,
    result: SyncTaskResult | Refused | undefined,
    error: unknown,
  ): Promise<void> {
    const hook = this.#o.onRunFinished;
    if (!hook) return;
    const finishedAt = Date.now();
    const db = this.#o.deps.store.db;
    try {
      const integration = await getIntegration(db, payload.integrationId);
      const failure =
        error !== undefined ? errorMessage(error) : result?.outcome === 'refused' ? result.reason : undefined;
      await hook({
        integration: { id: payload.integrationId, name: integration?.name ?? payload.integrationId },
        trigger: payload.trigger,
        startedAt: new Date(startedAt).toISOString(),
        finishedAt: new Date(finishedAt).toISOString(),
        durationMs: finishedAt - startedAt,
        outcome: failure === undefined ? 'succeeded' : 'failed',
        ...(result?.outcome === 'synced' ? { summary: result.summary } : {}),
        ...(failure !== undefined ? { error: failure } : {}),
        consecutiveFailures: await countConsecutiveFailures(db, payload.integrationId),
      });
    } catch (err) {
      this.#log.error(
        { integrationId: payload.integrationId, err: errorMessage(err) },
        'after-run hook failed',
      );
    }
  }

  /** Resolves with the sync's summary once its job completes; rejects when it fails or is refused. */
  async #awaitSync(boss: PgBoss, id: string): Promise<SyncSummary> {
    for (;;) {
      await new Promise((resolve) => setTimeout(resolve, 500).unref());
      if (this.#state === 'stopped') throw new SchedulerStoppedError();
      const job = await boss.getJobById<SyncJobData>(QUEUES.sync, id, { includeArchive: true });
      if (!job) throw new Error(`sync job ${id} disappeared from the queue`);
      const output = job.output as SyncTaskResult | Refused | undefined;
      if (job.state === 'completed') {
        if (output?.outcome === 'refused') throw new SyncRefusedError(output.reason);
        if (output?.outcome === 'synced') return output.summary;
        throw new Error(`sync job ${id} completed without a result`);
      }
      // A failed first attempt is reported as the in-process runner would; the queue retries on its own.
      if (job.state === 'failed' || job.state === 'retry') throw new Error(failureMessage(job.output));
      if (job.state === 'cancelled') throw new Error(`sync job ${id} was cancelled`);
    }
  }

  #refreshStatus(): Promise<void> {
    this.#refreshing ??= (async () => {
      try {
        const db = this.#o.deps.store.db;
        const [integrations, open, history] = await Promise.all([
          listIntegrations(db),
          openSyncJobs(db, { schema: this.#schema }),
          runHistories(db),
        ]);
        const now = Date.now();
        this.#snapshot = integrations
          .filter((i) => isSchedulable(i) || open.has(i.id))
          .map((i): IntegrationScheduleStatus => {
            const job = open.get(i.id);
            const h = history.get(i.id);
            const running = job?.state === 'active';
            const last = h?.lastStartedAt ? Date.parse(h.lastStartedAt) : undefined;
            const next = job
              ? now
              : last === undefined || last + this.#intervalMs <= now
                ? now
                : last + this.#intervalMs;
            return {
              id: i.id,
              name: i.name,
              mode: isSchedulable(i) ? i.mode : 'unscheduled',
              running,
              runningSince: running ? (job?.startedOn ?? null) : null,
              runningTrigger:
                running && (job?.trigger === 'manual' || job?.trigger === 'schedule') ? job.trigger : null,
              nextRunAt: running || !isSchedulable(i) ? null : new Date(next).toISOString(),
              lastOutcome: h?.lastOutcome ?? null,
              lastFinishedAt: h?.lastFinishedAt ?? null,
              consecutiveFailures: h?.consecutiveFailures ?? 0,
            };
          })
          .sort((a, b) => (a.nextRunAt ?? '~').localeCompare(b.nextRunAt ?? '~'));
        this.#snapshotAt = now;
      } catch (err) {
        this.#log.warn({ err: errorMessage(err) }, 'could not read the queue status; keeping the last one');
      } finally {
        this.#refreshing = undefined;
      }
    })();
    return this.#refreshing;
  }

  #runningNames(): string[] {
    return [...this.#running.values()].map((r) => `${r.queue}:${JSON.stringify(brief(r.data))}`);
  }
}

function brief(data: unknown): Record<string, unknown> {
  if (!data || typeof data !== 'object') return {};
  const d = data as Record<string, unknown>;
  return {
    ...(d.integrationId ? { integrationId: d.integrationId } : {}),
    ...(d.paymentReference ? { paymentReference: d.paymentReference } : {}),
    ...(d.trigger ? { trigger: d.trigger } : {}),
  };
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
