import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { listIntegrationActivity } from '../../store/admin.repository.ts';
import { type ConnectionRecord, getConnection } from '../../store/connections.repository.ts';
import { listEvents, recordEvent } from '../../store/events.repository.ts';
import {
  createIntegration,
  getIntegration,
  type Integration,
  listIntegrations,
  updateIntegration,
} from '../../store/integrations.repository.ts';
import { listSyncRuns } from '../../store/sync-runs.repository.ts';
import { requireApiToken } from '../auth/session.ts';
import type { AdminContext } from '../context.ts';
import { ApiError, COMMON_ERROR_RESPONSES, ErrorBodySchema } from '../errors.ts';
import { type IntegrationHealth, integrationHealth } from '../health.ts';
import { validateIntegrationName } from '../web/integrations.routes.ts';

// /api/v1: JSON for scripts and monitoring. Every response passes through its zod
// schema on the way out, which also strips any field the schema does not name, so a
// column added to a table never reaches a client by accident.

export const Timestamp = z.string().describe('ISO-8601 timestamp (UTC)');

const RunSummarySchema = z.object({
  id: z.string(),
  kind: z.string(),
  status: z.enum(['running', 'succeeded', 'failed']),
  startedAt: Timestamp,
  finishedAt: Timestamp.nullable(),
  error: z.string().nullable(),
});

const HealthSchema = z.object({
  state: z
    .enum(['ok', 'attention', 'failing', 'setup', 'paused', 'error'])
    .describe('Most urgent first: error, attention (payouts need a person), failing, setup, paused, ok'),
  reason: z.string().nullable(),
  needsAttention: z.number().int().describe('Payouts in state needs_attention'),
  lastRun: RunSummarySchema.nullable(),
  lastSuccessAt: Timestamp.nullable(),
});

export const IntegrationSchema = z.object({
  id: z.string(),
  name: z.string(),
  mode: z.enum(['off', 'test', 'live']),
  status: z.string(),
  statusReason: z.string().nullable(),
  klarnaConnectionId: z.string().nullable(),
  spirisConnectionId: z.string().nullable(),
  createdAt: Timestamp,
  updatedAt: Timestamp,
  health: HealthSchema,
});

export const ConnectionSchema = z
  .object({
    id: z.string(),
    kind: z.enum(['klarna', 'spiris']),
    environment: z.string(),
    secretHint: z
      .string()
      .nullable()
      .describe('Masked form of the stored credential, e.g. klarna_test_api_…X9z'),
    status: z.string(),
    statusReason: z.string().nullable(),
    externalId: z.string().nullable(),
    externalName: z.string().nullable(),
    updatedAt: Timestamp,
  })
  .describe('A connection as it may be shown: never the credential itself');

const EventSchema = z.object({
  id: z.number().int(),
  integrationId: z.string().nullable(),
  at: Timestamp,
  actor: z.string(),
  kind: z.string(),
  message: z.string(),
  data: z.unknown(),
});

const SyncRunSchema = RunSummarySchema.extend({
  integrationId: z.string().nullable(),
  summary: z.unknown(),
});

export const IdParams = z.object({ id: z.string().min(1).max(100) });
const NameBody = z.object({ name: z.string().trim().min(1).max(100) });
const Limit = z.coerce.number().int().min(1).max(500).default(100);

const notFound = () => new ApiError(404, 'not_found', 'No such integration.');

export function toIntegrationView(i: Integration, health: IntegrationHealth) {
  return {
    id: i.id,
    name: i.name,
    mode: i.mode,
    status: i.status,
    statusReason: i.statusReason,
    klarnaConnectionId: i.klarnaConnectionId,
    spirisConnectionId: i.spirisConnectionId,
    createdAt: i.createdAt,
    updatedAt: i.updatedAt,
    health,
  };
}

export function toConnectionView(c: ConnectionRecord) {
  return {
    id: c.id,
    kind: c.kind,
    environment: c.environment,
    secretHint: c.secretHint,
    status: c.status,
    statusReason: c.statusReason,
    externalId: c.externalId,
    externalName: c.externalName,
    updatedAt: c.updatedAt,
  };
}

export const security = [{ bearerAuth: [] }];

