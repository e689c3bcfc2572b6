import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { listIntegrationActivity } from '../../store/admin.repository.ts';
import { listConnections } from '../../store/connections.repository.ts';
import { recordEvent } from '../../store/events.repository.ts';
import {
  createIntegration,
  getIntegration,
  type Integration,
  listIntegrations,
  updateIntegration,
} from '../../store/integrations.repository.ts';
import { formField } from '../auth/session.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { type HealthState, integrationHealth } from '../health.ts';
import { html, path, type SafeHtml } from './html.ts';
import { csrfInput, sendPage } from './layout.ts';
import { emptyState, envBadge, field, healthBadge, modeBadge, notice, runBadge, time } from './views.ts';

export const INTEGRATION_NAME_MAX = 100;

/** Trimmed, 1–100 characters, and not already taken: the CLI selects integrations by name. */
export async function validateIntegrationName(
  ctx: AdminContext,
  raw: string,
  self?: Integration,
): Promise<{ ok: true; name: string } | { ok: false; reason: 'invalid' | 'taken' }> {
  const name = raw.trim();
  if (name.length === 0 || name.length > INTEGRATION_NAME_MAX) return { ok: false, reason: 'invalid' };
  const all = await listIntegrations(ctx.app.store.db);
  if (all.some((i) => i.name === name && i.id !== self?.id)) return { ok: false, reason: 'taken' };
  return { ok: true, name };
}

const HEALTH_ORDER: HealthState[] = ['error', 'attention', 'failing', 'setup', 'paused', 'ok'];

export async function registerIntegrationRoutes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const db = ctx.app.store.db;

  const listPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    form: { name?: string; error?: string; status?: number } = {},
  ) => {
    const t = request.t;
    const [integrations, activity, connections] = await Promise.all([
      listIntegrations(db),
      listIntegrationActivity(db),
      listConnections(db),
    ]);
    const hints = new Map(connections.map((c) => [c.id, c]));
    const rows = integrations
      .map((i) => ({ i, h: integrationHealth(i, activity.get(i.id)) }))
      .sort(
        (a, b) =>
          HEALTH_ORDER.indexOf(a.h.state) - HEALTH_ORDER.indexOf(b.h.state) ||
          a.i.name.localeCompare(b.i.name),
      );
    const hintCell = (id: string | null): SafeHtml => {
      const c = id ? hints.get(id) : undefined;
      if (!c) return html`<span class="muted">${t('integrations.notConnected')}</span>`;
      // A Spiris credential is a token document whose masked tail means nothing; its company does.
      const what =
        c.kind === 'spiris'
          ? html`${c.externalName ?? html`<span class="muted">—</span>`}`
          : html`<code>${c.secretHint ?? '—'}</code>`;
      return html`${what}<div class="sub">${envBadge(request, c.environment)}</div>`;
    };
    const table =
      rows.length === 0
        ? emptyState(t('integrations.empty'))
        : html`<div class="table-wrap"><table class="integrations">
          <caption>${t('integrations.caption')}</caption>
          <thead><tr>
            <th scope="col">${t('integrations.col.name')}</th>
            <th scope="col">${t('integrations.col.mode')}</th>
            <th scope="col">${t('integrations.col.health')}</th>
            <th scope="col">${t('integrations.col.lastRun')}</th>
            <th scope="col">${t('integrations.col.lastSuccess')}</th>
            <th scope="col">${t('integrations.col.klarna')}</th>
            <th scope="col">${t('integrations.col.spiris')}</th>
            <th scope="col" class="num">${t('integrations.col.attention')}</th>
          </tr></thead>
          <tbody>${rows.map(
            ({ i, h }) => html`<tr>
              <th scope="row"><a href="${path('/integrations', i.id)}">${i.name}</a></th>
              <td>${modeBadge(request, i.mode)}</td>
              <td>${healthBadge(request, h.state)}${h.reason ? html`<div class="reason">${h.reason}</div>` : ''}</td>
              <td>${h.lastRun ? html`${runBadge(request, h.lastRun.status)} ${time(request, h.lastRun.startedAt)}` : html`<span class="muted">${t('run.never')}</span>`}</td>
              <td>${time(request, h.lastSuccessAt)}</td>
              <td>${hintCell(i.klarnaConnectionId)}</td>
              <td>${hintCell(i.spirisConnectionId)}</td>
              <td class="num">${h.needsAttention > 0 ? html`<strong>${h.needsAttention}</strong>` : '0'}</td>
            </tr>`,
          )}</tbody>
        </table></div>`;
    return sendPage(request, reply, {
      title: t('integrations.title'),
      nav: 'integrations',
      status: form.status,
      body: html`<div class="page-head">
          <h1>${t('integrations.title')}</h1>
          <p class="lead">${t('integrations.intro')}</p>
        </div>
        ${table}
        <section class="card form-narrow" aria-labelledby="create-title">
          <h2 id="create-title">${t('integrations.create.title')}</h2>
          <form method="post" action="/integrations" novalidate>
            ${csrfInput(request)}
            ${field({
              id: 'name',
              name: 'name',
              label: t('integrations.create.name'),
              hint: t('integrations.create.hint'),
              value: form.name,
              error: form.error,
              maxlength: INTEGRATION_NAME_MAX,
              required: true,
            })}
            <button type="submit" class="btn btn-primary">${t('integrations.create.submit')}</button>
          </form>
        </section>`,
    });
  };

  server.get('/', async (request, reply) => listPage(request, reply));

  server.post('/integrations', async (request, reply) => {
    const raw = formField(request, 'name');
    const checked = await validateIntegrationName(ctx, raw);
    if (!checked.ok) {
      const error = request.t(
        checked.reason === 'taken' ? 'integrations.name.taken' : 'integrations.name.invalid',
      );
      return listPage(request, reply, { name: raw, error, status: checked.reason === 'taken' ? 409 : 422 });
    }
    const created = await createIntegration(db, { name: checked.name });
    await recordEvent(db, {
      integrationId: created.id,
      actor: 'admin-ui',
      kind: 'integration.created',
      message: `Integration "${created.name}" created`,
    });
    return reply.redirect(`${path('/integrations', created.id)}?notice=created`, 303);
  });

  const detail = async (
    request: FastifyRequest<{ Params: { id: string; section?: string } }>,
    reply: FastifyReply,
  ) => renderIntegrationPage(ctx, request, reply, { sectionId: request.params.section ?? 'overview' });

  server.get('/integrations/:id', detail);
  server.get('/integrations/:id/:section', detail);

  server.post<{ Params: { id: string } }>('/integrations/:id/rename', async (request, reply) => {
    const integration = await getIntegration(db, request.params.id);
    if (!integration) throw new ApiError(404, 'not_found', 'No such integration.');
    const checked = await validateIntegrationName(ctx, formField(request, 'name'), integration);
    if (!checked.ok) {
      throw checked.reason === 'taken'
        ? new ApiError(409, 'conflict', request.t('integrations.name.taken'))
        : new ApiError(400, 'invalid_request', request.t('integrations.name.invalid'));
    }
    if (checked.name !== integration.name) {
      await updateIntegration(db, integration.id, { name: checked.name });
      await recordEvent(db, {
        integrationId: integration.id,
        actor: 'admin-ui',
        kind: 'integration.renamed',
        message: `Renamed from "${integration.name}" to "${checked.name}"`,
      });
    }
    return reply.redirect(`${path('/integrations', integration.id)}?notice=renamed`, 303);
  });
}

