import { readFileSync } from 'node:fs';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import Fastify, {
  type FastifyBaseLogger,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  LogController,
} from 'fastify';
import { serializerCompiler, validatorCompiler } from 'fastify-type-provider-zod';
import type { App } from '../app.ts';
import { createStoreMetrics, recordHttpRequest } from '../service/metrics.ts';
import type { JobRunner } from '../service/scheduler.ts';
import type { SyncDeps } from '../sync/sync-context.ts';
import { AccountNames } from './account-names.ts';
import { registerApiV1Routes } from './api/api.routes.ts';
import { registerIntegrationApiRoutes } from './api/integration-api.routes.ts';
import { registerOpenApi, registerOpenApiRoutes } from './api/openapi.ts';
import { LoginThrottle } from './auth/login-throttle.ts';
import { baseCookieOptions, requireSession } from './auth/session.ts';
import {
  type AdminContext,
  type AdminPlugin,
  type AdminServerOptions,
  DEFAULT_ADMIN_OPTIONS,
  type DemoHints,
} from './context.ts';
import { toApiError } from './errors.ts';
import { registerOAuthRoutes } from './oauth.routes.ts';
import { registerOpsRoutes } from './ops.routes.ts';
import { applySecurityHeaders } from './security-headers.ts';
import { SyncJobs } from './sync-jobs.ts';
import { registerIntegrationActionRoutes } from './web/actions.routes.ts';
import { loadAssets } from './web/assets.ts';
import { registerAuthRoutes } from './web/auth.routes.ts';
import { html } from './web/html.ts';
import { DEFAULT_LANG, isLang, type Lang, translator } from './web/i18n.ts';
import { registerIntegrationRoutes } from './web/integrations.routes.ts';
import { sendPage, useAssets } from './web/layout.ts';
import { defaultSections, type IntegrationSection, mergeSections } from './web/sections.ts';
import { registerTokenRoutes } from './web/tokens.routes.ts';

export type { AdminContext, AdminPlugin, AdminServerOptions, DemoHints } from './context.ts';
export type { IntegrationSection, SectionContext } from './web/sections.ts';

export interface AdminServerDeps {
  app: App;
  options?: Partial<AdminServerOptions>;
  /**
   * Extensions registered on the root server after the built-in routes: more pages,
   * more API routes, demo controls. Each decides its own protection (requireSession
   * for pages, requireApiToken for API routes).
   */
  plugins?: readonly AdminPlugin[];
  /** Integration page sections; an id that matches a built-in placeholder replaces it. */
  sections?: readonly IntegrationSection[];
  clock?: () => Date;
  /** The serve process's scheduler: "sync now" goes through its runNow when there is one. */
  runner?: () => JobRunner | undefined;
  /** Overrides for the sync engine and the Spiris/Klarna clients it opens (tests: fast retries). */
  syncDeps?: Partial<SyncDeps>;
  /** Simulator addresses while `serve --demo` runs. */
  demo?: () => DemoHints | undefined;
}

export const LANG_COOKIE = 'ks_lang';
const ONE_YEAR_S = 365 * 24 * 3600;

function packageVersion(): string {
  try {
    const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as {
      version?: string;
    };
    return pkg.version ?? '0.0.0';
  } catch {
    return '0.0.0';
  }
}

function wantsJson(request: FastifyRequest): boolean {
  const url = request.url;
  if (url.startsWith('/api/')) return !url.startsWith('/api/docs');
  return url === '/healthz' || url === '/metrics';
}

