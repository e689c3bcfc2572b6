import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import {
  createAdminPasswordIfAbsent,
  getAdminCredential,
  hasAdminPassword,
  setAdminPassword,
} from '../../store/admin.repository.ts';
import { recordEvent } from '../../store/events.repository.ts';
import {
  checkNewPassword,
  hashPassword,
  MAX_PASSWORD_LENGTH,
  MIN_PASSWORD_LENGTH,
  verifyPassword,
} from '../auth/password.ts';
import {
  checkPreAuthCsrf,
  endSession,
  formField,
  loadSession,
  preAuthCsrfToken,
  requireSession,
  safeRedirectTarget,
  startSession,
} from '../auth/session.ts';
import type { AdminContext } from '../context.ts';
import { html } from './html.ts';
import { csrfInput, sendPage } from './layout.ts';
import { field, notice, noticeFromQuery } from './views.ts';

const LOGIN_NOTICES = {
  afterSetup: { key: 'login.afterSetup' },
  loggedOut: { key: 'login.loggedOut', kind: 'info' },
  expired: { key: 'login.expired', kind: 'info' },
} as const;

function minutesToWait(ms: number): number {
  return Math.max(1, Math.ceil(ms / 60_000));
}

/** Login, logout, first-run setup and password change: the pages that exist before a session does. */
export async function registerAuthRoutes(server: FastifyInstance, ctx: AdminContext): Promise<void> {
  const db = ctx.app.store.db;

  const setupPage = (request: FastifyRequest, reply: FastifyReply, error?: string, status = 200) => {
    const t = request.t;
    return sendPage(request, reply, {
      title: t('setup.title'),
      bare: true,
      status,
      body: html`<section class="auth-card" aria-labelledby="setup-title">
        <h1 id="setup-title">${t('setup.title')}</h1>
        <p>${t('setup.intro')}</p>
        <form method="post" action="/setup" novalidate>
          ${csrfInput(request, preAuthCsrfToken(ctx, request, reply))}
          ${field({
            id: 'password',
            name: 'password',
            type: 'password',
            label: t('setup.password'),
            hint: t('setup.hint', { min: MIN_PASSWORD_LENGTH }),
            error,
            autocomplete: 'new-password',
            maxlength: MAX_PASSWORD_LENGTH,
            required: true,
            autofocus: true,
          })}
          ${field({
            id: 'confirm',
            name: 'confirm',
            type: 'password',
            label: t('setup.confirm'),
            autocomplete: 'new-password',
            maxlength: MAX_PASSWORD_LENGTH,
            required: true,
          })}
          <button type="submit" class="btn btn-primary">${t('setup.submit')}</button>
        </form>
      </section>`,
    });
  };

  server.get('/setup', async (request, reply) => {
    if (await hasAdminPassword(db)) return reply.redirect('/login', 303);
    return setupPage(request, reply);
  });

  server.post('/setup', async (request, reply) => {
    checkPreAuthCsrf(request);
    if (await hasAdminPassword(db)) return reply.redirect('/login', 303);
    const password = formField(request, 'password');
    const problem = checkNewPassword(password, formField(request, 'confirm'));
    if (problem) {
      return setupPage(request, reply, request.t(`password.${problem}`, { min: MIN_PASSWORD_LENGTH }), 422);
    }
    const created = await createAdminPasswordIfAbsent(
      db,
      await hashPassword(password, ctx.options.scryptParams),
    );
    if (created) {
      await recordEvent(db, {
        actor: 'admin-ui',
        kind: 'admin.password_set',
        message: 'Admin password set at first start',
      });
      request.log.info('admin password set through first-run setup');
    }
    return reply.redirect('/login?notice=afterSetup', 303);
  });

  const loginPage = (
    request: FastifyRequest,
    reply: FastifyReply,
    opts: { error?: string; status?: number; next?: string } = {},
  ) => {
    const t = request.t;
    const next = safeRedirectTarget(opts.next ?? (request.query as Record<string, unknown>)?.next);
    return sendPage(request, reply, {
      title: t('login.title'),
      bare: true,
      status: opts.status,
      body: html`<section class="auth-card" aria-labelledby="login-title">
        <h1 id="login-title">${t('login.title')}</h1>
        ${opts.error ? notice('error', opts.error) : noticeFromQuery(request, LOGIN_NOTICES)}
        <p>${t('login.intro')}</p>
        <form method="post" action="/login" novalidate>
          ${csrfInput(request, preAuthCsrfToken(ctx, request, reply))}
          <input type="hidden" name="next" value="${next}">
          ${field({
            id: 'password',
            name: 'password',
            type: 'password',
            label: t('login.password'),
            autocomplete: 'current-password',
            maxlength: MAX_PASSWORD_LENGTH,
            required: true,
            autofocus: true,
          })}
          <button type="submit" class="btn btn-primary">${t('login.submit')}</button>
        </form>
      </section>`,
    });
  };

  server.get('/login', async (request, reply) => {
    if (!(await hasAdminPassword(db))) return reply.redirect('/setup', 303);
    if (await loadSession(ctx, request)) return reply.redirect('/', 303);
    return loginPage(request, reply);
  });

  server.post('/login', async (request, reply) => {
    checkPreAuthCsrf(request);
    const next = formField(request, 'next');
    const ip = request.ip;
    const decision = ctx.throttle.check(ip);
    if (!decision.allowed) {
      const minutes = minutesToWait(decision.retryAfterMs);
      reply.header('retry-after', Math.ceil(decision.retryAfterMs / 1000));
      return loginPage(request, reply, { error: request.t('login.tooMany', { minutes }), status: 429, next });
    }
    const credential = await getAdminCredential(db);
    if (!credential) return reply.redirect('/setup', 303);
    const ok = await verifyPassword(formField(request, 'password'), credential.passwordHash);
    if (!ok) {
      ctx.throttle.recordFailure(ip);
      request.log.warn({ ip }, 'failed admin login');
      return loginPage(request, reply, { error: request.t('login.wrong'), status: 401, next });
    }
    ctx.throttle.recordSuccess(ip);
    await startSession(ctx, request, reply, credential.userId);
    return reply.redirect(safeRedirectTarget(next), 303);
  });

  await server.register(async (authed) => {
    authed.addHook('preHandler', requireSession(ctx));

    authed.post('/logout', async (request, reply) => {
      await endSession(ctx, request, reply);
      return reply.redirect('/login?notice=loggedOut', 303);
    });

    const passwordPage = (
      request: FastifyRequest,
      reply: FastifyReply,
      opts: { error?: { field: 'current' | 'password'; text: string }; status?: number } = {},
    ) => {
      const t = request.t;
      return sendPage(request, reply, {
        title: t('password.title'),
        nav: 'password',
        status: opts.status,
        body: html`<h1>${t('password.title')}</h1>
          ${noticeFromQuery(request, { changed: { key: 'password.changed' } })}
          ${ctx.options.passwordFromEnv ? notice('info', t('password.fromEnv')) : ''}
          <form method="post" action="/settings/password" class="card form-narrow" novalidate>
            ${csrfInput(request)}
            ${field({
              id: 'current',
              name: 'current',
              type: 'password',
              label: t('password.current'),
              autocomplete: 'current-password',
              error: opts.error?.field === 'current' ? opts.error.text : undefined,
              required: true,
            })}
            ${field({
              id: 'password',
              name: 'password',
              type: 'password',
              label: t('setup.password'),
              hint: t('setup.hint', { min: MIN_PASSWORD_LENGTH }),
              autocomplete: 'new-password',
              error: opts.error?.field === 'password' ? opts.error.text : undefined,
              maxlength: MAX_PASSWORD_LENGTH,
              required: true,
            })}
            ${field({
              id: 'confirm',
              name: 'confirm',
              type: 'password',
              label: t('setup.confirm'),
              autocomplete: 'new-password',
              maxlength: MAX_PASSWORD_LENGTH,
              required: true,
            })}
            <button type="submit" class="btn btn-primary">${t('password.submit')}</button>
          </form>`,
      });
    };

    authed.get('/settings/password', async (request, reply) => passwordPage(request, reply));

    authed.post('/settings/password', async (request, reply) => {
      const t = request.t;
      const ip = request.ip;
      const decision = ctx.throttle.check(ip);
      if (!decision.allowed) {
        const text = t('login.tooMany', { minutes: minutesToWait(decision.retryAfterMs) });
        return passwordPage(request, reply, { error: { field: 'current', text }, status: 429 });
      }
      const credential = await getAdminCredential(db);
      // A stolen session alone must not be enough to lock the owner out: ask for the current password.
      if (!credential || !(await verifyPassword(formField(request, 'current'), credential.passwordHash))) {
        ctx.throttle.recordFailure(ip);
        return passwordPage(request, reply, {
          error: { field: 'current', text: t('password.wrongCurrent') },
          status: 401,
        });
      }
      const password = formField(request, 'password');
      const problem = checkNewPassword(password, formField(request, 'confirm'));
      if (problem) {
        const text = t(`password.${problem}`, { min: MIN_PASSWORD_LENGTH });
        return passwordPage(request, reply, { error: { field: 'password', text }, status: 422 });
      }
      await setAdminPassword(db, await hashPassword(password, ctx.options.scryptParams));
      await recordEvent(db, {
        actor: 'admin-ui',
        kind: 'admin.password_changed',
        message: 'Admin password changed',
      });
      // Changing the password ended every session, this one too; keep the person who changed it logged in.
      await startSession(ctx, request, reply, credential.userId);
      return reply.redirect('/settings/password?notice=changed', 303);
    });
  });
}
