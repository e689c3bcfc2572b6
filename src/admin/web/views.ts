import type { FastifyRequest } from 'fastify';
import type { HealthState } from '../health.ts';
import { formatDateTime } from './format.ts';
import { html, type SafeHtml } from './html.ts';
import { labelFor, type MessageKey } from './i18n.ts';

// Small building blocks shared by the pages. Status is always spelled out in text as
// well as colour, so it reads the same to a screen reader and in grayscale.

export function notice(kind: 'info' | 'success' | 'error', text: string): SafeHtml {
  const role = kind === 'error' ? 'alert' : 'status';
  return html`<div class="notice notice-${kind}" role="${role}">${text}</div>`;
}

/** Notices arrive as ?notice=<key> after a redirect; only known keys are shown. */
export function noticeFromQuery(
  request: FastifyRequest,
  allowed: Record<string, { key: MessageKey; kind?: 'info' | 'success' }>,
): SafeHtml | '' {
  const q = request.query as Record<string, unknown> | undefined;
  const n = typeof q?.notice === 'string' ? allowed[q.notice] : undefined;
  return n ? notice(n.kind ?? 'success', request.t(n.key)) : '';
}

export interface FieldOptions {
  id: string;
  name: string;
  label: string;
  type?: 'text' | 'password';
  value?: string;
  hint?: string;
  error?: string;
  autocomplete?: string;
  required?: boolean;
  maxlength?: number;
  autofocus?: boolean;
  placeholder?: string;
  /** More ids for aria-describedby (a live status line). */
  describedBy?: string[];
  /** Attributes the code itself wrote (data-*, inputmode, list). */
  attrs?: SafeHtml;
  /** Markup after the input inside the field (a live status, a badge, a name). */
  after?: SafeHtml;
  className?: string;
}

export function field(o: FieldOptions): SafeHtml {
  const describedBy = [o.hint ? `${o.id}-hint` : '', o.error ? `${o.id}-error` : '', ...(o.describedBy ?? [])]
    .filter(Boolean)
    .join(' ');
  return html`<div class="field ${o.error ? 'field-invalid' : ''} ${o.className ?? ''}">
    <label for="${o.id}">${o.label}</label>
    ${o.hint ? html`<p class="hint" id="${o.id}-hint">${o.hint}</p>` : ''}
    ${o.error ? html`<p class="field-error" id="${o.id}-error">${o.error}</p>` : ''}
    <input id="${o.id}" name="${o.name}" type="${o.type ?? 'text'}"
      ${o.value !== undefined ? html`value="${o.value}"` : ''}
      ${o.placeholder ? html`placeholder="${o.placeholder}"` : ''}
      ${o.autocomplete ? html`autocomplete="${o.autocomplete}"` : ''}
      ${o.maxlength ? html`maxlength="${o.maxlength}"` : ''}
      ${describedBy ? html`aria-describedby="${describedBy}"` : ''}
      ${o.error ? html`aria-invalid="true"` : ''}
      ${o.required ? html`required` : ''}
      ${o.autofocus ? html`autofocus` : ''}
      ${o.attrs ?? ''}>
    ${o.after ?? ''}
  </div>`;
}

