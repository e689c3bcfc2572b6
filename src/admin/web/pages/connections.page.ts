import type { FastifyRequest } from 'fastify';
import type { ConnectionCheck } from '../../../setup/connection-test.ts';
import { CONNECTION_TEST_EVENT } from '../../../setup/go-live.ts';
import type { ConnectionRecord } from '../../../store/connections.repository.ts';
import { listEvents } from '../../../store/events.repository.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection, SectionContext } from '../sections.ts';
import {
  checkBadge,
  connectionStatus,
  credentialFact,
  emptyState,
  envBadge,
  noticeFromQuery,
  time,
} from '../views.ts';
import { integrationConnections, outcomeNotice } from './common.ts';

// The connection test: run it, and read the latest result, one line per check with
// what to fix. The result is the audit event the test writes, so it survives restarts
// and reads the same as `klarna-spiris test`.

function connectionCard(sc: SectionContext, kind: 'klarna' | 'spiris', c: ConnectionRecord | undefined) {
  const t = sc.request.t;
  const title = t(`connection.kind.${kind}`);
  const setup = `${path('/integrations', sc.integration.id, 'setup')}#${kind}`;
  if (!c) {
    return html`<article class="card connection" aria-label="${title}">
      <h3>${title}</h3>
      <p class="muted">${t('connection.none')}</p>
      <p><a href="${setup}">${t('connection.connect')}</a></p>
    </article>`;
  }
  return html`<article class="card connection" aria-label="${title}">
    <h3>${title} ${envBadge(sc.request, c.environment)}</h3>
    <dl class="facts">
      ${credentialFact(sc.request, c)}
      ${c.externalName ? html`<div><dt>${t('connection.company')}</dt><dd>${c.externalName}${c.externalId ? ` (${c.externalId})` : ''}</dd></div>` : ''}
      ${!c.externalName && c.externalId ? html`<div><dt>${t('connection.merchant')}</dt><dd>${c.externalId}</dd></div>` : ''}
      <div><dt>${t('connection.status')}</dt><dd>${connectionStatus(sc.request, c)}</dd></div>
      <div><dt>${t('connection.updated')}</dt><dd>${time(sc.request, c.updatedAt)}</dd></div>
    </dl>
    <p><a href="${setup}">${kind === 'klarna' ? t('connection.rotate') : t('connection.reconnect')}</a></p>
  </article>`;
}

function checkList(request: FastifyRequest, checks: ConnectionCheck[]): SafeHtml {
  const t = request.t;
  return html`<div class="table-wrap"><table class="checks">
    <caption>${t('test.caption')}</caption>
    <thead><tr>
      <th scope="col">${t('test.col.side')}</th>
      <th scope="col">${t('test.col.check')}</th>
      <th scope="col">${t('test.col.result')}</th>
      <th scope="col">${t('test.col.message')}</th>
    </tr></thead>
    <tbody>${checks.map(
      (c) => html`<tr class="check-${c.status}">
        <td>${t(`connection.kind.${c.side === 'integration' ? 'integration' : c.side}`)}</td>
        <th scope="row">${c.title}</th>
        <td>${checkBadge(request, c.status)}</td>
        <td>${c.message}${c.fix ? html`<p class="fix"><strong>${t('test.fix')}</strong> ${c.fix}</p>` : ''}</td>
      </tr>`,
    )}</tbody>
  </table></div>`;
}

export async function connectionCards(sc: SectionContext): Promise<SafeHtml> {
  const { klarna, spiris } = await integrationConnections(sc.admin, sc.integration);
  return html`<div class="grid-2">${connectionCard(sc, 'klarna', klarna)}${connectionCard(sc, 'spiris', spiris)}</div>`;
}

export const connectionsSection: IntegrationSection = {
  id: 'connections',
  label: (t) => t('tab.connections'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const { klarna, spiris } = await integrationConnections(admin, integration);
    const [latest] = await listEvents(admin.app.store.db, {
      integrationId: integration.id,
      kindPrefix: CONNECTION_TEST_EVENT,
      limit: 1,
    });
    const data = latest?.data as { ok?: boolean; checks?: ConnectionCheck[] } | undefined;
    const checks = data?.checks ?? [];
    const counts = { pass: 0, warn: 0, fail: 0 };
    for (const c of checks) counts[c.status]++;
    return html`${noticeFromQuery(request, { tested: { key: 'test.notice.done' } })}
      ${outcomeNotice(sc.state)}
      <div class="grid-2">${connectionCard(sc, 'klarna', klarna)}${connectionCard(sc, 'spiris', spiris)}</div>
      <section class="card" aria-labelledby="test-title">
        <div class="sync-head">
          <h2 id="test-title">${t('test.title')}</h2>
          <form method="post" action="${path('/integrations', integration.id, 'connection-test')}">
            ${csrfInput(request)}
            <button type="submit" class="btn btn-primary" ${klarna || spiris ? '' : html`disabled`}>${t('test.run')}</button>
          </form>
        </div>
        <p class="lead">${t('test.intro')}</p>
        ${
          latest
            ? html`<p class="test-summary">
                ${checkBadge(request, data?.ok ? 'pass' : 'fail')}
                ${t('test.summary', { pass: counts.pass, warn: counts.warn, fail: counts.fail })}
                · ${time(request, latest.at)} · ${latest.actor}</p>
              ${checkList(request, checks)}`
            : emptyState(t('test.never'))
        }
      </section>`;
  },
};
