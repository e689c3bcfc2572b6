import type { FastifyRequest } from 'fastify';
import { type ConnectionRecord, getConnection } from '../../../store/connections.repository.ts';
import type { Integration } from '../../../store/integrations.repository.ts';
import type { AdminContext } from '../../context.ts';
import type { SyncProgressView } from '../../sync-jobs.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { csrfInput } from '../layout.ts';
import { notice } from '../views.ts';

// Pieces several integration sections share: the connections, the "sync now" panel
// with its live progress, and the error/notice line an action leaves behind.

export async function integrationConnections(
  ctx: AdminContext,
  integration: Integration,
): Promise<{ klarna: ConnectionRecord | undefined; spiris: ConnectionRecord | undefined }> {
  const db = ctx.app.store.db;
  const [klarna, spiris] = await Promise.all([
    integration.klarnaConnectionId ? getConnection(db, integration.klarnaConnectionId) : undefined,
    integration.spirisConnectionId ? getConnection(db, integration.spirisConnectionId) : undefined,
  ]);
  return { klarna, spiris };
}

/** What an action that re-renders its page wants said: a refusal, or a form error. */
export interface ActionOutcome {
  error?: string;
}

export function outcomeNotice(state: unknown): SafeHtml | '' {
  const error = (state as ActionOutcome | undefined)?.error;
  return error ? notice('error', error) : '';
}

function progressText(request: FastifyRequest, p: SyncProgressView): string {
  const t = request.t;
  if (p.running) {
    return t('sync.progress.running', {
      fetched: p.counts.fetched,
      booked: p.counts.booked,
      waiting: p.counts.waiting,
    });
  }
  return '';
}

/**
 * The "sync now" button and, while a run is active, its progress. app.js polls
 * `data-progress-url` every 2 s while `data-running` is true and reloads the page when
 * the run ends, so the tables below show its result.
 */
export async function syncPanel(
  ctx: AdminContext,
  request: FastifyRequest,
  integration: Integration,
): Promise<SafeHtml> {
  const t = request.t;
  const p = await ctx.jobs.progress(integration.id);
  const base = path('/integrations', integration.id);
  const canSync = integration.mode !== 'off';
  return html`<section class="card sync-panel" aria-labelledby="sync-title">
    <div class="sync-head">
      <h2 id="sync-title">${t('sync.title')}</h2>
      <form method="post" action="${base}/sync">
        ${csrfInput(request)}
        <button type="submit" class="btn btn-primary" ${p.running || !canSync ? html`disabled` : ''}>${t('sync.now')}</button>
      </form>
    </div>
    <div id="run-progress" class="run-progress ${p.running ? 'is-running' : ''}" role="status" aria-live="polite"
      data-progress-url="${base}/progress.json" data-running="${p.running ? 'true' : 'false'}"
      data-text-running="${t('sync.progress.running')}" data-text-done="${t('sync.progress.done')}">
      ${p.running ? html`<span class="spinner" aria-hidden="true"></span>` : ''}
      <span data-progress-text>${p.running ? progressText(request, p) : canSync ? t('sync.idle') : t('sync.off')}</span>
      ${p.running ? html`<progress data-progress-bar max="${Math.max(1, p.counts.booked + p.counts.waiting)}" value="${p.counts.booked}"></progress>` : ''}
    </div>
  </section>`;
}
