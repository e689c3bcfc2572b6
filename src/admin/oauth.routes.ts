import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { SealedSecret } from '../setup/credentials.ts';
import { Secret } from '../setup/secret.ts';
import { connectSpirisCompany, spirisEnvironmentRefusal } from '../setup/spiris-connect.ts';
import {
  buildAuthorizeUrl,
  createPkcePair,
  DEFAULT_SPIRIS_SCOPES,
  generateState,
  parseAuthorizationCallback,
  type SpirisEndpoints,
  type SpirisEnvironment,
} from '../spiris/oauth.ts';
import { baseCookieOptions, formField } from './auth/session.ts';
import { safeEqual } from './auth/tokens.ts';
import type { AdminContext } from './context.ts';
import { domainApiError } from './domain-errors.ts';
import { ApiError } from './errors.ts';
import { optionalOrgNumber, pastedSecret, requireIntegration, spirisEndpoints } from './operations.ts';
import { UI_ACTOR } from './web/actions.routes.ts';
import { html, path } from './web/html.ts';
import { renderIntegrationPage } from './web/integrations.routes.ts';
import { sendPage } from './web/layout.ts';
import type { SetupState } from './web/pages/setup.page.ts';
import { spirisRedirectUri } from './web/pages/setup.page.ts';

// "Connect Spiris" in the browser: the authorization-code flow with PKCE, ending at
// /oauth/spiris/callback on this service. What the callback needs (state, PKCE
// verifier, client, hosts) travels in a cookie sealed with the credential key, bound
// to the admin session that started it, so no flow is kept in memory and any
// instance behind a load balancer can finish it.

export const OAUTH_COOKIE = 'ks_oauth';
export const CALLBACK_PATH = '/oauth/spiris/callback';
const FLOW_TTL_MS = 10 * 60_000;

interface PendingFlow {
  v: 1;
  state: string;
  session: string;
  integrationId: string;
  environment: SpirisEnvironment;
  endpoints: SpirisEndpoints;
  clientId: string;
  clientSecret: string;
  verifier: string;
  redirectUri: string;
  orgNumber?: string;
  confirmCompanyChange: boolean;
  expiresAt: number;
}

function sealFlow(ctx: AdminContext, flow: PendingFlow): string {
  return ctx.app.sealer.seal(new Secret(JSON.stringify(flow)));
}

function openFlow(ctx: AdminContext, sealed: string | undefined): PendingFlow | undefined {
  if (!sealed) return undefined;
  try {
    const flow = JSON.parse(ctx.app.sealer.open(sealed as SealedSecret).reveal()) as PendingFlow;
    return flow.v === 1 ? flow : undefined;
  } catch {
    return undefined;
  }
}

