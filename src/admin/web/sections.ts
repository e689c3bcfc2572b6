import type { FastifyRequest } from 'fastify';
import type { IntegrationActivity } from '../../store/admin.repository.ts';
import { listPayoutsForIntegration } from '../../store/admin.repository.ts';
import { type ConnectionRecord, getConnection } from '../../store/connections.repository.ts';
import { listEvents } from '../../store/events.repository.ts';
import type { Integration } from '../../store/integrations.repository.ts';
import { listSyncRuns } from '../../store/sync-runs.repository.ts';
import type { AdminContext } from '../context.ts';
import type { IntegrationHealth } from '../health.ts';
import { formatMoney } from './format.ts';
import { html, path, type SafeHtml } from './html.ts';
import { type Lang, labelFor, type MessageKey, type Translate } from './i18n.ts';
import { csrfInput } from './layout.ts';
import {
  emptyState,
  field,
  healthBadge,
  modeBadge,
  noticeFromQuery,
  pageNumber,
  pager,
  payoutStateBadge,
  runBadge,
  time,
} from './views.ts';

// The integration page is a row of sections (tabs), each its own URL:
// /integrations/:id/<section>. Later work replaces a placeholder by passing a section
// with the same id to buildServer({ sections }); a new id adds a tab at the end.

export interface SectionContext {
  readonly request: FastifyRequest;
  readonly admin: AdminContext;
  readonly integration: Integration;
  readonly activity: IntegrationActivity | undefined;
  readonly health: IntegrationHealth;
  /** The section's own URL, for links and form actions. */
  readonly basePath: string;
}

export interface IntegrationSection {
  /** URL segment; 'overview' is the integration's landing page. */
  readonly id: string;
  readonly label: (t: Translate, lang: Lang) => string;
  render(sc: SectionContext): Promise<SafeHtml> | SafeHtml;
}

const PAGE_SIZE = 50;

function connectionCard(
  sc: SectionContext,
  kind: 'klarna' | 'spiris',
  c: ConnectionRecord | undefined,
): SafeHtml {
  const t = sc.request.t;
  const title = t(`connection.kind.${kind}`);
  if (!c) {
    return html`<article class="card connection" aria-label="${title}">
      <h3>${title}</h3>
      <p class="muted">${t('connection.none')}</p>
    </article>`;
  }
  return html`<article class="card connection" aria-label="${title}">
    <h3>${title}</h3>
    <dl class="facts">
      <div><dt>${t('connection.environment')}</dt><dd>${c.environment}</dd></div>
      <div><dt>${t('connection.key')}</dt><dd><code>${c.secretHint ?? '—'}</code></dd></div>
      ${c.externalName ? html`<div><dt>${t('connection.company')}</dt><dd>${c.externalName}</dd></div>` : ''}
      <div><dt>${t('connection.status')}</dt><dd>${c.status}${c.statusReason ? html` – ${c.statusReason}` : ''}</dd></div>
      <div><dt>${t('connection.updated')}</dt><dd>${time(sc.request, c.updatedAt)}</dd></div>
    </dl>
  </article>`;
}

async function connections(sc: SectionContext): Promise<SafeHtml> {
  const db = sc.admin.app.store.db;
  const [klarna, spiris] = await Promise.all([
    sc.integration.klarnaConnectionId ? getConnection(db, sc.integration.klarnaConnectionId) : undefined,
    sc.integration.spirisConnectionId ? getConnection(db, sc.integration.spirisConnectionId) : undefined,
  ]);
  return html`<div class="grid-2">${connectionCard(sc, 'klarna', klarna)}${connectionCard(sc, 'spiris', spiris)}</div>`;
}

function placeholder(
  id: string,
  key: MessageKey,
  extra?: (sc: SectionContext) => Promise<SafeHtml>,
): IntegrationSection {
  return {
    id,
    label: (t) => labelFor(t, 'tab', id),
    async render(sc) {
      const t = sc.request.t;
      return html`<section class="card placeholder" aria-labelledby="ph-${id}">
          <h2 id="ph-${id}">${labelFor(t, 'tab', id)} <span class="badge badge-neutral">${t('placeholder.soon')}</span></h2>
          <p>${t(key)}</p>
        </section>
        ${extra ? await extra(sc) : ''}`;
    },
  };
}

const overview: IntegrationSection = {
  id: 'overview',
  label: (t) => t('tab.overview'),
  async render(sc) {
    const { request, integration, health } = sc;
    const t = request.t;
    const states = Object.entries(sc.activity?.payoutsByState ?? {}).sort(([a], [b]) => a.localeCompare(b));
    return html`${noticeFromQuery(request, {
      renamed: { key: 'overview.renamed' },
      created: { key: 'overview.created' },
    })}
      <section class="card" aria-labelledby="status-title">
        <h2 id="status-title">${t('overview.status')}</h2>
        <dl class="facts facts-row">
          <div><dt>${t('integrations.col.mode')}</dt><dd>${modeBadge(request, integration.mode)}</dd></div>
          <div><dt>${t('integrations.col.health')}</dt><dd>${healthBadge(request, health.state)}
            ${health.reason ? html`<span class="reason">${health.reason}</span>` : ''}</dd></div>
          <div><dt>${t('integrations.col.lastRun')}</dt><dd>${
            health.lastRun
              ? html`${runBadge(request, health.lastRun.status)} ${time(request, health.lastRun.startedAt)}`
              : t('run.never')
          }</dd></div>
          <div><dt>${t('integrations.col.lastSuccess')}</dt><dd>${time(request, health.lastSuccessAt)}</dd></div>
          <div><dt>${t('integrations.col.attention')}</dt><dd>${health.needsAttention}</dd></div>
        </dl>
      </section>
      <section aria-labelledby="conn-title">
        <h2 id="conn-title">${t('overview.connections')}</h2>
        ${await connections(sc)}
      </section>
      <section class="card" aria-labelledby="payout-summary-title">
        <h2 id="payout-summary-title">${t('overview.payoutSummary')}</h2>
        ${
          states.length === 0
            ? emptyState(t('overview.noPayouts'))
            : html`<ul class="state-list">${states.map(
                ([state, n]) => html`<li>${payoutStateBadge(request, state)} <strong>${n}</strong></li>`,
              )}</ul>`
        }
      </section>
      <section class="card form-narrow" aria-labelledby="rename-title">
        <h2 id="rename-title">${t('overview.rename')}</h2>
        <form method="post" action="${path('/integrations', integration.id, 'rename')}">
          ${csrfInput(request)}
          ${field({ id: 'name', name: 'name', label: t('integrations.create.name'), value: integration.name, maxlength: 100, required: true })}
          <button type="submit" class="btn">${t('overview.rename.submit')}</button>
        </form>
      </section>`;
  },
};