/** Builds the admin server (UI, /api/v1, /healthz, /metrics) without listening: tests call inject() on it. */
export async function buildServer(deps: AdminServerDeps): Promise<FastifyInstance> {
  const { app } = deps;
  const options: AdminServerOptions = { ...DEFAULT_ADMIN_OPTIONS, ...deps.options };
  const clock = deps.clock ?? (() => new Date());
  const ctx: AdminContext = {
    app,
    options,
    clock,
    throttle: new LoginThrottle(options.loginLimits, () => clock().getTime()),
    storeMetrics: createStoreMetrics(app.store.db),
    sections: mergeSections(defaultSections(), deps.sections),
    jobs: new SyncJobs({
      app,
      ...(deps.runner ? { runner: deps.runner } : {}),
      ...(deps.syncDeps ? { syncDeps: deps.syncDeps } : {}),
    }),
    accountNames: new AccountNames(app, deps.syncDeps?.spirisOptions),
    demo: deps.demo ?? (() => undefined),
  };

  const server = Fastify({
    loggerInstance: app.logger.child({ component: 'admin' }) as FastifyBaseLogger,
    // Fastify accepts a hop count at run time; its types only lack the number form.
    trustProxy: options.trustProxy as boolean | string[],
    // Requests are logged once, in onResponse below, without query strings or headers.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    return503OnClosing: true,
  });
  server.setValidatorCompiler(validatorCompiler);
  server.setSerializerCompiler(serializerCompiler);

  server.decorateRequest('adminSession', null);
  server.decorateRequest('apiToken', null);
  server.decorateRequest('lang', DEFAULT_LANG);
  server.decorateRequest('t', null as unknown as FastifyRequest['t']);

  await server.register(cookie);
  await server.register(formbody, { bodyLimit: 64 * 1024 });
  await registerOpenApi(server, packageVersion());

  server.addHook('onRequest', async (request, reply) => {
    const asked = (request.query as Record<string, unknown> | undefined)?.lang;
    let lang: Lang = DEFAULT_LANG;
    if (isLang(asked)) {
      lang = asked;
      reply.setCookie(LANG_COOKIE, asked, { ...baseCookieOptions(ctx, request), maxAge: ONE_YEAR_S });
    } else if (isLang(request.cookies[LANG_COOKIE])) {
      lang = request.cookies[LANG_COOKIE] as Lang;
    }
    request.lang = lang;
    request.t = translator(lang);
  });
  server.addHook('onSend', async (request, reply, payload) => {
    applySecurityHeaders(request, reply);
    return payload;
  });
  server.addHook('onResponse', async (request, reply) => {
    const route = request.routeOptions.url ?? 'unmatched';
    recordHttpRequest(request.method, route, reply.statusCode);
    if (!route.startsWith('/assets/')) {
      request.log.debug(
        { method: request.method, route, status: reply.statusCode, ms: Math.round(reply.elapsedTime) },
        'request',
      );
    }
  });

  // One error handler: JSON { error: { code, message } } for the API, a page for people.
  server.setErrorHandler(async (err, request, reply) => {
    const apiError = toApiError(err);
    if (apiError.statusCode >= 500) request.log.error({ err }, 'request failed');
    reply.status(apiError.statusCode);
    if (wantsJson(request)) return reply.send(apiError.toJSON());
    return errorPage(request, reply, apiError.statusCode, apiError.code, apiError.message);
  });
  server.setNotFoundHandler(async (request, reply) => {
    reply.status(404);
    if (wantsJson(request)) return reply.send({ error: { code: 'not_found', message: 'No such route.' } });
    return errorPage(request, reply, 404, 'not_found', '');
  });

  const assets = loadAssets();
  useAssets(assets);
  server.get<{ Params: { name: string }; Querystring: { v?: string } }>(
    '/assets/:name',
    { schema: { hide: true } },
    async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (!asset) return reply.callNotFound();
      const fresh = request.query.v === asset.hash;
      return reply
        .type(asset.contentType)
        .header('cache-control', fresh ? 'public, max-age=31536000, immutable' : 'no-cache')
        .send(asset.body);
    },
  );

  await registerOpsRoutes(server, ctx);
  await server.register(
    async (api) => {
      await registerApiV1Routes(api, ctx);
      await registerIntegrationApiRoutes(api, ctx);
    },
    { prefix: '/api/v1' },
  );
  await registerOpenApiRoutes(server);
  await registerAuthRoutes(server, ctx);
  await server.register(async (authed) => {
    authed.addHook('preHandler', requireSession(ctx));
    await registerIntegrationRoutes(authed, ctx);
    await registerIntegrationActionRoutes(authed, ctx);
    await registerOAuthRoutes(authed, ctx);
    await registerTokenRoutes(authed, ctx);
  });
  // Background syncs stop between payouts on shutdown; the next run resumes them.
  server.addHook('onClose', async () => ctx.jobs.close());
  for (const plugin of deps.plugins ?? []) {
    await server.register(async (scope) => plugin(scope, ctx));
  }
  await server.ready();
  return server;
}

function errorPage(
  request: FastifyRequest,
  reply: FastifyReply,
  status: number,
  code: string,
  message: string,
) {
  request.t ??= translator(DEFAULT_LANG);
  const t = request.t;
  const title = code === 'csrf_failed' ? t('csrf.title') : t('error.title');
  const text =
    code === 'csrf_failed'
      ? t('csrf.message')
      : code === 'not_found'
        ? t('error.notFound')
        : status >= 500
          ? t('error.server')
          : message;
  return sendPage(request, reply, {
    title,
    status,
    body: html`<section class="card error-card" aria-labelledby="error-title">
      <h1 id="error-title">${title}</h1>
      <p>${text}</p>
      <p><a href="/">${t('error.back')}</a></p>
    </section>`,
  });
}