export function selectField(o: {
  id: string;
  name: string;
  label: string;
  options: { value: string; label: string }[];
  value?: string;
  hint?: string;
  error?: string;
}): SafeHtml {
  const describedBy = [o.hint ? `${o.id}-hint` : '', o.error ? `${o.id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return html`<div class="field ${o.error ? 'field-invalid' : ''}">
    <label for="${o.id}">${o.label}</label>
    ${o.hint ? html`<p class="hint" id="${o.id}-hint">${o.hint}</p>` : ''}
    ${o.error ? html`<p class="field-error" id="${o.id}-error">${o.error}</p>` : ''}
    <select id="${o.id}" name="${o.name}" ${describedBy ? html`aria-describedby="${describedBy}"` : ''}>
      ${o.options.map(
        (opt) =>
          html`<option value="${opt.value}" ${opt.value === o.value ? html`selected` : ''}>${opt.label}</option>`,
      )}
    </select>
  </div>`;
}

export function checkboxField(o: {
  id: string;
  name: string;
  label: string;
  checked?: boolean;
  hint?: string;
  error?: string;
  required?: boolean;
}): SafeHtml {
  const describedBy = [o.hint ? `${o.id}-hint` : '', o.error ? `${o.id}-error` : '']
    .filter(Boolean)
    .join(' ');
  return html`<div class="field field-check ${o.error ? 'field-invalid' : ''}">
    ${o.error ? html`<p class="field-error" id="${o.id}-error">${o.error}</p>` : ''}
    <input type="checkbox" id="${o.id}" name="${o.name}" value="yes" ${o.checked ? html`checked` : ''}
      ${describedBy ? html`aria-describedby="${describedBy}"` : ''} ${o.required ? html`required` : ''}>
    <label for="${o.id}">${o.label}</label>
    ${o.hint ? html`<p class="hint" id="${o.id}-hint">${o.hint}</p>` : ''}
  </div>`;
}

const CHECK_TONE: Record<string, string> = { pass: 'good', warn: 'warn', fail: 'bad', ok: 'good' };

/** pass / warn / fail, in words as well as colour. */
export function checkBadge(request: FastifyRequest, status: string): SafeHtml {
  return html`<span class="badge badge-${CHECK_TONE[status] ?? 'neutral'}">${labelFor(request.t, 'check', status)}</span>`;
}

/** Playground / Production (Klarna), Sandbox / Production (Spiris). */
export function envBadge(request: FastifyRequest, environment: string): SafeHtml {
  return html`<span class="badge badge-env badge-env-${environment}">${labelFor(request.t, 'env', environment)}</span>`;
}

const HEALTH_TONE: Record<HealthState, string> = {
  ok: 'good',
  attention: 'warn',
  failing: 'bad',
  setup: 'neutral',
  paused: 'neutral',
  error: 'bad',
};

export function healthBadge(request: FastifyRequest, state: HealthState): SafeHtml {
  return html`<span class="badge badge-${HEALTH_TONE[state]}">${labelFor(request.t, 'health', state)}</span>`;
}

export function modeBadge(request: FastifyRequest, mode: string): SafeHtml {
  return html`<span class="badge badge-mode-${mode}">${labelFor(request.t, 'mode', mode)}</span>`;
}

const RUN_TONE: Record<string, string> = { succeeded: 'good', failed: 'bad', running: 'info' };
export function runBadge(request: FastifyRequest, status: string): SafeHtml {
  return html`<span class="badge badge-${RUN_TONE[status] ?? 'neutral'}">${labelFor(request.t, 'run', status)}</span>`;
}

const STATE_TONE: Record<string, string> = {
  booked: 'good',
  reversed: 'neutral',
  skipped: 'neutral',
  discovered: 'info',
  attached: 'good',
  needs_attention: 'warn',
  posting: 'info',
  reversing: 'info',
  ready: 'info',
};
export function payoutStateBadge(request: FastifyRequest, state: string): SafeHtml {
  return html`<span class="badge badge-${STATE_TONE[state] ?? 'neutral'}">${labelFor(request.t, 'state', state)}</span>`;
}

export function time(request: FastifyRequest, iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`;
  return html`<time datetime="${iso}">${formatDateTime(iso, request.lang)}</time>`;
}

export function emptyState(text: string): SafeHtml {
  return html`<p class="empty">${text}</p>`;
}

/** Offset paging for the history tables: ?page=N, newest first. */
export function pager(
  request: FastifyRequest,
  basePath: string,
  page: number,
  pageSize: number,
  total: number,
): SafeHtml | '' {
  if (total <= pageSize) return '';
  const t = request.t;
  const from = (page - 1) * pageSize + 1;
  const to = Math.min(page * pageSize, total);
  return html`<nav class="pager" aria-label="${t('pager.label')}">
    ${page > 1 ? html`<a class="btn btn-quiet" href="${basePath}?page=${page - 1}">← ${t('pager.newer')}</a>` : ''}
    <span>${t('pager.position', { from, to, total })}</span>
    ${to < total ? html`<a class="btn btn-quiet" href="${basePath}?page=${page + 1}">${t('pager.older')} →</a>` : ''}
  </nav>`;
}

export function pageNumber(request: FastifyRequest): number {
  const raw = (request.query as Record<string, unknown> | undefined)?.page;
  const n = typeof raw === 'string' ? Number.parseInt(raw, 10) : 1;
  return Number.isFinite(n) && n >= 1 && n <= 100_000 ? n : 1;
}

/**
 * The credential as it may be shown: a Klarna key's masked hint; for Spiris, how it was
 * authorised (its stored document has no meaningful hint).
 */
export function credentialFact(
  request: FastifyRequest,
  c: { kind: string; secretHint: string | null; config: Record<string, unknown> },
): SafeHtml {
  const t = request.t;
  if (c.kind === 'spiris') {
    const mode = typeof c.config.authMode === 'string' ? c.config.authMode : 'authorization_code';
    return html`<div><dt>${t('connection.auth')}</dt><dd>${labelFor(t, 'auth', mode)}</dd></div>`;
  }
  return html`<div><dt>${t('connection.key')}</dt><dd><code>${c.secretHint ?? '—'}</code></dd></div>`;
}

export function connectionStatus(
  request: FastifyRequest,
  c: { status: string; statusReason: string | null },
): SafeHtml {
  return html`${labelFor(request.t, 'connstatus', c.status)}${c.statusReason ? html` – ${c.statusReason}` : ''}`;
}