export async function registerOAuthRoutes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const cookieOptions = (request: FastifyRequest) => ({
    ...baseCookieOptions(ctx, request),
    // Lax: Visma's redirect back is a top-level GET from another site, which Lax allows.
    path: CALLBACK_PATH,
  });

  const setupWithError = (
    request: FastifyRequest,
    integrationId: string,
    reply: FastifyReply,
    error: ApiError,
    values: Record<string, string>,
  ) => {
    const state: SetupState = {
      form: 'spiris-oauth',
      ...(error.details?.field ? { field: error.details.field } : {}),
      error: error.message,
      values,
    };
    return renderIntegrationPage(ctx, request, reply, {
      integrationId,
      sectionId: 'setup',
      state,
      status: error.statusCode,
    });
  };

  server.post(
    '/integrations/:id/spiris/authorize',
    async (request: FastifyRequest<{ Params: { id: string } }>, reply) => {
      const integration = await requireIntegration(ctx, request.params.id);
      const f = (name: string) => formField(request, name).trim();
      const values = Object.fromEntries(
        ['environment', 'clientId', 'identityBaseUrl', 'apiBaseUrl', 'orgNumber', 'confirmCompanyChange'].map(
          (n) => [n, f(n)],
        ),
      );
      let flow: PendingFlow;
      const pkce = createPkcePair();
      try {
        const { environment, endpoints } = spirisEndpoints({
          environment: f('environment'),
          identityBaseUrl: f('identityBaseUrl') || undefined,
          apiBaseUrl: f('apiBaseUrl') || undefined,
        });
        const refusal = spirisEnvironmentRefusal(integration, environment);
        if (refusal) throw new ApiError(409, 'conflict', refusal);
        const clientId = f('clientId');
        if (!clientId) {
          throw new ApiError(422, 'unprocessable', request.t('spiris.clientId.missing'), {
            field: 'clientId',
          });
        }
        const secret = pastedSecret('clientSecret', 'client secret', formField(request, 'clientSecret'));
        if (!secret) {
          throw new ApiError(422, 'unprocessable', request.t('spiris.clientSecret.missing'), {
            field: 'clientSecret',
          });
        }
        const orgNumber = optionalOrgNumber(f('orgNumber'));
        flow = {
          v: 1,
          state: generateState(),
          session: request.adminSession!.idHash,
          integrationId: integration.id,
          environment,
          endpoints,
          clientId,
          clientSecret: secret.reveal(),
          verifier: pkce.verifier,
          redirectUri: spirisRedirectUri(request),
          ...(orgNumber ? { orgNumber } : {}),
          confirmCompanyChange: f('confirmCompanyChange') === 'yes',
          expiresAt: ctx.clock().getTime() + FLOW_TTL_MS,
        };
      } catch (err) {
        const e = domainApiError(err);
        if (!e || e.statusCode >= 500) throw err;
        return setupWithError(request, integration.id, reply, e, values);
      }
      const authorizeUrl = buildAuthorizeUrl({
        authorizeUrl: flow.endpoints.authorizeUrl,
        clientId: flow.clientId,
        redirectUri: flow.redirectUri,
        scopes: DEFAULT_SPIRIS_SCOPES,
        state: flow.state,
        codeChallenge: pkce.challenge,
      });
      reply.setCookie(OAUTH_COOKIE, sealFlow(ctx, flow), {
        ...cookieOptions(request),
        maxAge: FLOW_TTL_MS / 1000,
      });
      // The CSP's form-action 'self' also binds the redirects after a form post, so the
      // way to Visma is a link (followed at once by app.js), not a 303 to another origin.
      const t = request.t;
      return sendPage(request, reply, {
        title: t('oauth.continue.title'),
        nav: 'integrations',
        body: html`<section class="card form-narrow" aria-labelledby="oauth-title">
          <h1 id="oauth-title">${t('oauth.continue.title')}</h1>
          <p>${t('oauth.continue.text')}</p>
          <p><a class="btn btn-primary" id="oauth-continue" href="${authorizeUrl}" data-auto-follow>${t('oauth.continue.button')}</a></p>
          <p><a href="${path('/integrations', integration.id, 'setup')}#spiris">${t('oauth.cancel')}</a></p>
        </section>`,
      });
    },
  );

  server.get(CALLBACK_PATH, async (request, reply) => {
    const flow = openFlow(ctx, request.cookies[OAUTH_COOKIE]);
    reply.clearCookie(OAUTH_COOKIE, cookieOptions(request));
    const query = request.query as Record<string, string | undefined>;
    if (
      !flow ||
      flow.expiresAt < ctx.clock().getTime() ||
      !request.adminSession ||
      !safeEqual(flow.session, request.adminSession.idHash) ||
      typeof query.state !== 'string' ||
      !safeEqual(query.state, flow.state)
    ) {
      // A callback we did not start (or one that took too long): nothing is exchanged.
      throw new ApiError(400, 'invalid_request', request.t('oauth.stale'));
    }
    const integration = await requireIntegration(ctx, flow.integrationId);
    const values = {
      environment: flow.environment,
      clientId: flow.clientId,
      orgNumber: flow.orgNumber ?? '',
    };
    try {
      const url = new URL(request.url, flow.redirectUri);
      const { code } = parseAuthorizationCallback(url, flow.state);
      const before = integration.spirisConnectionId;
      await connectSpirisCompany(
        {
          store: ctx.app.store,
          sealer: ctx.app.sealer,
          actor: UI_ACTOR,
          ...ctx.jobs.deps(UI_ACTOR).spirisOptions,
        },
        {
          environment: flow.environment,
          endpoints: flow.endpoints,
          clientId: flow.clientId,
          clientSecret: new Secret(flow.clientSecret),
          scopes: [...DEFAULT_SPIRIS_SCOPES],
          pkce: true,
          redirectUri: flow.redirectUri,
          grant: {
            kind: 'authorization_code',
            code,
            redirectUri: flow.redirectUri,
            codeVerifier: flow.verifier,
          },
          integration: integration.id,
          ...(flow.orgNumber ? { orgNumber: flow.orgNumber } : {}),
          confirmCompanyChange: flow.confirmCompanyChange,
          actor: UI_ACTOR,
        },
      );
      ctx.accountNames.forget(before);
    } catch (err) {
      const e = domainApiError(err);
      if (!e || e.statusCode >= 500) throw err;
      return setupWithError(request, integration.id, reply, e, values);
    }
    return reply.redirect(
      `${path('/integrations', integration.id, 'setup')}?notice=spirisConnected#next`,
      303,
    );
  });
}
