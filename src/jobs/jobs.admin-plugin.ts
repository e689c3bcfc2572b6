import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { requireApiToken, requireSession } from '../admin/auth/session.ts';
import type { AdminContext, AdminPlugin } from '../admin/context.ts';
import { ApiError, COMMON_ERROR_RESPONSES } from '../admin/errors.ts';
import { html, path, type SafeHtml } from '../admin/web/html.ts';
import type { Lang } from '../admin/web/i18n.ts';
import { sendPage } from '../admin/web/layout.ts';
import type { IntegrationSection } from '../admin/web/sections.ts';
import { emptyState, time } from '../admin/web/views.ts';
import { type FailedJob, listFailedJobs } from './failed-jobs.ts';
import { QUEUE_KEYS, type QueueKey } from './queues.ts';

// Failed queue jobs in the admin server, self-contained so it plugs in without touching
// the admin's own files:
//   GET /api/v1/jobs/failed   (API token)   jobs that used up their retries, with reasons
//   GET /jobs                 (session)     the same as a page
//   integration tab "jobs"                  one integration's failed jobs
// `serve --workers external` mounts it (see queueServeHook in runner.ts).
// The texts live here, in both languages, rather than in the admin's dictionaries.

const TEXT = {
  sv: {
    title: 'Misslyckade jobb',
    tab: 'Jobb',
    intro:
      'Jobb i kön som har använt alla sina försök. Utbetalningarna bokas inte dubbelt: nästa synkronisering tar upp dem igen.',
    none: 'Inga misslyckade jobb.',
    noQueue: 'Ingen jobbkö här: den finns bara med PostgreSQL och klarna-spiris worker.',
    caption: 'Senaste misslyckade jobb',
    failedAt: 'Misslyckades',
    queue: 'Kö',
    integration: 'Integration',
    payout: 'Utbetalning',
    attempts: 'Försök',
    reason: 'Orsak',
    queues: { schedule: 'schemaläggning', sync: 'synkronisering', post: 'bokföring' },
  },
  en: {
    title: 'Failed jobs',
    tab: 'Jobs',
    intro:
      'Queue jobs that used up their retries. Nothing is booked twice: the next sync picks these payouts up again.',
    none: 'No failed jobs.',
    noQueue: 'No job queue here: it exists only with PostgreSQL and klarna-spiris worker.',
    caption: 'Latest failed jobs',
    failedAt: 'Failed',
    queue: 'Queue',
    integration: 'Integration',
    payout: 'Payout',
    attempts: 'Attempts',
    reason: 'Reason',
    queues: { schedule: 'schedule', sync: 'sync', post: 'post' },
  },
} as const;

const text = (lang: Lang | string) => (lang === 'en' ? TEXT.en : TEXT.sv);

const Timestamp = z.string().describe('ISO-8601 timestamp (UTC)');

export const FailedJobSchema = z.object({
  id: z.string(),
  queue: z
    .enum(QUEUE_KEYS as [QueueKey, ...QueueKey[]])
    .describe('schedule, sync (one integration) or post (one payout)'),
  integrationId: z.string().nullable(),
  integrationName: z.string().nullable(),
  payoutId: z.string().nullable(),
  paymentReference: z.string().nullable(),
  attempts: z.number().int().describe('Runs, the first included'),
  createdAt: Timestamp,
  failedAt: Timestamp.nullable(),
  error: z.string().describe('Why the last attempt failed'),
  live: z.boolean().describe('False once the queue has archived it (kept 7 days)'),
});

const FailedJobsQuery = z.object({
  limit: z.coerce.number().int().min(1).max(500).default(50),
  integrationId: z.string().min(1).optional(),
  queue: z.enum(QUEUE_KEYS as [QueueKey, ...QueueKey[]]).optional(),
});

