import type { FastifyRequest } from 'fastify';
import { evaluateGoLive, type GoLiveCheck, gatherGoLiveFacts } from '../../../setup/go-live.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { labelFor, type MessageKey } from '../i18n.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection } from '../sections.ts';
import { checkBadge, checkboxField, modeBadge, notice, noticeFromQuery } from '../views.ts';

// The mode switch. Off and test are one click; live goes through the gate, whose
// checklist is shown with a fix and a link for every check that fails, and needs the
// confirmation box ticked. The switch itself is setIntegrationMode, as in the CLI and
// the API, so no page can skip a check.

export interface GoLiveState {
  /** The checks of a refused switch, as the gate reported them. */
  refused?: GoLiveCheck[];
  error?: string;
}

/** Where in the admin each check is fixed. */
const FIX_AT: Record<string, { section: string; hash?: string; key: MessageKey }> = {
  klarna_live_key: { section: 'setup', hash: 'klarna', key: 'golive.fixAt.klarna' },
  spiris_production: { section: 'setup', hash: 'spiris', key: 'golive.fixAt.spiris' },
  connections_ready: { section: 'connections', key: 'golive.fixAt.connections' },
  connection_test: { section: 'connections', key: 'golive.fixAt.test' },
  preview: { section: 'preview', key: 'golive.fixAt.preview' },
};

function checklist(request: FastifyRequest, integrationId: string, checks: GoLiveCheck[]): SafeHtml {
  const t = request.t;
  return html`<ul class="checklist">${checks.map((c) => {
    const at = FIX_AT[c.id];
    const href = at
      ? `${path('/integrations', integrationId, at.section)}${at.hash ? `#${at.hash}` : ''}`
      : null;
    return html`<li class="check-${c.ok ? 'pass' : 'fail'}" data-check="${c.id}">
      ${checkBadge(request, c.ok ? 'pass' : 'fail')}
      <strong>${labelFor(t, 'gate', c.id)}</strong>
      <p>${c.message}</p>
      ${!c.ok && c.fix ? html`<p class="fix"><strong>${t('test.fix')}</strong> ${c.fix}${href ? html` <a href="${href}">${t(at!.key)}</a>` : ''}</p>` : ''}
    </li>`;
  })}</ul>`;
}

export const goLiveSection: IntegrationSection = {
  id: 'go-live',
  label: (t) => t('tab.go-live'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const state = sc.state as GoLiveState | undefined;
    const base = path('/integrations', integration.id);
    const evaluation = evaluateGoLive(
      await gatherGoLiveFacts(admin.app.store.db, integration.id, { confirmed: false }),
    );
    // Before anyone ticks the box, the confirmation is a step, not a failure.
    const shown = state?.refused ?? evaluation.checks.filter((c) => c.id !== 'confirmation');
    const readyButConfirm = evaluation.checks.every((c) => c.ok || c.id === 'confirmation');
    const modeButton = (mode: 'off' | 'test', key: MessageKey) =>
      html`<form method="post" action="${base}/mode">
        ${csrfInput(request)}<input type="hidden" name="mode" value="${mode}">
        <button type="submit" class="btn" ${integration.mode === mode ? html`disabled` : ''}>${t(key)}</button>
      </form>`;
    return html`${noticeFromQuery(request, {
      'mode-off': { key: 'golive.notice.off' },
      'mode-test': { key: 'golive.notice.test' },
      'mode-live': { key: 'golive.notice.live' },
    })}
      ${state?.refused ? notice('error', t('golive.refused')) : ''}
      ${state?.error ? notice('error', state.error) : ''}
      <section class="card" aria-labelledby="mode-title">
        <h2 id="mode-title">${t('golive.mode')} ${modeBadge(request, integration.mode)}</h2>
        <p class="lead">${t(`golive.mode.${integration.mode}` as MessageKey)}</p>
        <div class="button-row">
          ${modeButton('off', 'golive.toOff')}
          ${modeButton('test', 'golive.toTest')}
        </div>
      </section>
      <section class="card" aria-labelledby="gate-title">
        <h2 id="gate-title">${t('golive.gate')}</h2>
        <p class="lead">${t('golive.gate.intro')}</p>
        ${checklist(request, integration.id, shown)}
        ${
          integration.mode === 'live'
            ? html`<p>${checkBadge(request, 'pass')} ${t('golive.isLive')}</p>`
            : html`<form method="post" action="${base}/mode" class="stack go-live-form">
                ${csrfInput(request)}
                <input type="hidden" name="mode" value="live">
                ${checkboxField({
                  id: 'golive-confirm',
                  name: 'confirm',
                  label: t('golive.confirm.label'),
                  hint: t('golive.confirm.hint'),
                })}
                <button type="submit" class="btn btn-primary btn-live">${t('golive.submit')}</button>
                ${readyButConfirm ? '' : html`<p class="hint">${t('golive.notReady')}</p>`}
              </form>`
        }
      </section>`;
  },
};
