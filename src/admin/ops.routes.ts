import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { sql } from 'kysely';
import { z } from 'zod';
import { renderMetrics } from '../service/metrics.ts';
import type { AdminContext } from './context.ts';

// A health check that hangs is worse than one that fails: orchestrators wait on it.
const HEALTH_TIMEOUT_MS = 2_000;

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

/** /healthz and /metrics: unauthenticated, for load balancers and Prometheus; neither shows a secret. */
export async function registerOpsRoutes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const api = server.withTypeProvider<ZodTypeProvider>();
  api.get(
    '/healthz',
    {
      schema: {
        tags: ['ops'],
        summary: 'Liveness and store reachability',
        response: {
          200: z.object({ status: z.literal('ok') }),
          503: z.object({ status: z.literal('unavailable') }),
        },
      },
    },
    async (request, reply) => {
      try {
        await withTimeout(sql`select 1`.execute(ctx.app.store.db), HEALTH_TIMEOUT_MS);
        return { status: 'ok' as const };
      } catch (err) {
        request.log.warn({ reason: (err as Error).message }, 'health check failed: store unreachable');
        return reply.status(503).send({ status: 'unavailable' as const });
      }
    },
  );

  server.get('/metrics', { schema: { hide: true } }, async (_request, reply) => {
    const { contentType, body } = await renderMetrics(ctx.storeMetrics);
    return reply.type(contentType).header('cache-control', 'no-store').send(body);
  });
}