/**
 * The integration page with one section open. Actions that answer with a page rather
 * than a redirect (a refused go-live, a form with errors, a preview) pass what they
 * have to show as `state`, which the section reads.
 */
export async function renderIntegrationPage(
  ctx: AdminContext,
  request: FastifyRequest,
  reply: FastifyReply,
  opts: { sectionId: string; state?: unknown; status?: number; integrationId?: string },
) {
  const db = ctx.app.store.db;
  const t = request.t;
  const id = opts.integrationId ?? (request.params as { id: string }).id;
  const integration = await getIntegration(db, id);
  if (!integration) throw new ApiError(404, 'not_found', 'No such integration.');
  const sectionId = opts.sectionId;
  const section = ctx.sections.find((s) => s.id === sectionId);
  if (!section) throw new ApiError(404, 'not_found', 'No such section.');
  const activity = (await listIntegrationActivity(db, { integrationId: integration.id })).get(integration.id);
  const health = integrationHealth(integration, activity);
  const base = path('/integrations', integration.id);
  const basePath = sectionId === 'overview' ? base : `${base}/${encodeURIComponent(sectionId)}`;
  const content = await section.render({
    request,
    admin: ctx,
    integration,
    activity,
    health,
    basePath,
    state: opts.state,
  });
  const label = section.label(t, request.lang);
  return sendPage(request, reply, {
    title: `${integration.name} – ${label}`,
    nav: 'integrations',
    status: opts.status,
    scripts: section.scripts,
    breadcrumbs: [{ label: t('nav.integrations'), href: '/' }, { label: integration.name }],
    body: html`<div class="page-head">
        <h1>${integration.name} ${modeBadge(request, integration.mode)} ${healthBadge(request, health.state)}</h1>
      </div>
      ${demoBanner(ctx, request)}
      <nav class="tabs" aria-label="${t('detail.tabs')}">
        <ul>${ctx.sections.map(
          (s) =>
            html`<li><a href="${s.id === 'overview' ? base : `${base}/${encodeURIComponent(s.id)}`}" ${
              s.id === sectionId ? html`aria-current="page"` : ''
            }>${s.label(t, request.lang)}</a></li>`,
        )}</ul>
      </nav>
      <section class="tab-panel" aria-label="${label}">${content}</section>`,
  });
}

function demoBanner(ctx: AdminContext, request: FastifyRequest): SafeHtml | '' {
  return ctx.demo() ? notice('info', request.t('demo.banner')) : '';
}