export async function registerApiV1Routes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const db = ctx.app.store.db;
  await server.register(rateLimit, {
    max: ctx.options.apiRateLimit.max,
    timeWindow: ctx.options.apiRateLimit.timeWindowMs,
    keyGenerator: (request) => request.ip,
    errorResponseBuilder: (_request, c) =>
      new ApiError(429, 'rate_limited', `Too many requests: at most ${c.max} per ${c.after}. Retry later.`),
  });
  server.addHook('onRequest', requireApiToken(ctx));
  const api = server.withTypeProvider<ZodTypeProvider>();
  const actor = (token: { name: string } | null) => `api:${token?.name ?? 'unknown'}`;

  const withHealth = async (integration: Integration) => {
    const activity = (await listIntegrationActivity(db, { integrationId: integration.id })).get(
      integration.id,
    );
    return toIntegrationView(integration, integrationHealth(integration, activity));
  };

  api.get(
    '/integrations',
    {
      schema: {
        tags: ['integrations'],
        summary: 'List integrations with their health',
        security,
        response: { 200: z.object({ items: z.array(IntegrationSchema) }), ...COMMON_ERROR_RESPONSES },
      },
    },
    async () => {
      const [integrations, activity] = await Promise.all([listIntegrations(db), listIntegrationActivity(db)]);
      return {
        items: integrations.map((i) => toIntegrationView(i, integrationHealth(i, activity.get(i.id)))),
      };
    },
  );

  api.post(
    '/integrations',
    {
      schema: {
        tags: ['integrations'],
        summary: 'Create an integration (mode off, no connections yet)',
        security,
        body: NameBody,
        response: { 201: IntegrationSchema, 409: ErrorBodySchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request, reply) => {
      const checked = await validateIntegrationName(ctx, request.body.name);
      if (!checked.ok) throw new ApiError(409, 'conflict', 'An integration with that name already exists.');
      const created = await createIntegration(db, { name: checked.name });
      await recordEvent(db, {
        integrationId: created.id,
        actor: actor(request.apiToken),
        kind: 'integration.created',
        message: `Integration "${created.name}" created`,
      });
      return reply.status(201).send(await withHealth(created));
    },
  );

  api.get(
    '/integrations/:id',
    {
      schema: {
        tags: ['integrations'],
        summary: 'One integration with its health',
        security,
        params: IdParams,
        response: { 200: IntegrationSchema, 404: ErrorBodySchema, ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const integration = await getIntegration(db, request.params.id);
      if (!integration) throw notFound();
      return withHealth(integration);
    },
  );

  api.patch(
    '/integrations/:id',
    {
      schema: {
        tags: ['integrations'],
        summary: 'Rename an integration',
        security,
        params: IdParams,
        body: NameBody,
        response: {
          200: IntegrationSchema,
          404: ErrorBodySchema,
          409: ErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await getIntegration(db, request.params.id);
      if (!integration) throw notFound();
      const checked = await validateIntegrationName(ctx, request.body.name, integration);
      if (!checked.ok) throw new ApiError(409, 'conflict', 'An integration with that name already exists.');
      if (checked.name === integration.name) return withHealth(integration);
      const updated = await updateIntegration(db, integration.id, { name: checked.name });
      await recordEvent(db, {
        integrationId: integration.id,
        actor: actor(request.apiToken),
        kind: 'integration.renamed',
        message: `Renamed from "${integration.name}" to "${checked.name}"`,
      });
      return withHealth(updated);
    },
  );

  api.get(
    '/integrations/:id/connections',
    {
      schema: {
        tags: ['integrations'],
        summary: "The integration's Klarna and Spiris connections, masked",
        security,
        params: IdParams,
        response: {
          200: z.object({ items: z.array(ConnectionSchema) }),
          404: ErrorBodySchema,
          ...COMMON_ERROR_RESPONSES,
        },
      },
    },
    async (request) => {
      const integration = await getIntegration(db, request.params.id);
      if (!integration) throw notFound();
      const ids = [integration.klarnaConnectionId, integration.spirisConnectionId].filter(
        (x): x is string => !!x,
      );
      const found = await Promise.all(ids.map((id) => getConnection(db, id)));
      return { items: found.filter((c): c is ConnectionRecord => !!c).map(toConnectionView) };
    },
  );

  api.get(
    '/events',
    {
      schema: {
        tags: ['history'],
        summary: 'The audit log, latest first',
        security,
        querystring: z.object({
          integrationId: z.string().max(100).optional(),
          kind: z
            .string()
            .max(100)
            .optional()
            .describe('Kind prefix, e.g. "integration." or "payout.booked"'),
          limit: Limit,
        }),
        response: { 200: z.object({ items: z.array(EventSchema) }), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { integrationId, kind, limit } = request.query;
      return { items: await listEvents(db, { integrationId, kindPrefix: kind, limit }) };
    },
  );

  api.get(
    '/sync-runs',
    {
      schema: {
        tags: ['history'],
        summary: 'Sync runs, latest first',
        security,
        querystring: z.object({ integrationId: z.string().max(100).optional(), limit: Limit }),
        response: { 200: z.object({ items: z.array(SyncRunSchema) }), ...COMMON_ERROR_RESPONSES },
      },
    },
    async (request) => {
      const { integrationId, limit } = request.query;
      return { items: await listSyncRuns(db, { integrationId, limit }) };
    },
  );
}
