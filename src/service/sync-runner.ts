import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { App } from '../app.ts';
import type { SyncDeps } from '../sync/sync-context.ts';
import type { SyncFunction, SyncSummary } from './scheduler.ts';

// The one place the serve process reaches the sync engine. It is imported lazily, so a
// build without the engine still serves the admin UI and fails only when a sync runs.

const ENGINE_URL = new URL('../sync/sync.service.ts', import.meta.url);

export class SyncEngineUnavailableError extends Error {
  constructor(detail: string) {
    super(`The sync engine is not available in this build (${detail}); no sync can run.`);
    this.name = 'SyncEngineUnavailableError';
  }
}

/** The engine's result, structurally: lists of payouts, or counts. */
interface EngineResult {
  booked: unknown[] | number;
  needsAttention: unknown[] | number;
  skipped: unknown[] | number;
  failed: unknown[] | number;
  error?: string | null;
}

type EngineModule = {
  syncIntegration?: (
    deps: SyncDeps,
    input: { integrationId: string; signal?: AbortSignal },
  ) => Promise<EngineResult>;
};

const count = (v: unknown[] | number): number => (Array.isArray(v) ? v.length : v);

/** The engine's `syncIntegration`, bound to the app's store, sealer and logger. */
export async function loadSyncFunction(app: App, opts: { actor?: string } = {}): Promise<SyncFunction> {
  if (!existsSync(fileURLToPath(ENGINE_URL)))
    throw new SyncEngineUnavailableError('src/sync/sync.service.ts is missing');
  const mod = (await import(ENGINE_URL.href)) as EngineModule;
  const syncIntegration = mod.syncIntegration;
  if (typeof syncIntegration !== 'function') {
    throw new SyncEngineUnavailableError('src/sync/sync.service.ts does not export syncIntegration');
  }
  const deps: SyncDeps = {
    store: app.store,
    sealer: app.sealer,
    logger: app.logger,
    actor: opts.actor ?? 'scheduler',
  };
  return async (input): Promise<SyncSummary> => {
    const r = await syncIntegration(deps, input);
    return {
      booked: count(r.booked),
      needsAttention: count(r.needsAttention),
      skipped: count(r.skipped),
      failed: count(r.failed),
      error: r.error ?? null,
    };
  };
}

/** A SyncFunction that loads the engine on its first call (and again after a failed load). */
export function lazySyncFunction(app: App, opts: { actor?: string } = {}): SyncFunction {
  let loading: Promise<SyncFunction> | undefined;
  return async (input) => {
    loading ??= loadSyncFunction(app, opts);
    let fn: SyncFunction;
    try {
      fn = await loading;
    } catch (err) {
      loading = undefined;
      throw err;
    }
    return fn(input);
  };
}
