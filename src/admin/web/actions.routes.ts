import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isIsoDate } from '../../booking/calendar.ts';
import { findBookingPayout } from '../../store/booking.repository.ts';
import { formField } from '../auth/session.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import {
  changeMode,
  connectKlarnaKey,
  connectSpirisIssued,
  previewNow,
  requireIntegration,
  retry,
  reverse,
  saveIntegrationMapping,
  skip,
  testConnections,
} from '../operations.ts';
import { path } from './html.ts';
import { renderIntegrationPage } from './integrations.routes.ts';
import { klarnaKeyCheck } from './klarna-key-check.ts';
import type { GoLiveState } from './pages/golive.page.ts';
import { mappingFromForm } from './pages/mapping.page.ts';
import type { SetupState } from './pages/setup.page.ts';

// The integration page's forms. Each calls the operation the HTTP API calls too; a
// success redirects (303) to the section with a notice, a refusal answers with the
// section and the refusal in it, with the API's status code.

type IdRequest = FastifyRequest<{ Params: { id: string } }>;
type RefRequest = FastifyRequest<{ Params: { id: string; ref: string } }>;

export const UI_ACTOR = 'admin-ui';

function body(request: FastifyRequest): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries((request.body as Record<string, unknown>) ?? {})) {
    if (typeof v === 'string') out[k] = v;
    else if (Array.isArray(v) && typeof v[0] === 'string') out[k] = v[0];
  }
  return out;
}

/** Non-secret fields to show again after a refusal; secrets are always typed anew. */
function keep(form: Record<string, string>, names: string[]): Record<string, string> {
  return Object.fromEntries(names.filter((n) => form[n] !== undefined).map((n) => [n, form[n]!]));
}

function refusal(err: unknown): ApiError {
  if (err instanceof ApiError && err.statusCode < 500) return err;
  throw err;
}

