import type {
  FastifyReply,
  FastifyRequest,
  onRequestAsyncHookHandler,
  preHandlerAsyncHookHandler,
} from 'fastify';
import {
  type AdminSession,
  type ApiTokenRecord,
  createSession,
  deleteExpiredSessions,
  deleteSession,
  extendSession,
  findActiveApiToken,
  findActiveSession,
  hasAdminPassword,
  markApiTokenUsed,
} from '../../store/admin.repository.ts';
import type { AdminContext } from '../context.ts';
import { ApiError } from '../errors.ts';
import type { Lang, Translate } from '../web/i18n.ts';
import { randomToken, safeEqual, sha256Hex } from './tokens.ts';

declare module 'fastify' {
  interface FastifyRequest {
    /** The logged-in admin session on UI routes; null elsewhere. */
    adminSession: AdminSession | null;
    /** The API token that authenticated an /api/v1 request. */
    apiToken: ApiTokenRecord | null;
    lang: Lang;
    t: Translate;
  }
}

export const SESSION_COOKIE = 'ks_session';
/** Double-submit token for the forms shown before there is a session (login, first-run setup). */
export const PRE_AUTH_CSRF_COOKIE = 'ks_csrf';
export const CSRF_FIELD = '_csrf';

// Sliding expiry and last-used stamps are written at most this often, not on every request.
const TOUCH_INTERVAL_MS = 60_000;

export function isSecureRequest(ctx: AdminContext, request: FastifyRequest): boolean {
  const mode = ctx.options.cookieSecure;
  return mode === 'always' || (mode === 'auto' && request.protocol === 'https');
}

export function baseCookieOptions(ctx: AdminContext, request: FastifyRequest) {
  return {
    path: '/',
    httpOnly: true,
    sameSite: 'lax' as const,
    secure: isSecureRequest(ctx, request),
  };
}

export function formField(request: FastifyRequest, name: string): string {
  const body = request.body as Record<string, unknown> | undefined;
  const v = body?.[name];
  if (typeof v === 'string') return v;
  if (Array.isArray(v) && typeof v[0] === 'string') return v[0];
  return '';
}

/** The session named by the cookie, if it is still valid; slides its expiry forward. */
export async function loadSession(ctx: AdminContext, request: FastifyRequest): Promise<AdminSession | null> {
  const cookie = request.cookies[SESSION_COOKIE];
  if (!cookie) return null;
  const db = ctx.app.store.db;
  const now = ctx.clock();
  const session = await findActiveSession(db, sha256Hex(cookie), now.toISOString());
  if (!session) return null;
  if (now.getTime() - Date.parse(session.lastSeenAt) > TOUCH_INTERVAL_MS) {
    const hardStop = Date.parse(session.createdAt) + ctx.options.sessionMaxAgeMs;
    const expires = Math.min(now.getTime() + ctx.options.sessionTtlMs, hardStop);
    await extendSession(db, session.idHash, now.toISOString(), new Date(expires).toISOString());
  }
  return session;
}

/** A fresh session id on every login, so a session fixed before login is worthless after it. */
export async function startSession(
  ctx: AdminContext,
  request: FastifyRequest,
  reply: FastifyReply,
  userId: string,
): Promise<AdminSession> {
  const db = ctx.app.store.db;
  const now = ctx.clock();
  await deleteExpiredSessions(db, now.toISOString());
  const id = randomToken();
  const session = await createSession(db, {
    idHash: sha256Hex(id),
    userId,
    csrfToken: randomToken(),
    now: now.toISOString(),
    expiresAt: new Date(now.getTime() + ctx.options.sessionTtlMs).toISOString(),
    ip: request.ip,
    userAgent: request.headers['user-agent'] ?? null,
  });
  reply.setCookie(SESSION_COOKIE, id, baseCookieOptions(ctx, request));
  reply.clearCookie(PRE_AUTH_CSRF_COOKIE, { path: '/' });
  return session;
}

