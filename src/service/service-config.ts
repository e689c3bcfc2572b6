import { z } from 'zod';
import { parseEnv } from '../config.ts';
import { Secret } from '../setup/secret.ts';

// The serve runtime's own settings, parsed once at start-up like AppConfig: every
// invalid variable is reported together. Flags (--port, --host) win over these.
const ServiceEnvSchema = z.object({
  KLARNA_SPIRIS_PORT: z.coerce.number().int().min(0).max(65535).default(8080),
  KLARNA_SPIRIS_HOST: z.string().min(1).default('localhost'),
  KLARNA_SPIRIS_ADMIN_PASSWORD: z.string().optional(),
  /** auto: Secure when the request arrived over https (directly or per X-Forwarded-Proto from a trusted proxy). */
  KLARNA_SPIRIS_COOKIE_SECURE: z.enum(['auto', 'always', 'never']).default('auto'),
  /** false, true, a hop count, or comma-separated proxy addresses/CIDRs. */
  KLARNA_SPIRIS_TRUST_PROXY: z.string().default('false'),
  KLARNA_SPIRIS_SESSION_HOURS: z.coerce
    .number()
    .positive()
    .max(24 * 30)
    .default(12),
});

/** A password prints as [redacted]: unlike API keys, even its last characters are not for display. */
export class RedactedSecret extends Secret {
  override get masked(): string {
    return '[redacted]';
  }
}

export type CookieSecureMode = 'auto' | 'always' | 'never';
export type TrustProxy = boolean | number | string[];

export interface ServiceConfig {
  readonly port: number;
  readonly host: string;
  /** When set, this is the admin password: applied at start if the stored one differs. */
  readonly adminPassword: Secret | undefined;
  readonly cookieSecure: CookieSecureMode;
  readonly trustProxy: TrustProxy;
  readonly sessionTtlMs: number;
}

function parseTrustProxy(value: string): TrustProxy {
  const v = value.trim().toLowerCase();
  if (v === '' || v === 'false' || v === '0') return false;
  if (v === 'true') return true;
  if (/^\d+$/.test(v)) return Number(v);
  return value
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

export function loadServiceConfig(
  env: NodeJS.ProcessEnv = process.env,
  flags: { port?: number; host?: string } = {},
): ServiceConfig {
  const e = parseEnv(ServiceEnvSchema, env);
  return Object.freeze({
    port: flags.port ?? e.KLARNA_SPIRIS_PORT,
    host: flags.host ?? e.KLARNA_SPIRIS_HOST,
    adminPassword: e.KLARNA_SPIRIS_ADMIN_PASSWORD
      ? new RedactedSecret(e.KLARNA_SPIRIS_ADMIN_PASSWORD)
      : undefined,
    cookieSecure: e.KLARNA_SPIRIS_COOKIE_SECURE,
    trustProxy: parseTrustProxy(e.KLARNA_SPIRIS_TRUST_PROXY),
    sessionTtlMs: e.KLARNA_SPIRIS_SESSION_HOURS * 3_600_000,
  });
}
