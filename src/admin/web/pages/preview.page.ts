import type { FastifyRequest } from 'fastify';
import type { VoucherDraft } from '../../../booking/voucher.ts';
import { evaluateGoLive, gatherGoLiveFacts, PREVIEW_EVENT } from '../../../setup/go-live.ts';
import { listEvents } from '../../../store/events.repository.ts';
import type { PreviewPayout, PreviewResult } from '../../../sync/preview.service.ts';
import { formatMoney } from '../format.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { labelFor } from '../i18n.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection } from '../sections.ts';
import { checkBadge, emptyState, time } from '../views.ts';
import { outcomeNotice } from './common.ts';

// The preview: every voucher the next sync would post, as a debit/credit table with
// account names, and every gate that holds a payout back, with what to do. Nothing is
// posted. Running it is also the go-live gate's "preview" check.

export interface PreviewState {
  result?: PreviewResult;
  error?: string;
}

const VERDICT_TONE: Record<PreviewPayout['verdict'], string> = {
  ready: 'good',
  needs_attention: 'bad',
  skip: 'neutral',
  waiting: 'warn',
};

function voucherTable(request: FastifyRequest, draft: VoucherDraft, names: Record<string, string>): SafeHtml {
  const t = request.t;
  const debit = draft.rows.reduce((s, r) => s + r.debitMinor, 0);
  const credit = draft.rows.reduce((s, r) => s + r.creditMinor, 0);
  const sek = (minor: number) => (minor ? formatMoney(minor, 'SEK') : '');
  return html`<div class="table-wrap"><table class="voucher">
    <caption>${t('preview.voucher', { date: draft.voucherDate })}: ${draft.voucherText}</caption>
    <thead><tr>
      <th scope="col">${t('preview.col.account')}</th>
      <th scope="col">${t('preview.col.name')}</th>
      <th scope="col">${t('preview.col.text')}</th>
      <th scope="col" class="num">${t('preview.col.debit')}</th>
      <th scope="col" class="num">${t('preview.col.credit')}</th>
    </tr></thead>
    <tbody>${draft.rows.map(
      (r) => html`<tr>
        <td><code>${r.account}</code></td>
        <td>${names[r.account] ?? html`<span class="muted">—</span>`}</td>
        <td>${r.text}</td>
        <td class="num">${sek(r.debitMinor)}</td>
        <td class="num">${sek(r.creditMinor)}</td>
      </tr>`,
    )}</tbody>
    <tfoot><tr>
      <th scope="row" colspan="3">${t('preview.total')}</th>
      <td class="num">${formatMoney(debit, 'SEK')}</td>
      <td class="num">${formatMoney(credit, 'SEK')}</td>
    </tr></tfoot>
  </table></div>
  ${draft.rate && draft.originalCurrency ? html`<p class="sub">${t('preview.rate', { rate: draft.rate.sekPerUnit, currency: draft.originalCurrency, date: draft.rate.date, source: draft.rate.source })}</p>` : ''}`;
}

function payoutBlock(request: FastifyRequest, p: PreviewPayout, names: Record<string, string>): SafeHtml {
  const t = request.t;
  return html`<article class="card preview-payout verdict-${p.verdict}" aria-labelledby="pv-${p.paymentReference}">
    <h3 id="pv-${p.paymentReference}">
      <span>${p.payoutDate}</span> <code>${p.paymentReference}</code>
      <span class="amount">${formatMoney(p.settlementAmount, p.currencyCode)}</span>
      <span class="badge badge-${VERDICT_TONE[p.verdict]}">${labelFor(t, 'verdict', p.verdict)}</span>
    </h3>
    ${
      p.failures.length > 0
        ? html`<ul class="gate-failures">${p.failures.map(
            (f) =>
              html`<li>${checkBadge(request, 'fail')} ${f.message}<p class="fix"><strong>${t('test.fix')}</strong> ${f.action}</p></li>`,
          )}</ul>`
        : ''
    }
    ${p.warnings.length > 0 ? html`<ul class="gate-warnings">${p.warnings.map((w) => html`<li>${checkBadge(request, 'warn')} ${w}</li>`)}</ul>` : ''}
    ${p.draft ? voucherTable(request, p.draft, names) : ''}
  </article>`;
}

export const previewSection: IntegrationSection = {
  id: 'preview',
  label: (t) => t('tab.preview'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const state = sc.state as PreviewState | undefined;
    const result = state?.result;
    const db = admin.app.store.db;
    const [last] = await listEvents(db, {
      integrationId: integration.id,
      kindPrefix: PREVIEW_EVENT,
      limit: 1,
    });
    const gate = evaluateGoLive(await gatherGoLiveFacts(db, integration.id, { confirmed: false }));
    const previewCheck = gate.checks.find((c) => c.id === 'preview')!;
    const names = result ? (await admin.accountNames.lookup(integration)).names : {};
    return html`${outcomeNotice(state)}
      <section class="card" aria-labelledby="preview-title">
        <div class="sync-head">
          <h2 id="preview-title">${t('preview.title')}</h2>
          <form method="post" action="${path('/integrations', integration.id, 'preview')}">
            ${csrfInput(request)}
            <button type="submit" class="btn btn-primary" ${integration.klarnaConnectionId && integration.spirisConnectionId ? '' : html`disabled`}>${t('preview.run')}</button>
          </form>
        </div>
        <p class="lead">${t('preview.intro')}</p>
        <p class="gate-line">${checkBadge(request, previewCheck.ok ? 'pass' : 'fail')} ${t('preview.gate')}: ${previewCheck.message}</p>
        ${last && !result ? html`<p class="sub">${t('preview.last')} ${time(request, last.at)}: ${last.message}</p>` : ''}
      </section>
      ${
        result
          ? html`<section aria-labelledby="preview-result-title">
              <h2 id="preview-result-title">${t('preview.result', {
                payouts: result.counts.payouts,
                ready: result.counts.ready,
                blocking: result.counts.blocking,
                skip: result.counts.skip,
              })}</h2>
              <p class="sub">${t('preview.window', { since: result.window.since, until: result.window.until })}</p>
              ${result.lockDateProblem ? html`<p class="notice notice-info">${result.lockDateProblem}</p>` : ''}
              ${result.payouts.length === 0 ? emptyState(t('preview.none')) : result.payouts.map((p) => payoutBlock(request, p, names))}
            </section>`
          : ''
      }`;
  },
};