export async function endSession(
  ctx: AdminContext,
  request: FastifyRequest,
  reply: FastifyReply,
): Promise<void> {
  if (request.adminSession) await deleteSession(ctx.app.store.db, request.adminSession.idHash);
  reply.clearCookie(SESSION_COOKIE, baseCookieOptions(ctx, request));
}

/** The token the login and setup forms carry; set as a cookie the first time either is shown. */
export function preAuthCsrfToken(ctx: AdminContext, request: FastifyRequest, reply: FastifyReply): string {
  const existing = request.cookies[PRE_AUTH_CSRF_COOKIE];
  if (existing && /^[A-Za-z0-9_-]{43}$/.test(existing)) return existing;
  const token = randomToken();
  // Strict: this cookie only ever needs to come back from our own forms.
  reply.setCookie(PRE_AUTH_CSRF_COOKIE, token, { ...baseCookieOptions(ctx, request), sameSite: 'strict' });
  return token;
}

export function checkPreAuthCsrf(request: FastifyRequest): void {
  const cookie = request.cookies[PRE_AUTH_CSRF_COOKIE] ?? '';
  const sent = formField(request, CSRF_FIELD);
  if (!cookie || !sent || !safeEqual(cookie, sent)) {
    throw new ApiError(403, 'csrf_failed', 'The form token is missing or does not match.');
  }
}

export function checkSessionCsrf(request: FastifyRequest): void {
  const expected = request.adminSession?.csrfToken;
  const sent = formField(request, CSRF_FIELD);
  if (!expected || !sent || !safeEqual(expected, sent)) {
    throw new ApiError(403, 'csrf_failed', 'The form token is missing or does not match.');
  }
}

function isSafeNext(next: string): boolean {
  return next.startsWith('/') && !next.startsWith('//') && !next.includes('\\');
}

export function safeRedirectTarget(next: unknown): string {
  return typeof next === 'string' && isSafeNext(next) ? next : '/';
}

/**
 * Guards UI routes: no password yet → first-run setup; no session → login; and every
 * state-changing request must carry the session's CSRF token. Routes registered in a
 * scope with this hook get all three without remembering to ask.
 */
export function requireSession(ctx: AdminContext): preHandlerAsyncHookHandler {
  return async (request, reply) => {
    const session = await loadSession(ctx, request);
    if (!session) {
      if (!(await hasAdminPassword(ctx.app.store.db))) return reply.redirect('/setup', 303);
      const hadCookie = Boolean(request.cookies[SESSION_COOKIE]);
      if (request.method !== 'GET') throw new ApiError(401, 'unauthorized', 'Log in first.');
      const next = encodeURIComponent(request.url);
      return reply.redirect(`/login?next=${next}${hadCookie ? '&notice=expired' : ''}`, 303);
    }
    request.adminSession = session;
    reply.header('cache-control', 'no-store');
    if (request.method !== 'GET' && request.method !== 'HEAD') checkSessionCsrf(request);
  };
}

/** Guards /api/v1 before the body is even parsed: `Authorization: Bearer <token>` naming an active token. */
export function requireApiToken(ctx: AdminContext): onRequestAsyncHookHandler {
  return async (request) => {
    const header = request.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
    if (!m) {
      throw new ApiError(401, 'unauthorized', 'Send an API token as "Authorization: Bearer <token>".');
    }
    const token = await findActiveApiToken(ctx.app.store.db, sha256Hex(m[1]!));
    if (!token) throw new ApiError(401, 'unauthorized', 'The API token is unknown or revoked.');
    const now = ctx.clock();
    if (!token.lastUsedAt || now.getTime() - Date.parse(token.lastUsedAt) > TOUCH_INTERVAL_MS) {
      await markApiTokenUsed(ctx.app.store.db, token.id, now.toISOString());
    }
    request.apiToken = token;
  };
}
