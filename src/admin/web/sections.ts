import type { FastifyRequest } from 'fastify';
import type { IntegrationActivity } from '../../store/admin.repository.ts';
import { listEvents } from '../../store/events.repository.ts';
import type { Integration } from '../../store/integrations.repository.ts';
import type { AdminContext } from '../context.ts';
import type { IntegrationHealth } from '../health.ts';
import { html, path, type SafeHtml } from './html.ts';
import type { Lang, Translate } from './i18n.ts';
import { csrfInput } from './layout.ts';
import { syncPanel } from './pages/common.ts';
import { connectionCards, connectionsSection } from './pages/connections.page.ts';
import { goLiveSection } from './pages/golive.page.ts';
import { mappingSection } from './pages/mapping.page.ts';
import { payoutsSection, runsSection } from './pages/payouts.page.ts';
import { previewSection } from './pages/preview.page.ts';
import { setupSection } from './pages/setup.page.ts';
import {
  emptyState,
  field,
  healthBadge,
  modeBadge,
  notice,
  noticeFromQuery,
  payoutStateBadge,
  runBadge,
  time,
} from './views.ts';

// The integration page is a row of sections (tabs), each its own URL:
// /integrations/:id/<section>. A section passed to buildServer({ sections }) with the id
// of a built-in one replaces it; a new id adds a tab at the end.

export interface SectionContext {
  readonly request: FastifyRequest;
  readonly admin: AdminContext;
  readonly integration: Integration;
  readonly activity: IntegrationActivity | undefined;
  readonly health: IntegrationHealth;
  /** The section's own URL, for links and form actions. */
  readonly basePath: string;
  /** What an action that answered with this page has to show (form errors, a result). */
  readonly state?: unknown;
}

export interface IntegrationSection {
  /** URL segment; 'overview' is the integration's landing page. */
  readonly id: string;
  readonly label: (t: Translate, lang: Lang) => string;
  /** Extra script assets the section needs (besides app.js), e.g. 'klarna-key.js'. */
  readonly scripts?: readonly string[];
  render(sc: SectionContext): Promise<SafeHtml> | SafeHtml;
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
      ${
        health.state === 'setup'
          ? notice('info', t('overview.finishSetup'))
          : await syncPanel(sc.admin, request, integration)
      }
      <section aria-labelledby="conn-title">
        <h2 id="conn-title">${t('overview.connections')}</h2>
        ${await connectionCards(sc)}
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
    setupSection,
    connectionsSection,
    mappingSection,
    previewSection,
    goLiveSection,
    payoutsSection,
    runsSection,
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
