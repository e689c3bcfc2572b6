import type { FastifyRequest } from 'fastify';
import { stockholmDate } from '../../../booking/calendar.ts';
import { listPayoutsForIntegration, type PayoutListItem } from '../../../store/admin.repository.ts';
import type { BookingPayout } from '../../../store/booking.repository.ts';
import { listSyncRuns } from '../../../store/sync-runs.repository.ts';
import { formatMoney } from '../format.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection } from '../sections.ts';
import {
  checkboxField,
  emptyState,
  field,
  noticeFromQuery,
  pageNumber,
  pager,
  payoutStateBadge,
  runBadge,
  time,
} from '../views.ts';
import { outcomeNotice, syncPanel } from './common.ts';

// Payouts with their state, voucher, amount and reason, and what a person can do with
// each: retry one that waits, skip one booked some other way, reverse a booked one
// (on a page of its own that says what will be posted). Runs: the history, with the
// live progress of a running sync above it.

const PAGE_SIZE = 50;
const RETRYABLE = new Set(['needs_attention', 'discovered', 'ready', 'skipped', 'reversed']);
const SKIPPABLE = new Set(['discovered', 'ready', 'needs_attention']);

export interface PayoutsState {
  error?: string;
  /** Set: the reverse confirmation for this payout is shown instead of the list. */
  reverse?: BookingPayout;
}

const payoutPath = (integrationId: string, ref: string, action: string) =>
  path('/integrations', integrationId, 'payouts', ref, action);

function actions(request: FastifyRequest, integrationId: string, p: PayoutListItem): SafeHtml {
  const t = request.t;
  const out: SafeHtml[] = [];
  if (RETRYABLE.has(p.state)) {
    out.push(html`<form method="post" action="${payoutPath(integrationId, p.paymentReference, 'retry')}">
      ${csrfInput(request)}
      <button type="submit" class="btn btn-small">${t('payouts.retry')}<span class="visually-hidden"> ${p.paymentReference}</span></button>
    </form>`);
  }
  if (p.state === 'booked') {
    out.push(
      html`<a class="btn btn-small btn-danger" href="${payoutPath(integrationId, p.paymentReference, 'reverse')}">${t('payouts.reverse')}<span class="visually-hidden"> ${p.paymentReference}</span></a>`,
    );
  }
  if (SKIPPABLE.has(p.state)) {
    out.push(html`<details class="skip">
      <summary class="btn btn-small btn-quiet">${t('payouts.skip')}<span class="visually-hidden"> ${p.paymentReference}</span></summary>
      <form method="post" action="${payoutPath(integrationId, p.paymentReference, 'skip')}" class="stack">
        ${csrfInput(request)}
        ${field({ id: `skip-${p.id}`, name: 'reason', label: t('payouts.skip.reason'), maxlength: 300, required: true })}
        <button type="submit" class="btn btn-small">${t('payouts.skip.submit')}</button>
      </form>
    </details>`);
  }
  return html`<div class="row-actions">${out}</div>`;
}

function reverseConfirmation(request: FastifyRequest, integrationId: string, p: BookingPayout): SafeHtml {
  const t = request.t;
  const rows = p.plan?.draft?.rows ?? [];
  const today = stockholmDate(new Date());
  return html`<section class="card reverse-confirm" aria-labelledby="reverse-title">
    <h2 id="reverse-title">${t('reverse.title', { reference: p.paymentReference, voucher: p.voucherNumber ?? '—' })}</h2>
    <p class="lead">${t('reverse.intro')}</p>
    ${
      rows.length > 0
        ? html`<div class="table-wrap"><table class="voucher">
            <caption>${t('reverse.caption')}</caption>
            <thead><tr><th scope="col">${t('preview.col.account')}</th><th scope="col">${t('preview.col.text')}</th>
              <th scope="col" class="num">${t('preview.col.debit')}</th><th scope="col" class="num">${t('preview.col.credit')}</th></tr></thead>
            <tbody>${rows.map(
              (r) => html`<tr><td><code>${r.account}</code></td><td>${r.text}</td>
                <td class="num">${r.creditMinor ? formatMoney(r.creditMinor, 'SEK') : ''}</td>
                <td class="num">${r.debitMinor ? formatMoney(r.debitMinor, 'SEK') : ''}</td></tr>`,
            )}</tbody>
          </table></div>`
        : ''
    }
    <form method="post" action="${payoutPath(integrationId, p.paymentReference, 'reverse')}" class="stack">
      ${csrfInput(request)}
      ${field({ id: 'reverse-date', name: 'date', label: t('reverse.date'), hint: t('reverse.dateHint'), value: today ?? '', maxlength: 10, attrs: html`inputmode="numeric" pattern="\\d{4}-\\d{2}-\\d{2}"` })}
      ${checkboxField({ id: 'reverse-rebook', name: 'rebook', label: t('reverse.rebook') })}
      ${checkboxField({ id: 'reverse-confirm', name: 'confirm', label: t('reverse.confirm'), required: true })}
      <div class="button-row">
        <button type="submit" class="btn btn-danger">${t('reverse.submit')}</button>
        <a class="btn btn-quiet" href="${path('/integrations', integrationId, 'payouts')}">${t('reverse.cancel')}</a>
      </div>
    </form>
  </section>`;
}

