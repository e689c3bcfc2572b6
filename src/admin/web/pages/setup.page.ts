import type { FastifyRequest } from 'fastify';
import { evaluateGoLive, gatherGoLiveFacts } from '../../../setup/go-live.ts';
import { type GuideSection, SETUP_GUIDE } from '../../../setup/guide.ts';
import { SPIRIS_HOST_PRESETS } from '../../../spiris/oauth.ts';
import type { ConnectionRecord } from '../../../store/connections.repository.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { KLARNA_KEY_CODES } from '../klarna-key-check.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection, SectionContext } from '../sections.ts';
import {
  checkboxField,
  connectionStatus,
  credentialFact,
  envBadge,
  field,
  noticeFromQuery,
  selectField,
  time,
} from '../views.ts';
import { integrationConnections } from './common.ts';

// The setup wizard: the guide's steps for Klarna and Spiris with the forms that do
// them, in order, then where to go next (test, mapping, preview, go live).

/** What a refused form sends back: its error and the non-secret values to show again. */
export interface SetupState {
  form: 'klarna' | 'spiris-oauth' | 'spiris-issued';
  error: string;
  field?: string;
  values: Record<string, string>;
}

function guideSteps(request: FastifyRequest, section: GuideSection): SafeHtml {
  const lang = request.lang;
  return html`<details class="guide">
    <summary>${request.t('setup.guide.show')}</summary>
    <p class="lead">${section.intro[lang]}</p>
    <ol class="guide-steps">${section.steps.map(
      (s) =>
        html`<li><strong>${s.title[lang]}</strong><p>${s.body[lang]}</p>${
          s.command ? html`<p class="sub">${request.t('setup.guide.cli')} <code>${s.command}</code></p>` : ''
        }</li>`,
    )}</ol>
  </details>`;
}

function connectionFacts(request: FastifyRequest, c: ConnectionRecord): SafeHtml {
  const t = request.t;
  return html`<dl class="facts current-connection">
    <div><dt>${t('connection.environment')}</dt><dd>${envBadge(request, c.environment)}</dd></div>
    ${credentialFact(request, c)}
    ${c.externalName ? html`<div><dt>${t('connection.company')}</dt><dd>${c.externalName}${c.externalId ? ` (${c.externalId})` : ''}</dd></div>` : c.externalId ? html`<div><dt>${t('connection.merchant')}</dt><dd>${c.externalId}</dd></div>` : ''}
    <div><dt>${t('connection.status')}</dt><dd>${connectionStatus(request, c)}</dd></div>
    <div><dt>${t('connection.updated')}</dt><dd>${time(request, c.updatedAt)}</dd></div>
  </dl>`;
}