const payouts: IntegrationSection = {
  id: 'payouts',
  label: (t) => t('tab.payouts'),
  async render(sc) {
    const { request } = sc;
    const t = request.t;
    const page = pageNumber(request);
    const { items, total } = await listPayoutsForIntegration(sc.admin.app.store.db, sc.integration.id, {
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    if (total === 0) return emptyState(t('payouts.empty'));
    return html`<div class="table-wrap"><table>
      <caption>${t('payouts.caption')}</caption>
      <thead><tr>
        <th scope="col">${t('payouts.col.date')}</th>
        <th scope="col">${t('payouts.col.reference')}</th>
        <th scope="col" class="num">${t('payouts.col.amount')}</th>
        <th scope="col" class="num">${t('payouts.col.transactions')}</th>
        <th scope="col">${t('payouts.col.state')}</th>
        <th scope="col">${t('payouts.col.voucher')}</th>
      </tr></thead>
      <tbody>${items.map(
        (p) => html`<tr>
          <td>${p.payoutDate.slice(0, 10)}</td>
          <td><code>${p.paymentReference}</code></td>
          <td class="num">${formatMoney(p.settlementAmountMinor, p.currencyCode)}</td>
          <td class="num">${p.transactionCount ?? '—'}</td>
          <td>${payoutStateBadge(request, p.state)}${p.stateReason ? html`<div class="reason">${p.stateReason}</div>` : ''}</td>
          <td>${p.voucherNumber ?? '—'}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${pager(request, sc.basePath, page, PAGE_SIZE, total)}`;
  },
};

const runs: IntegrationSection = {
  id: 'runs',
  label: (t) => t('tab.runs'),
  async render(sc) {
    const { request } = sc;
    const t = request.t;
    const items = await listSyncRuns(sc.admin.app.store.db, {
      integrationId: sc.integration.id,
      limit: PAGE_SIZE,
    });
    if (items.length === 0) return emptyState(t('runs.empty'));
    return html`<div class="table-wrap"><table>
      <caption>${t('runs.caption')}</caption>
      <thead><tr>
        <th scope="col">${t('runs.col.started')}</th>
        <th scope="col">${t('runs.col.finished')}</th>
        <th scope="col">${t('runs.col.kind')}</th>
        <th scope="col">${t('runs.col.status')}</th>
        <th scope="col">${t('runs.col.error')}</th>
      </tr></thead>
      <tbody>${items.map(
        (r) => html`<tr>
          <td>${time(request, r.startedAt)}</td>
          <td>${time(request, r.finishedAt)}</td>
          <td>${r.kind}</td>
          <td>${runBadge(request, r.status)}</td>
          <td>${r.error ?? ''}</td>
        </tr>`,
      )}</tbody>
    </table></div>`;
  },
};

const events: IntegrationSection = {
  id: 'events',
  label: (t) => t('tab.events'),
  async render(sc) {
    const { request } = sc;
    const t = request.t;
    const items = await listEvents(sc.admin.app.store.db, { integrationId: sc.integration.id, limit: 100 });
    if (items.length === 0) return emptyState(t('events.empty'));
    return html`<div class="table-wrap"><table>
      <caption>${t('events.caption')}</caption>
      <thead><tr>
        <th scope="col">${t('events.col.at')}</th>
        <th scope="col">${t('events.col.actor')}</th>
        <th scope="col">${t('events.col.kind')}</th>
        <th scope="col">${t('events.col.message')}</th>
      </tr></thead>
      <tbody>${items.map(
        (e) => html`<tr>
          <td>${time(request, e.at)}</td>
          <td>${e.actor}</td>
          <td><code>${e.kind}</code></td>
          <td>${e.message}</td>
        </tr>`,
      )}</tbody>
    </table></div>`;
  },
};

export function defaultSections(): IntegrationSection[] {
  return [
    overview,
    placeholder('setup', 'placeholder.setup'),
    placeholder('connections', 'placeholder.connections', connections),
    placeholder('mapping', 'placeholder.mapping'),
    placeholder('preview', 'placeholder.preview'),
    placeholder('go-live', 'placeholder.go-live'),
    payouts,
    runs,
    events,
  ];
}

/** Defaults with same-id sections replaced and new ones appended, in the defaults' order. */
export function mergeSections(
  defaults: readonly IntegrationSection[],
  extra: readonly IntegrationSection[] = [],
): IntegrationSection[] {
  const byId = new Map(extra.map((s) => [s.id, s]));
  const merged = defaults.map((d) => byId.get(d.id) ?? d);
  for (const s of extra) if (!defaults.some((d) => d.id === s.id)) merged.push(s);
  return merged;
}