export const payoutsSection: IntegrationSection = {
  id: 'payouts',
  label: (t) => t('tab.payouts'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const state = sc.state as PayoutsState | undefined;
    if (state?.reverse) {
      return html`${outcomeNotice(state)}${reverseConfirmation(request, integration.id, state.reverse)}`;
    }
    const page = pageNumber(request);
    const { items, total } = await listPayoutsForIntegration(admin.app.store.db, integration.id, {
      limit: PAGE_SIZE,
      offset: (page - 1) * PAGE_SIZE,
    });
    const notices = noticeFromQuery(request, {
      retried: { key: 'payouts.notice.retried' },
      reversed: { key: 'payouts.notice.reversed' },
      skipped: { key: 'payouts.notice.skipped' },
      syncStarted: { key: 'sync.notice.started', kind: 'info' },
    });
    const panel = await syncPanel(admin, request, integration);
    if (total === 0) return html`${notices}${outcomeNotice(state)}${panel}${emptyState(t('payouts.empty'))}`;
    return html`${notices}${outcomeNotice(state)}${panel}
    <div class="table-wrap"><table class="payouts">
      <caption>${t('payouts.caption')}</caption>
      <thead><tr>
        <th scope="col">${t('payouts.col.date')}</th>
        <th scope="col">${t('payouts.col.reference')}</th>
        <th scope="col" class="num">${t('payouts.col.amount')}</th>
        <th scope="col" class="num">${t('payouts.col.transactions')}</th>
        <th scope="col">${t('payouts.col.state')}</th>
        <th scope="col">${t('payouts.col.voucher')}</th>
        <th scope="col"><span class="visually-hidden">${t('payouts.col.actions')}</span></th>
      </tr></thead>
      <tbody>${items.map(
        (p) => html`<tr data-reference="${p.paymentReference}">
          <td>${stockholmDate(p.payoutDate) ?? p.payoutDate.slice(0, 10)}</td>
          <td><code>${p.paymentReference}</code></td>
          <td class="num">${formatMoney(p.settlementAmountMinor, p.currencyCode)}</td>
          <td class="num">${p.transactionCount ?? '—'}</td>
          <td>${payoutStateBadge(request, p.state)}${p.stateReason ? html`<div class="reason">${p.stateReason}</div>` : ''}</td>
          <td>${p.voucherNumber ? html`<strong class="voucher-number">${p.voucherNumber}</strong>` : html`<span class="muted">—</span>`}</td>
          <td>${actions(request, integration.id, p)}</td>
        </tr>`,
      )}</tbody>
    </table></div>
    ${pager(request, sc.basePath, page, PAGE_SIZE, total)}`;
  },
};

function summaryLine(request: FastifyRequest, summary: unknown): string {
  const s = summary as {
    booked?: unknown;
    bookedCount?: number;
    needsAttention?: unknown;
    skipped?: number;
    failed?: unknown;
  } | null;
  if (!s || typeof s !== 'object') return '';
  const count = (v: unknown) => (Array.isArray(v) ? v.length : typeof v === 'number' ? v : 0);
  return request.t('runs.summary', {
    booked: s.bookedCount ?? count(s.booked),
    attention: count(s.needsAttention),
    failed: count(s.failed),
  });
}

export const runsSection: IntegrationSection = {
  id: 'runs',
  label: (t) => t('tab.runs'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const items = await listSyncRuns(admin.app.store.db, { integrationId: integration.id, limit: PAGE_SIZE });
    const panel = await syncPanel(admin, request, integration);
    const notices = noticeFromQuery(request, { syncStarted: { key: 'sync.notice.started', kind: 'info' } });
    if (items.length === 0)
      return html`${notices}${outcomeNotice(sc.state)}${panel}${emptyState(t('runs.empty'))}`;
    return html`${notices}${outcomeNotice(sc.state)}${panel}<div class="table-wrap"><table>
      <caption>${t('runs.caption')}</caption>
      <thead><tr>
        <th scope="col">${t('runs.col.started')}</th>
        <th scope="col">${t('runs.col.finished')}</th>
        <th scope="col">${t('runs.col.kind')}</th>
        <th scope="col">${t('runs.col.status')}</th>
        <th scope="col">${t('runs.col.result')}</th>
      </tr></thead>
      <tbody>${items.map(
        (r) => html`<tr>
          <td>${time(request, r.startedAt)}</td>
          <td>${time(request, r.finishedAt)}</td>
          <td>${r.kind}</td>
          <td>${runBadge(request, r.status)}</td>
          <td>${summaryLine(request, r.summary)}${r.error ? html`<div class="reason">${r.error}</div>` : ''}</td>
        </tr>`,
      )}</tbody>
    </table></div>`;
  },
};