function klarnaForm(sc: SectionContext, current: ConnectionRecord | undefined, state?: SetupState): SafeHtml {
  const { request, integration } = sc;
  const t = request.t;
  const mine = state?.form === 'klarna' ? state : undefined;
  const v = mine?.values ?? {};
  const demo = sc.admin.demo();
  const messages = Object.fromEntries(KLARNA_KEY_CODES.map((c) => [c, t(`klarna.key.${c}`)]));
  const errorFor = (name: string) => (mine && (mine.field ?? 'apiKey') === name ? mine.error : undefined);
  return html`<form method="post" action="${path('/integrations', integration.id, 'klarna')}" class="stack" novalidate>
    ${csrfInput(request)}
    ${field({
      id: 'klarna-key',
      name: 'apiKey',
      type: 'password',
      label: t('klarna.key.label'),
      hint: t('klarna.key.hint'),
      error: errorFor('apiKey'),
      autocomplete: 'off',
      required: true,
      maxlength: 400,
      describedBy: ['klarna-key-status'],
      attrs: html`spellcheck="false" data-klarna-key data-status="klarna-key-status" data-badge="klarna-env" data-messages="${JSON.stringify(messages)}"`,
      after: html`<p class="key-line"><span id="klarna-env" class="badge badge-env" hidden
          data-production="${t('env.production')}" data-playground="${t('env.playground')}"></span>
        <span id="klarna-key-status" class="key-status key-status-idle"></span></p>`,
    })}
    ${field({
      id: 'klarna-username',
      name: 'username',
      label: t('klarna.username.label'),
      hint: t('klarna.username.hint'),
      value: v.username,
      error: errorFor('username'),
      autocomplete: 'off',
      maxlength: 100,
      attrs: html`spellcheck="false"`,
    })}
    <details class="advanced" ${(v.region && v.region !== 'eu') || v.baseUrl || demo || errorFor('baseUrl') || errorFor('region') ? html`open` : ''}>
      <summary>${t('form.advanced')}</summary>
      ${selectField({
        id: 'klarna-region',
        name: 'region',
        label: t('klarna.region.label'),
        value: v.region ?? 'eu',
        error: errorFor('region'),
        options: [
          { value: 'eu', label: t('klarna.region.eu') },
          { value: 'na', label: t('klarna.region.na') },
          { value: 'oc', label: t('klarna.region.oc') },
        ],
      })}
      ${field({
        id: 'klarna-base-url',
        name: 'baseUrl',
        label: t('klarna.baseUrl.label'),
        hint: t('klarna.baseUrl.hint'),
        value: v.baseUrl ?? demo?.klarnaBaseUrl,
        error: errorFor('baseUrl'),
        placeholder: 'https://api.klarna.com',
        maxlength: 300,
      })}
    </details>
    ${
      current
        ? checkboxField({
            id: 'klarna-confirm-merchant',
            name: 'confirmMerchantChange',
            label: t('klarna.confirmMerchant.label'),
            hint: t('klarna.confirmMerchant.hint'),
            checked: v.confirmMerchantChange === 'yes',
          })
        : ''
    }
    <button type="submit" class="btn btn-primary">${current ? t('klarna.submit.replace') : t('klarna.submit.save')}</button>
  </form>`;
}

const ENV_OPTIONS = (request: FastifyRequest) => [
  { value: 'sandbox', label: request.t('env.sandbox') },
  { value: 'production', label: request.t('env.production') },
  { value: 'sandbox-legacy', label: request.t('env.sandbox-legacy') },
];

function hostFields(
  sc: SectionContext,
  prefix: string,
  v: Record<string, string>,
  errorFor: (name: string) => string | undefined,
): SafeHtml {
  const t = sc.request.t;
  const demo = sc.admin.demo();
  const presets = Object.entries(SPIRIS_HOST_PRESETS)
    .map(([env, p]) => `${env}: ${p.identityBaseUrl} · ${p.apiBaseUrl}`)
    .join('; ');
  return html`<details class="advanced" ${v.identityBaseUrl || v.apiBaseUrl || demo ? html`open` : ''}>
    <summary>${t('spiris.hosts.title')}</summary>
    <p class="hint">${t('spiris.hosts.hint')} ${presets}</p>
    ${field({
      id: `${prefix}-identity`,
      name: 'identityBaseUrl',
      label: t('spiris.identityBaseUrl.label'),
      value: v.identityBaseUrl ?? demo?.spirisIdentityBaseUrl,
      error: errorFor('identityBaseUrl'),
      placeholder: SPIRIS_HOST_PRESETS.production.identityBaseUrl,
      maxlength: 300,
    })}
    ${field({
      id: `${prefix}-api`,
      name: 'apiBaseUrl',
      label: t('spiris.apiBaseUrl.label'),
      value: v.apiBaseUrl ?? demo?.spirisApiBaseUrl,
      error: errorFor('apiBaseUrl'),
      placeholder: SPIRIS_HOST_PRESETS.production.apiBaseUrl,
      maxlength: 300,
    })}
  </details>`;
}

