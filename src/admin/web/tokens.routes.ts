import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { type ApiTokenRecord, listApiTokens, revokeApiToken } from '../../store/admin.repository.ts';
import { recordEvent } from '../../store/events.repository.ts';
import { createApiToken } from '../auth/api-tokens.ts';
import { formField } from '../auth/session.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import { html, path } from './html.ts';
import { csrfInput, sendPage } from './layout.ts';
import { emptyState, field, notice, noticeFromQuery, time } from './views.ts';

export async function registerTokenRoutes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const db = ctx.app.store.db;

  const tokensPage = async (
    request: FastifyRequest,
    reply: FastifyReply,
    opts: {
      created?: { token: string; record: ApiTokenRecord };
      error?: string;
      name?: string;
      status?: number;
    } = {},
  ) => {
    const t = request.t;
    const tokens = await listApiTokens(db);
    const created = opts.created
      ? html`<section class="card token-reveal" aria-labelledby="new-token-title">
          <h2 id="new-token-title">${t('tokens.createdLabel', { name: opts.created.record.name })}</h2>
          ${notice('info', t('tokens.created'))}
          <div class="copy-row">
            <input id="new-token" class="mono" type="text" readonly value="${opts.created.token}" aria-labelledby="new-token-title">
            <button type="button" class="btn" data-copy="#new-token" data-copied-label="${t('tokens.copied')}">${t('tokens.copy')}</button>
          </div>
        </section>`
      : '';
    const table =
      tokens.length === 0
        ? emptyState(t('tokens.empty'))
        : html`<div class="table-wrap"><table>
          <caption>${t('tokens.caption')}</caption>
          <thead><tr>
            <th scope="col">${t('tokens.col.name')}</th>
            <th scope="col">${t('tokens.col.hint')}</th>
            <th scope="col">${t('tokens.col.created')}</th>
            <th scope="col">${t('tokens.col.lastUsed')}</th>
            <th scope="col">${t('tokens.col.status')}</th>
            <th scope="col"><span class="visually-hidden">${t('tokens.col.actions')}</span></th>
          </tr></thead>
          <tbody>${tokens.map(
            (tok) => html`<tr>
              <th scope="row">${tok.name}</th>
              <td><code>${tok.hint}</code></td>
              <td>${time(request, tok.createdAt)}</td>
              <td>${time(request, tok.lastUsedAt)}</td>
              <td>${
                tok.revokedAt
                  ? html`<span class="badge badge-neutral">${t('tokens.revoked', { at: tok.revokedAt.slice(0, 10) })}</span>`
                  : html`<span class="badge badge-good">${t('tokens.active')}</span>`
              }</td>
              <td>${
                tok.revokedAt
                  ? ''
                  : html`<form method="post" action="${path('/settings/tokens', tok.id, 'revoke')}"
                      data-confirm="${t('tokens.revokeConfirm', { name: tok.name })}">
                      ${csrfInput(request)}
                      <button type="submit" class="btn btn-danger btn-small">${t('tokens.revoke')}<span class="visually-hidden"> ${tok.name}</span></button>
                    </form>`
              }</td>
            </tr>`,
          )}</tbody>
        </table></div>`;
    // A page that shows a fresh token must never be cached or restored from history.
    reply.header('cache-control', 'no-store');
    return sendPage(request, reply, {
      title: t('tokens.title'),
      nav: 'tokens',
      status: opts.status,
      body: html`<div class="page-head"><h1>${t('tokens.title')}</h1><p class="lead">${t('tokens.intro')}</p></div>
        ${noticeFromQuery(request, { revoked: { key: 'tokens.revokedNotice' } })}
        ${created}
        ${table}
        <section class="card form-narrow" aria-labelledby="create-token-title">
          <h2 id="create-token-title">${t('tokens.create')}</h2>
          <form method="post" action="/settings/tokens" novalidate>
            ${csrfInput(request)}
            ${field({
              id: 'token-name',
              name: 'name',
              label: t('tokens.name'),
              hint: t('tokens.name.hint'),
              value: opts.name,
              error: opts.error,
              maxlength: 100,
              required: true,
            })}
            <button type="submit" class="btn btn-primary">${t('tokens.create')}</button>
          </form>
        </section>`,
    });
  };

  server.get('/settings/tokens', async (request, reply) => tokensPage(request, reply));

  server.post('/settings/tokens', async (request, reply) => {
    const name = formField(request, 'name').trim();
    if (name.length === 0 || name.length > 100) {
      return tokensPage(request, reply, { error: request.t('tokens.name.invalid'), name, status: 422 });
    }
    // Shown in this response only (no redirect), so the clear token never sits in a URL or a session.
    const created = await createApiToken(db, name, 'admin-ui');
    return tokensPage(request, reply, { created, status: 201 });
  });

  server.post<{ Params: { id: string } }>('/settings/tokens/:id/revoke', async (request, reply) => {
    const revoked = await revokeApiToken(db, request.params.id);
    if (!revoked) throw new ApiError(404, 'not_found', 'No such active token.');
    await recordEvent(db, {
      actor: 'admin-ui',
      kind: 'admin.token_revoked',
      message: `API token "${revoked.name}" (${revoked.hint}) revoked`,
    });
    return reply.redirect('/settings/tokens?notice=revoked', 303);
  });
}
