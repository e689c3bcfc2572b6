import type { FastifyReply, FastifyRequest } from 'fastify';
import { CSRF_FIELD } from '../auth/session.ts';
import type { AssetMap } from './assets.ts';
import { html, type SafeHtml } from './html.ts';
import { LANGS, type MessageKey } from './i18n.ts';

export interface PageOptions {
  title: string;
  body: SafeHtml;
  status?: number;
  /** Which main-menu entry is current. */
  nav?: 'integrations' | 'tokens' | 'password' | 'apiDocs';
  breadcrumbs?: { label: string; href?: string }[];
  /** Pages for signed-out visitors (login, setup) show no menu. */
  bare?: boolean;
  /** Script assets besides app.js, by file name. */
  scripts?: readonly string[] | undefined;
}

let assets: AssetMap | undefined;
/** Called once by buildServer; the layout links the hashed asset URLs. */
export function useAssets(map: AssetMap): void {
  assets = map;
}

const NAV: { id: NonNullable<PageOptions['nav']>; href: string; key: MessageKey }[] = [
  { id: 'integrations', href: '/', key: 'nav.integrations' },
  { id: 'tokens', href: '/settings/tokens', key: 'nav.tokens' },
  { id: 'password', href: '/settings/password', key: 'nav.password' },
  { id: 'apiDocs', href: '/api/docs', key: 'nav.apiDocs' },
];

export function csrfInput(request: FastifyRequest, token?: string): SafeHtml {
  const value = token ?? request.adminSession?.csrfToken ?? '';
  return html`<input type="hidden" name="${CSRF_FIELD}" value="${value}">`;
}

function header(request: FastifyRequest, opts: PageOptions): SafeHtml {
  const t = request.t;
  const langSwitch = html`<ul class="lang" aria-label="${t('nav.language')}">
    ${LANGS.map(
      (l) =>
        html`<li><a href="?lang=${l}" lang="${l}" hreflang="${l}" ${l === request.lang ? html`aria-current="true"` : ''}>${l.toUpperCase()}</a></li>`,
    )}
  </ul>`;
  const menu =
    !opts.bare && request.adminSession
      ? html`<nav class="mainnav" aria-label="${t('nav.label')}">
          <ul>
            ${NAV.map(
              (n) =>
                html`<li><a href="${n.href}" ${n.id === opts.nav ? html`aria-current="page"` : ''}>${t(n.key)}</a></li>`,
            )}
          </ul>
        </nav>
        <form method="post" action="/logout" class="logout">
          ${csrfInput(request)}
          <button type="submit" class="btn btn-quiet">${t('nav.logout')}</button>
        </form>`
      : '';
  return html`<header class="topbar">
    <a class="brand" href="/"><span class="brand-mark" aria-hidden="true">K→S</span> ${t('app.name')}</a>
    ${menu}
    ${langSwitch}
  </header>`;
}

function breadcrumbs(request: FastifyRequest, items: PageOptions['breadcrumbs']): SafeHtml | '' {
  if (!items?.length) return '';
  return html`<nav class="breadcrumbs" aria-label="${request.t('nav.breadcrumb')}">
    <ol>
      ${items.map((b, i) =>
        b.href && i < items.length - 1
          ? html`<li><a href="${b.href}">${b.label}</a></li>`
          : html`<li><span aria-current="page">${b.label}</span></li>`,
      )}
    </ol>
  </nav>`;
}

export function renderPage(request: FastifyRequest, opts: PageOptions): string {
  const t = request.t;
  const css = assets?.get('app.css')?.url ?? '/assets/app.css';
  const js = assets?.get('app.js')?.url ?? '/assets/app.js';
  const icon = assets?.get('favicon.svg')?.url ?? '/assets/favicon.svg';
  return html`<!doctype html>
<html lang="${request.lang}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light">
<title>${opts.title} · ${t('app.name')}</title>
<link rel="icon" href="${icon}" type="image/svg+xml">
<link rel="stylesheet" href="${css}">
<script src="${js}" defer></script>
${(opts.scripts ?? []).map((name) => html`<script src="${assets?.get(name)?.url ?? `/assets/${name}`}" defer></script>`)}
</head>
<body class="${opts.bare ? 'bare' : ''}">
<a class="skip-link" href="#main">${t('nav.skip')}</a>
${header(request, opts)}
<main id="main" tabindex="-1">
${breadcrumbs(request, opts.breadcrumbs)}
${opts.body}
</main>
<footer class="footer"><p>${t('app.tagline')}</p></footer>
</body>
</html>
`.toString();
}

export function sendPage(request: FastifyRequest, reply: FastifyReply, opts: PageOptions): FastifyReply {
  return reply
    .status(opts.status ?? 200)
    .type('text/html; charset=utf-8')
    .send(renderPage(request, opts));
}
