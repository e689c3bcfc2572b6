import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { VOUCHER_TEXT_PREFIX } from '../../src/booking/voucher-text.ts';
import type { QueueRunnerOptions } from '../../src/jobs/queue-runner.ts';
import { AesGcmSealer } from '../../src/setup/credentials.ts';
import {
  type KlarnaSimulator,
  type SimMerchant,
  startKlarnaSimulator,
} from '../../src/simulators/klarna/index.ts';
import {
  type SimulatedVoucher,
  type SpirisSimulator,
  type SpirisSimulatorOptions,
  startSpirisSimulator,
} from '../../src/simulators/spiris/index.ts';
import type { Store } from '../../src/store/db.ts';
import { createIntegration, updateIntegration } from '../../src/store/integrations.repository.ts';
import type { SyncHookPoint } from '../../src/sync/sync-context.ts';
import { connectSimulatedKlarna, connectSimulatedSpiris, TODAY } from './integration-fixture.ts';

// Many small merchants against one Klarna simulator and one Spiris company: each
// integration its own Klarna connection (merchant), all sharing one Spiris connection,
// so vouchers are told apart by the payment reference in their marker and every worker
// refreshes the same rotating refresh token. Workers run as child processes.

export interface FleetOptions {
  integrations: number;
  /** Payouts per merchant (one a day); default 3. */
  days?: number;
  /** Mean orders per payout; default 2, so a sync is mostly overhead, not data. */
  ordersPerPayout?: number;
  spiris?: SpirisSimulatorOptions;
  /** Requests per second per merchant; default 0 (off). */
  klarnaRateLimitPerSecond?: number;
  attachReport?: boolean;
  /** Access tokens this short force refreshes (and the cross-worker lock) during the run. */
  accessTokenLifetimeSeconds?: number;
}

export interface Fleet {
  klarna: KlarnaSimulator;
  spiris: SpirisSimulator;
  merchants: SimMerchant[];
  integrationIds: string[];
  /** Every payout the merchants have: payment reference → integration id. */
  payouts: Map<string, string>;
  secretKey: Buffer;
  /** Vouchers in Spiris per payment reference (booking markers only). */
  vouchersByReference(): Map<string, SimulatedVoucher[]>;
  close(): Promise<void>;
}

const START_DATE = '2026-06-01';

export async function openFleet(store: Pick<Store, 'db'>, opts: FleetOptions): Promise<Fleet> {
  const days = opts.days ?? 3;
  const lifetime = opts.accessTokenLifetimeSeconds ?? 3600;
  const [klarna, spiris] = await Promise.all([
    startKlarnaSimulator({ rateLimitPerSecond: opts.klarnaRateLimitPerSecond ?? 0, merchants: [] }),
    startSpirisSimulator({
      today: TODAY,
      rateLimitPerMinute: 0,
      accessTokenLifetimeSeconds: lifetime,
      requestLogLimit: 10,
      ...opts.spiris,
    }),
  ]);
  const secretKey = randomBytes(32);
  const sealer = new AesGcmSealer(secretKey);
  const spirisConnection = await connectSimulatedSpiris(store, sealer, spiris, lifetime);

  const merchants: SimMerchant[] = [];
  const integrationIds: string[] = [];
  const payouts = new Map<string, string>();
  for (let n = 0; n < opts.integrations; n++) {
    const merchant = klarna.addMerchant({
      seed: 1000 + n,
      days,
      startDate: START_DATE,
      ordersPerPayout: opts.ordersPerPayout ?? 2,
      negativePayouts: [],
    });
    merchants.push(merchant);
    const klarnaConnection = await connectSimulatedKlarna(store, sealer, klarna.url, merchant);
    const created = await createIntegration(store.db, { name: `butik-${merchant.merchantId}` });
    await updateIntegration(store.db, created.id, {
      mode: 'test',
      klarnaConnectionId: klarnaConnection.id,
      spirisConnectionId: spirisConnection.id,
      settings: { catchUpSince: START_DATE, attachReport: opts.attachReport ?? true },
    });
    integrationIds.push(created.id);
    for (const p of merchant.payouts) {
      if (payouts.has(p.payment_reference)) {
        throw new Error(`two merchants share payment reference ${p.payment_reference}; pick other seeds`);
      }
      payouts.set(p.payment_reference, created.id);
    }
  }

  return {
    klarna,
    spiris,
    merchants,
    integrationIds,
    payouts,
    secretKey,
    vouchersByReference() {
      const byRef = new Map<string, SimulatedVoucher[]>();
      for (const v of spiris.vouchers) {
        // Bookings start with the marker "Klarna utbetalning <reference>" (voucher-marker.ts).
        const ref = v.VoucherText.startsWith(`${VOUCHER_TEXT_PREFIX} `)
          ? v.VoucherText.slice(VOUCHER_TEXT_PREFIX.length + 1).split(' ')[0]
          : undefined;
        if (!ref || !payouts.has(ref)) continue;
        const list = byRef.get(ref) ?? [];
        list.push(v);
        byRef.set(ref, list);
      }
      return byRef;
    },
    async close() {
      await Promise.all([klarna.close(), spiris.close()]);
    },
  };
}