export async function registerIntegrationActionRoutes(
  server: FastifyInstance,
  ctx: AdminContext,
): Promise<void> {
  const section = (
    request: IdRequest,
    reply: FastifyReply,
    sectionId: string,
    state: unknown,
    status: number,
  ) => renderIntegrationPage(ctx, request, reply, { sectionId, state, status });
  const to = (id: string, sectionId: string, notice: string, hash = '') =>
    `${path('/integrations', id, sectionId)}?notice=${notice}${hash}`;

  server.post('/integrations/:id/klarna', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    const form = body(request);
    const apiKey = form.apiKey ?? '';
    const values = keep(form, ['username', 'region', 'baseUrl', 'confirmMerchantChange']);
    // The browser's own check, so the refusal reads the same as the hint while typing.
    const check = klarnaKeyCheck(apiKey);
    if (check.code !== 'ok') {
      const state: SetupState = {
        form: 'klarna',
        field: 'apiKey',
        error: request.t(`klarna.key.${check.code}`),
        values,
      };
      return section(request, reply, 'setup', state, 422);
    }
    try {
      await connectKlarnaKey(
        ctx,
        integration,
        {
          apiKey,
          username: form.username?.trim(),
          region: form.region,
          baseUrl: form.baseUrl?.trim(),
          confirmMerchantChange: form.confirmMerchantChange === 'yes',
        },
        UI_ACTOR,
      );
    } catch (err) {
      const e = refusal(err);
      const state: SetupState = {
        form: 'klarna',
        field: e.details?.field ?? 'apiKey',
        error: e.message,
        values,
      };
      return section(request, reply, 'setup', state, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'setup', 'klarnaConnected', '#spiris'), 303);
  });

  server.post('/integrations/:id/spiris/issued', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    const form = body(request);
    const values = keep(form, [
      'environment',
      'grant',
      'clientId',
      'identityBaseUrl',
      'apiBaseUrl',
      'orgNumber',
      'accessTokenExpiresAt',
      'confirmCompanyChange',
    ]);
    try {
      await connectSpirisIssued(
        ctx,
        integration,
        {
          environment: form.environment ?? '',
          grant: form.grant === 'access_token' ? 'access_token' : 'refresh_token',
          clientId: form.clientId,
          clientSecret: form.clientSecret,
          refreshToken: form.refreshToken,
          accessToken: form.accessToken,
          accessTokenExpiresAt: form.accessTokenExpiresAt,
          identityBaseUrl: form.identityBaseUrl?.trim(),
          apiBaseUrl: form.apiBaseUrl?.trim(),
          orgNumber: form.orgNumber,
          confirmCompanyChange: form.confirmCompanyChange === 'yes',
        },
        UI_ACTOR,
      );
    } catch (err) {
      const e = refusal(err);
      const state: SetupState = {
        form: 'spiris-issued',
        ...(e.details?.field ? { field: e.details.field } : {}),
        error: e.message,
        values,
      };
      return section(request, reply, 'setup', state, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'setup', 'spirisConnected', '#next'), 303);
  });

  server.post('/integrations/:id/connection-test', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    try {
      await testConnections(ctx, integration, UI_ACTOR);
    } catch (err) {
      const e = refusal(err);
      return section(request, reply, 'connections', { error: e.message }, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'connections', 'tested'), 303);
  });

  server.post('/integrations/:id/mapping', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    const form = body(request);
    try {
      const { changes } = await saveIntegrationMapping(ctx, integration, mappingFromForm(form), UI_ACTOR);
      return reply.redirect(to(integration.id, 'mapping', changes.length > 0 ? 'saved' : 'unchanged'), 303);
    } catch (err) {
      const e = refusal(err);
      const issues = (err as { issues?: { path: string; message: string }[] }).issues ?? [];
      const fieldErrors: Record<string, string> = {};
      for (const i of issues) {
        const key = i.path.replace(/^foreignBankAccounts\./, 'foreign.');
        fieldErrors[key] ??= i.message;
      }
      return section(
        request,
        reply,
        'mapping',
        { error: e.message, fieldErrors, submitted: form },
        e.statusCode,
      );
    }
  });

  server.post('/integrations/:id/preview', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    try {
      const result = await previewNow(ctx, integration, UI_ACTOR);
      return section(request, reply, 'preview', { result }, 200);
    } catch (err) {
      const e = refusal(err);
      return section(request, reply, 'preview', { error: e.message }, e.statusCode);
    }
  });

  server.post('/integrations/:id/mode', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    const mode = formField(request, 'mode');
    if (mode !== 'off' && mode !== 'test' && mode !== 'live') {
      throw new ApiError(400, 'invalid_request', 'Unknown mode.');
    }
    try {
      await changeMode(
        ctx,
        integration,
        { mode, confirm: formField(request, 'confirm') === 'yes' },
        UI_ACTOR,
      );
    } catch (err) {
      const e = refusal(err);
      const state: GoLiveState =
        e.code === 'go_live_refused'
          ? { refused: (e.details?.checks ?? []) as GoLiveState['refused'] }
          : { error: e.message };
      return section(request, reply, 'go-live', state, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'go-live', `mode-${mode}`), 303);
  });

  server.post('/integrations/:id/sync', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    try {
      await ctx.jobs.start(integration.id, UI_ACTOR);
    } catch (err) {
      const e = refusal(err);
      return section(request, reply, 'runs', { error: e.message }, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'runs', 'syncStarted'), 303);
  });

  // Polled by app.js every 2 s while a run is active.
  server.get('/integrations/:id/progress.json', async (request: IdRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    reply.header('cache-control', 'no-store');
    return ctx.jobs.progress(integration.id);
  });

  server.post('/integrations/:id/payouts/:ref/retry', async (request: RefRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    try {
      await retry(ctx, integration, request.params.ref, UI_ACTOR);
    } catch (err) {
      const e = refusal(err);
      return section(request, reply, 'payouts', { error: e.message }, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'payouts', 'retried'), 303);
  });

  server.post('/integrations/:id/payouts/:ref/skip', async (request: RefRequest, reply) => {
    const integration = await requireIntegration(ctx, request.params.id);
    try {
      await skip(ctx, integration, request.params.ref, formField(request, 'reason'), UI_ACTOR);
    } catch (err) {
      const e = refusal(err);
      return section(request, reply, 'payouts', { error: e.message }, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'payouts', 'skipped'), 303);
  });

  const reverseTarget = async (request: RefRequest) => {
    const integration = await requireIntegration(ctx, request.params.id);
    const payout = await findBookingPayout(ctx.app.store.db, integration.id, request.params.ref);
    if (!payout) throw new ApiError(404, 'not_found', 'No such payout.');
    return { integration, payout };
  };

  // Reversing posts a voucher into the books, so it has a page of its own that says so.
  server.get('/integrations/:id/payouts/:ref/reverse', async (request: RefRequest, reply) => {
    const { payout } = await reverseTarget(request);
    return section(request, reply, 'payouts', { reverse: payout }, 200);
  });

  server.post('/integrations/:id/payouts/:ref/reverse', async (request: RefRequest, reply) => {
    const { integration, payout } = await reverseTarget(request);
    const date = formField(request, 'date').trim();
    const fail = (error: string, status: number) =>
      section(request, reply, 'payouts', { reverse: payout, error }, status);
    if (formField(request, 'confirm') !== 'yes') return fail(request.t('reverse.needConfirm'), 422);
    if (date && !isIsoDate(date)) return fail(request.t('reverse.badDate'), 422);
    try {
      await reverse(
        ctx,
        integration,
        {
          paymentReference: payout.paymentReference,
          date: date || undefined,
          rebook: formField(request, 'rebook') === 'yes',
        },
        UI_ACTOR,
      );
    } catch (err) {
      const e = refusal(err);
      return fail(e.message, e.statusCode);
    }
    return reply.redirect(to(integration.id, 'payouts', 'reversed'), 303);
  });
}
