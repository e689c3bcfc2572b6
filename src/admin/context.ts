import type { FastifyInstance } from 'fastify';
import type { App } from '../app.ts';
import type { StoreMetrics } from '../service/metrics.ts';
import type { CookieSecureMode, TrustProxy } from '../service/service-config.ts';
import type { AccountNames } from './account-names.ts';
import { DEFAULT_LOGIN_LIMITS, type LoginThrottle, type LoginThrottleLimits } from './auth/login-throttle.ts';
import { DEFAULT_SCRYPT_PARAMS, type ScryptParams } from './auth/password.ts';
import type { SyncJobs } from './sync-jobs.ts';
import type { IntegrationSection } from './web/sections.ts';

export interface AdminServerOptions {
  cookieSecure: CookieSecureMode;
  trustProxy: TrustProxy;
  /** Idle time after which a session ends; each request slides it forward. */
  sessionTtlMs: number;
  /** Hard cap on a session's life however active it is. */
  sessionMaxAgeMs: number;
  loginLimits: LoginThrottleLimits;
  scryptParams: ScryptParams;
  /** Per token (or IP before authentication) on /api/v1. */
  apiRateLimit: { max: number; timeWindowMs: number };
  /** The password is pinned by KLARNA_SPIRIS_ADMIN_PASSWORD; the UI says so. */
  passwordFromEnv: boolean;
}

export const DEFAULT_ADMIN_OPTIONS: AdminServerOptions = {
  cookieSecure: 'auto',
  trustProxy: false,
  sessionTtlMs: 12 * 3_600_000,
  sessionMaxAgeMs: 7 * 24 * 3_600_000,
  loginLimits: DEFAULT_LOGIN_LIMITS,
  scryptParams: DEFAULT_SCRYPT_PARAMS,
  apiRateLimit: { max: 600, timeWindowMs: 60_000 },
  passwordFromEnv: false,
};

/** What route modules and plugins get: the app plus the admin server's own state. */
export interface AdminContext {
  readonly app: App;
  readonly options: AdminServerOptions;
  readonly clock: () => Date;
  readonly throttle: LoginThrottle;
  readonly storeMetrics: StoreMetrics;
  readonly sections: readonly IntegrationSection[];
  /** Sync now, and the progress of running syncs. */
  readonly jobs: SyncJobs;
  /** Account names from each company's chart, for the mapping editor and the preview. */
  readonly accountNames: AccountNames;
  /** Set while `serve --demo` runs: where the simulators are, to prefill the setup forms. */
  readonly demo: () => DemoHints | undefined;
}

/** Simulator addresses in demo mode; never a key or a secret. */
export interface DemoHints {
  klarnaBaseUrl: string;
  spirisIdentityBaseUrl: string;
  spirisApiBaseUrl: string;
  spirisClientId: string;
}

/**
 * An extension registered inside the admin server, after the built-in routes' hooks
 * are in place: later pages (booking, demo controls) arrive this way without editing
 * server.ts. Use `requireSession`/`requireApiToken` from ./auth to protect routes.
 */
export type AdminPlugin = (server: FastifyInstance, ctx: AdminContext) => Promise<void> | void;
