import type { Kysely } from 'kysely';
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';
import { listIntegrationActivity } from '../store/admin.repository.ts';
import { listIntegrations } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';

// Counters any module can bump without holding a reference to the server: the Klarna
// and Spiris clients record their calls here, the sync records booked payouts. Values
// that the database already knows (needs attention, last success) are read at scrape
// time instead, so they survive restarts and agree with the admin pages.

export const PREFIX = 'klarna_spiris_';

/** The process-wide registry behind the recordX functions below. */
export const processRegistry = new Registry();

export type Upstream = 'klarna' | 'spiris' | 'riksbank';
export type UpstreamOutcome =
  | 'ok'
  | 'client_error'
  | 'server_error'
  | 'rate_limited'
  | 'network_error'
  | 'timeout';

const upstreamRequests = new Counter({
  name: `${PREFIX}upstream_requests_total`,
  help: 'HTTP requests to upstream APIs, by upstream and outcome (each retry counts).',
  labelNames: ['upstream', 'outcome'] as const,
  registers: [processRegistry],
});

const upstreamErrors = new Counter({
  name: `${PREFIX}upstream_errors_total`,
  help: 'Failed upstream requests by upstream and error code (HTTP status or error class).',
  labelNames: ['upstream', 'code'] as const,
  registers: [processRegistry],
});

const upstreamDuration = new Histogram({
  name: `${PREFIX}upstream_request_duration_seconds`,
  help: 'Upstream request latency in seconds.',
  labelNames: ['upstream'] as const,
  buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
  registers: [processRegistry],
});

const payoutsBooked = new Counter({
  name: `${PREFIX}payouts_booked_total`,
  help: 'Payouts booked into Spiris by this process since it started.',
  labelNames: ['integration_id'] as const,
  registers: [processRegistry],
});

const httpRequests = new Counter({
  name: `${PREFIX}http_requests_total`,
  help: 'Requests served by the admin server, by route pattern and status class.',
  labelNames: ['method', 'route', 'status'] as const,
  registers: [processRegistry],
});

// Error codes come from upstream bodies; keep the label set small and printable.
function codeLabel(code: string | number): string {
  return String(code)
    .replace(/[^A-Za-z0-9_.-]/g, '_')
    .slice(0, 48);
}

/**
 * One upstream HTTP call. Errors also land in upstream_errors_total with `code`
 * (HTTP status, Spiris error code or an error class name) when given.
 */
export function recordUpstreamCall(
  upstream: Upstream,
  outcome: UpstreamOutcome,
  details: { durationMs?: number; code?: string | number } = {},
): void {
  upstreamRequests.inc({ upstream, outcome });
  if (outcome !== 'ok') upstreamErrors.inc({ upstream, code: codeLabel(details.code ?? outcome) });
  if (details.durationMs !== undefined) upstreamDuration.observe({ upstream }, details.durationMs / 1000);
}

export function recordPayoutBooked(integrationId: string, count = 1): void {
  payoutsBooked.inc({ integration_id: integrationId }, count);
}

export function recordHttpRequest(method: string, route: string, statusCode: number): void {
  httpRequests.inc({ method, route, status: `${Math.floor(statusCode / 100)}xx` });
}

let processMetricsOn = false;
/** Node's own metrics (memory, event loop lag, GC); once per process, from the serve runtime. */
export function enableProcessMetrics(): void {
  if (processMetricsOn) return;
  processMetricsOn = true;
  collectDefaultMetrics({ register: processRegistry, prefix: PREFIX });
}

export interface StoreMetrics {
  readonly registry: Registry;
  /** Re-reads the store into the gauges; called once per scrape. */
  refresh(): Promise<void>;
}

/** Gauges read from the store on every scrape; one set per store. */
export function createStoreMetrics(db: Kysely<Database>): StoreMetrics {
  const registry = new Registry();
  const needsAttention = new Gauge({
    name: `${PREFIX}payouts_needs_attention`,
    help: 'Payouts waiting for a person (state needs_attention), per integration.',
    labelNames: ['integration_id', 'integration'] as const,
    registers: [registry],
  });
  const payoutsByState = new Gauge({
    name: `${PREFIX}payouts`,
    help: 'Payouts in the store by state, per integration.',
    labelNames: ['integration_id', 'state'] as const,
    registers: [registry],
  });
  const lastSuccess = new Gauge({
    name: `${PREFIX}last_success_timestamp_seconds`,
    help: 'Unix time when the last successful sync run of the integration finished.',
    labelNames: ['integration_id', 'integration'] as const,
    registers: [registry],
  });
  const info = new Gauge({
    name: `${PREFIX}integration_info`,
    help: 'Always 1; labels carry the integration name, mode and status.',
    labelNames: ['integration_id', 'integration', 'mode', 'status'] as const,
    registers: [registry],
  });

  return {
    registry,
    async refresh() {
      const [integrations, activity] = await Promise.all([listIntegrations(db), listIntegrationActivity(db)]);
      // Reset first so a deleted integration drops out instead of reporting its last value forever.
      for (const g of [needsAttention, payoutsByState, lastSuccess, info]) g.reset();
      for (const i of integrations) {
        const a = activity.get(i.id);
        const ids = { integration_id: i.id, integration: i.name };
        info.set({ ...ids, mode: i.mode, status: i.status }, 1);
        needsAttention.set(ids, a?.payoutsByState.needs_attention ?? 0);
        for (const [state, n] of Object.entries(a?.payoutsByState ?? {})) {
          payoutsByState.set({ integration_id: i.id, state }, n);
        }
        if (a?.lastSuccessAt) lastSuccess.set(ids, Date.parse(a.lastSuccessAt) / 1000);
      }
    },
  };
}

/** The Prometheus text for one scrape: process counters plus the store-derived gauges. */
export async function renderMetrics(store: StoreMetrics): Promise<{ contentType: string; body: string }> {
  await store.refresh();
  const merged = Registry.merge([processRegistry, store.registry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}