/** The address Visma sends the browser back to; it must be registered for the client. */
export function spirisRedirectUri(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}/oauth/spiris/callback`;
}

function spirisForms(
  sc: SectionContext,
  current: ConnectionRecord | undefined,
  state?: SetupState,
): SafeHtml {
  const { request, integration } = sc;
  const t = request.t;
  const demo = sc.admin.demo();
  const oauth = state?.form === 'spiris-oauth' ? state : undefined;
  const issued = state?.form === 'spiris-issued' ? state : undefined;
  const ov = oauth?.values ?? {};
  const iv = issued?.values ?? {};
  const oauthError = (name: string) => (oauth && (oauth.field ?? '') === name ? oauth.error : undefined);
  const issuedError = (name: string) => (issued && (issued.field ?? '') === name ? issued.error : undefined);
  const base = path('/integrations', integration.id);
  return html`
    <form method="post" action="${base}/spiris/authorize" class="stack" novalidate aria-labelledby="spiris-oauth-title">
      <h3 id="spiris-oauth-title">${t('spiris.oauth.title')}</h3>
      <p>${t('spiris.oauth.intro')}</p>
      ${oauth && !oauth.field ? html`<p class="field-error" role="alert">${oauth.error}</p>` : ''}
      ${csrfInput(request)}
      ${selectField({ id: 'oauth-env', name: 'environment', label: t('spiris.environment.label'), value: ov.environment ?? 'sandbox', options: ENV_OPTIONS(request) })}
      ${field({ id: 'oauth-client-id', name: 'clientId', label: t('spiris.clientId.label'), value: ov.clientId ?? demo?.spirisClientId, error: oauthError('clientId'), autocomplete: 'off', maxlength: 200, required: true })}
      ${field({ id: 'oauth-client-secret', name: 'clientSecret', type: 'password', label: t('spiris.clientSecret.label'), hint: t('spiris.clientSecret.hint'), error: oauthError('clientSecret'), autocomplete: 'off', maxlength: 400, required: true })}
      ${field({ id: 'oauth-org', name: 'orgNumber', label: t('spiris.orgNumber.label'), hint: t('spiris.orgNumber.hint'), value: ov.orgNumber, error: oauthError('orgNumber'), maxlength: 20 })}
      ${hostFields(sc, 'oauth', ov, oauthError)}
      <p class="hint">${t('spiris.redirect.hint')} <code>${spirisRedirectUri(request)}</code></p>
      ${current ? checkboxField({ id: 'oauth-confirm-company', name: 'confirmCompanyChange', label: t('spiris.confirmCompany.label'), checked: ov.confirmCompanyChange === 'yes' }) : ''}
      <button type="submit" class="btn btn-primary">${t('spiris.oauth.submit')}</button>
    </form>
    <details class="issued" ${issued ? html`open` : ''}>
      <summary>${t('spiris.issued.title')}</summary>
      <form method="post" action="${base}/spiris/issued" class="stack" novalidate>
        <p>${t('spiris.issued.intro')}</p>
        ${issued && !issued.field ? html`<p class="field-error" role="alert">${issued.error}</p>` : ''}
        ${csrfInput(request)}
        ${selectField({ id: 'issued-env', name: 'environment', label: t('spiris.environment.label'), value: iv.environment ?? 'sandbox', options: ENV_OPTIONS(request) })}
        ${selectField({
          id: 'issued-kind',
          name: 'grant',
          label: t('spiris.issued.kind'),
          value: iv.grant ?? 'refresh_token',
          options: [
            { value: 'refresh_token', label: t('spiris.issued.kind.refresh') },
            { value: 'access_token', label: t('spiris.issued.kind.access') },
          ],
        })}
        ${field({ id: 'issued-client-id', name: 'clientId', label: t('spiris.clientId.label'), hint: t('spiris.issued.clientHint'), value: iv.clientId ?? demo?.spirisClientId, error: issuedError('clientId'), autocomplete: 'off', maxlength: 200 })}
        ${field({ id: 'issued-client-secret', name: 'clientSecret', type: 'password', label: t('spiris.clientSecret.label'), error: issuedError('clientSecret'), autocomplete: 'off', maxlength: 400 })}
        ${field({ id: 'issued-refresh', name: 'refreshToken', type: 'password', label: t('spiris.refreshToken.label'), error: issuedError('refreshToken'), autocomplete: 'off', maxlength: 4000 })}
        ${field({ id: 'issued-access', name: 'accessToken', type: 'password', label: t('spiris.accessToken.label'), hint: t('spiris.accessToken.hint'), error: issuedError('accessToken'), autocomplete: 'off', maxlength: 8000 })}
        ${field({ id: 'issued-expires', name: 'accessTokenExpiresAt', label: t('spiris.expiresAt.label'), value: iv.accessTokenExpiresAt, error: issuedError('accessTokenExpiresAt'), placeholder: '2026-03-12T15:00:00Z', maxlength: 40 })}
        ${field({ id: 'issued-org', name: 'orgNumber', label: t('spiris.orgNumber.label'), hint: t('spiris.orgNumber.hint'), value: iv.orgNumber, error: issuedError('orgNumber'), maxlength: 20 })}
        ${hostFields(sc, 'issued', iv, issuedError)}
        ${current ? checkboxField({ id: 'issued-confirm-company', name: 'confirmCompanyChange', label: t('spiris.confirmCompany.label'), checked: iv.confirmCompanyChange === 'yes' }) : ''}
        <button type="submit" class="btn">${t('spiris.issued.submit')}</button>
      </form>
    </details>`;
}

const NOTICES = {
  klarnaConnected: { key: 'setup.notice.klarna' },
  spirisConnected: { key: 'setup.notice.spiris' },
} as const;

export const setupSection: IntegrationSection = {
  id: 'setup',
  label: (t) => t('tab.setup'),
  scripts: ['klarna-key.js'],
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const state = sc.state as SetupState | undefined;
    const { klarna, spiris } = await integrationConnections(admin, integration);
    const evaluation = evaluateGoLive(
      await gatherGoLiveFacts(admin.app.store.db, integration.id, { confirmed: false }),
    );
    const ok = (id: string) => evaluation.checks.find((c) => c.id === id)?.ok === true;
    const base = path('/integrations', integration.id);
    const guide = (id: GuideSection['id']) => SETUP_GUIDE.find((s) => s.id === id)!;
    const step = (done: boolean, n: number, label: string, href: string) =>
      html`<li class="${done ? 'done' : 'todo'}"><a href="${href}"><span class="step-n" aria-hidden="true">${done ? '✓' : n}</span> ${label}</a>
        <span class="visually-hidden">${done ? t('setup.step.done') : t('setup.step.todo')}</span></li>`;
    return html`${noticeFromQuery(request, NOTICES)}
      <nav aria-label="${t('setup.steps')}"><ol class="wizard-steps">
        ${step(!!klarna, 1, t('setup.step.klarna'), '#klarna')}
        ${step(!!spiris, 2, t('setup.step.spiris'), '#spiris')}
        ${step(ok('connection_test'), 3, t('setup.step.test'), `${base}/connections`)}
        ${step(false, 4, t('setup.step.mapping'), `${base}/mapping`)}
        ${step(ok('preview'), 5, t('setup.step.preview'), `${base}/preview`)}
        ${step(integration.mode === 'live', 6, t('setup.step.live'), `${base}/go-live`)}
      </ol></nav>
      <section class="card" id="klarna" aria-labelledby="klarna-title">
        <h2 id="klarna-title">1. ${guide('klarna').title[request.lang]}</h2>
        ${guideSteps(request, guide('klarna'))}
        ${klarna ? connectionFacts(request, klarna) : html`<p class="muted">${t('connection.none')}</p>`}
        ${klarnaForm(sc, klarna, state)}
      </section>
      <section class="card" id="spiris" aria-labelledby="spiris-title">
        <h2 id="spiris-title">2. ${guide('spiris').title[request.lang]}</h2>
        ${guideSteps(request, guide('spiris'))}
        ${spiris ? connectionFacts(request, spiris) : html`<p class="muted">${t('connection.none')}</p>`}
        ${spirisForms(sc, spiris, state)}
      </section>
      <section class="card" id="next" aria-labelledby="next-title">
        <h2 id="next-title">3. ${guide('go-live').title[request.lang]}</h2>
        <p>${guide('go-live').intro[request.lang]}</p>
        <ul class="next-links">
          <li><a href="${base}/connections">${t('setup.next.test')}</a></li>
          <li><a href="${base}/mapping">${t('setup.next.mapping')}</a></li>
          <li><a href="${base}/preview">${t('setup.next.preview')}</a></li>
          <li><a href="${base}/go-live">${t('setup.next.live')}</a></li>
        </ul>
      </section>`;
  },
};