function failedJobsTable(request: FastifyRequest, jobs: FailedJob[], withIntegration: boolean): SafeHtml {
  const tx = text(request.lang);
  if (jobs.length === 0) return emptyState(tx.none);
  return html`<div class="table-wrap"><table>
    <caption>${tx.caption}</caption>
    <thead><tr>
      <th scope="col">${tx.failedAt}</th>
      <th scope="col">${tx.queue}</th>
      ${withIntegration ? html`<th scope="col">${tx.integration}</th>` : ''}
      <th scope="col">${tx.payout}</th>
      <th scope="col">${tx.attempts}</th>
      <th scope="col">${tx.reason}</th>
    </tr></thead>
    <tbody>
      ${jobs.map(
        (j) => html`<tr>
          <td>${time(request, j.failedAt ?? j.createdAt)}</td>
          <td>${tx.queues[j.queue]}</td>
          ${
            withIntegration
              ? html`<td>${
                  j.integrationId
                    ? html`<a href="${path('/integrations', j.integrationId)}">${j.integrationName ?? j.integrationId}</a>`
                    : '—'
                }</td>`
              : ''
          }
          <td>${j.paymentReference ? html`<code>${j.paymentReference}</code>` : '—'}</td>
          <td>${j.attempts}</td>
          <td>${j.error}</td>
        </tr>`,
      )}
    </tbody>
  </table></div>`;
}

function noQueueNote(ctx: AdminContext, request: FastifyRequest): SafeHtml | '' {
  return ctx.app.store.dialect === 'postgres' ? '' : html`<p class="muted">${text(request.lang).noQueue}</p>`;
}

/** The API route and the page; see the file comment for how to register it. */
export function createJobsAdmin(options: { schema?: string } = {}): {
  plugin: AdminPlugin;
  section: IntegrationSection;
} {
  const schema = options.schema ? { schema: options.schema } : {};
  const plugin: AdminPlugin = async (server: FastifyInstance, ctx: AdminContext) => {
    const store = ctx.app.store;

    await server.register(
      async (api) => {
        await api.register(rateLimit, {
          max: ctx.options.apiRateLimit.max,
          timeWindow: ctx.options.apiRateLimit.timeWindowMs,
          keyGenerator: (request) => request.ip,
          errorResponseBuilder: (_request, c) =>
            new ApiError(
              429,
              'rate_limited',
              `Too many requests: at most ${c.max} per ${c.after}. Retry later.`,
            ),
        });
        api.addHook('onRequest', requireApiToken(ctx));
        api.withTypeProvider<ZodTypeProvider>().get(
          '/jobs/failed',
          {
            schema: {
              tags: ['jobs'],
              summary:
                'Queue jobs that used up their retries, newest first, with the reason of the last failure',
              description:
                'Only with PostgreSQL and `klarna-spiris worker`; empty otherwise. A failed post job never means a double booking: the payout stays ready or posting, and the next sync settles it.',
              security: [{ bearerAuth: [] }],
              querystring: FailedJobsQuery,
              response: { 200: z.object({ items: z.array(FailedJobSchema) }), ...COMMON_ERROR_RESPONSES },
            },
          },
          async (request) => {
            const q = request.query;
            return {
              items: await listFailedJobs(store, {
                ...schema,
                limit: q.limit,
                ...(q.integrationId ? { integrationId: q.integrationId } : {}),
                ...(q.queue ? { queue: q.queue } : {}),
              }),
            };
          },
        );
      },
      { prefix: '/api/v1' },
    );

    await server.register(async (pages) => {
      pages.addHook('preHandler', requireSession(ctx));
      pages.get('/jobs', async (request, reply) => {
        const tx = text(request.lang);
        const jobs = await listFailedJobs(store, { ...schema, limit: 100 });
        return sendPage(request, reply, {
          title: tx.title,
          body: html`<h1>${tx.title}</h1>
          <p>${tx.intro}</p>
          ${noQueueNote(ctx, request)}
          ${failedJobsTable(request, jobs, true)}`,
        });
      });
    });
  };

  /** The integration page's "Jobs" tab: that integration's failed jobs. */
  const section: IntegrationSection = {
    id: 'jobs',
    label: (_t, lang) => text(lang).tab,
    async render(sc) {
      const tx = text(sc.request.lang);
      const jobs = await listFailedJobs(sc.admin.app.store, {
        ...schema,
        integrationId: sc.integration.id,
        limit: 50,
      });
      return html`<h2>${tx.title}</h2>
      <p>${tx.intro}</p>
      ${noQueueNote(sc.admin, sc.request)}
      ${failedJobsTable(sc.request, jobs, false)}`;
    },
  };
  return { plugin, section };
}

const defaults = createJobsAdmin();
/** For the default queue schema (pgboss). */
export const jobsAdminPlugin = defaults.plugin;
export const failedJobsSection = defaults.section;