export interface WorkerProcess {
  readonly pid: number;
  readonly name: string;
  /** JSON lines the worker printed (ready, crash, stopped). */
  readonly lines: Record<string, unknown>[];
  readonly stderr: () => string;
  ready: Promise<void>;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** SIGTERM, then waits for the worker to drain and exit. */
  stop(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  kill(): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export interface WorkerSpawnOptions {
  name: string;
  runner: Partial<Omit<QueueRunnerOptions, 'deps' | 'logger' | 'connectionString' | 'onRunFinished'>>;
  budgets?: 'shared' | 'local' | 'off';
  fastRetries?: boolean;
  crashAt?: SyncHookPoint;
  crashNth?: number;
  leaseTtlMs?: number;
  refreshMarginMs?: number;
  drainMs?: number;
  logLevel?: string;
}

const CHILD = fileURLToPath(new URL('./worker-child.ts', import.meta.url));

export function spawnWorker(databaseUrl: string, secretKey: Buffer, opts: WorkerSpawnOptions): WorkerProcess {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', CHILD], {
    env: {
      ...process.env,
      KS_WORKER_DB: databaseUrl,
      KS_WORKER_KEY: secretKey.toString('base64'),
      KS_WORKER_NOW: `${TODAY}T10:00:00Z`,
      KS_WORKER_NAME: opts.name,
      KS_WORKER_OPTIONS: JSON.stringify(opts.runner),
      KS_WORKER_BUDGETS: opts.budgets ?? 'off',
      KS_WORKER_FAST_RETRIES: opts.fastRetries === false ? '0' : '1',
      KS_WORKER_LOG: opts.logLevel ?? 'error',
      ...(opts.crashAt ? { KS_CRASH_AT: opts.crashAt, KS_CRASH_NTH: String(opts.crashNth ?? 1) } : {}),
      ...(opts.leaseTtlMs ? { KS_WORKER_LEASE_TTL_MS: String(opts.leaseTtlMs) } : {}),
      ...(opts.refreshMarginMs ? { KS_WORKER_REFRESH_MARGIN_MS: String(opts.refreshMarginMs) } : {}),
      ...(opts.drainMs !== undefined ? { KS_WORKER_DRAIN_MS: String(opts.drainMs) } : {}),
    },
    // stdin stays open while we live; the worker exits when it closes (see worker-child.ts).
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  const lines: Record<string, unknown>[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => {
    stderr += d.toString();
  });
  let readyResolve: () => void = () => {};
  let readyReject: (err: Error) => void = () => {};
  const ready = new Promise<void>((resolve, reject) => {
    readyResolve = resolve;
    readyReject = reject;
  });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      lines.push(parsed);
      if ('ready' in parsed) readyResolve();
    } catch {
      // Not ours: ignore.
    }
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => {
      readyReject(new Error(`worker ${opts.name} exited (${code ?? signal}) before it was ready: ${stderr}`));
      resolve({ code, signal });
    });
  });
  return {
    pid: child.pid!,
    name: opts.name,
    lines,
    stderr: () => stderr,
    ready,
    exited,
    stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      return exited;
    },
    kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
  };
}
