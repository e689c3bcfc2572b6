import type { Kysely } from 'kysely';
import type { CredentialSealer } from '../setup/credentials.ts';
import type { Secret } from '../setup/secret.ts';
import {
  type ConnectionRecord,
  createConnection,
  getConnection,
  readConnectionSecret,
  updateConnection,
} from '../store/connections.repository.ts';
import type { DialectName } from '../store/db.ts';
import { recordEvent } from '../store/events.repository.ts';
import {
  createIntegration,
  ensureDefaultIntegration,
  findIntegration,
  type Integration,
  updateIntegration,
} from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import {
  exchangeAuthorizationCode,
  type FetchLike,
  revokeToken,
  type SpirisEndpoints,
  type SpirisEnvironment,
} from './oauth.ts';
import { type SpirisRuntimeOptions, spirisClientForConnection } from './spiris.connection.ts';
import { SpirisError } from './spiris.errors.ts';
import type { SpirisCompanySettings } from './spiris.types.ts';
import {
  credentialsFromTokenSet,
  parseCredentials,
  type SpirisAuthMode,
  type SpirisConnectionConfig,
  type SpirisCredentials,
  serializeCredentials,
} from './token-store.ts';

// Completing a Spiris connection, whichever way the credentials came: stores them
// sealed, reads the company they open, and attaches the connection to an integration.

/** Status of a connection that runs on a bare access token until it expires. */
export const ACCESS_TOKEN_ONLY = 'access_token_only';

/** Visma documents no lifetime for a bare token; its access tokens last one hour. */
const ASSUMED_ACCESS_TOKEN_LIFETIME_MS = 3600_000;

export type SpirisGrant =
  | { kind: 'authorization_code'; code: string; redirectUri: string; codeVerifier?: string }
  | { kind: 'refresh_token'; refreshToken: Secret }
  | { kind: 'access_token'; accessToken: Secret; expiresAt?: string };

export interface ConnectSpirisInput {
  environment: SpirisEnvironment;
  endpoints: SpirisEndpoints;
  clientId?: string;
  clientSecret?: Secret;
  clientAuth?: 'basic' | 'body';
  scopes: string[];
  pkce: boolean;
  redirectUri?: string;
  grant: SpirisGrant;
  /** Integration id or name; default: the only one, or "default". */
  integration?: string;
  /** Allows attaching a company with a different org number than the one booked into so far. */
  confirmCompanyChange?: boolean;
  actor?: string;
}

export interface ConnectSpirisResult {
  connectionId: string;
  integrationId: string;
  integrationName: string;
  environment: SpirisEnvironment;
  authMode: SpirisAuthMode;
  companyName: string;
  organisationNumber: string | null;
  status: string;
  statusReason: string | null;
  accessTokenExpiresAt: string | null;
  canRefresh: boolean;
  grantedScope: string | null;
  previousConnectionId: string | null;
  companyChanged: boolean;
  warnings: string[];
}

/** Raised when the new authorization opens another company than the integration books into. */
export class SpirisCompanyChangeRefusedError extends SpirisError {
  constructor(message: string) {
    super(message);
    this.name = 'SpirisCompanyChangeRefusedError';
  }
}

export interface ConnectDeps extends SpirisRuntimeOptions {
  store: { db: Kysely<Database>; dialect: DialectName };
  sealer: CredentialSealer;
  fetch?: FetchLike;
}

export async function connectSpiris(
  deps: ConnectDeps,
  input: ConnectSpirisInput,
): Promise<ConnectSpirisResult> {
  const now = deps.now ?? (() => new Date());
  const { db } = deps.store;
  const warnings: string[] = [];
  const oauth = {
    tokenUrl: input.endpoints.tokenUrl,
    revocationUrl: input.endpoints.revocationUrl,
    clientId: input.clientId ?? '',
    clientSecret: input.clientSecret,
    ...(deps.fetch ? { fetch: deps.fetch } : {}),
    ...(input.clientAuth ? { clientAuth: input.clientAuth } : {}),
  };

  // 1. Credentials as they will be stored.
  let creds: SpirisCredentials = input.clientSecret ? { clientSecret: input.clientSecret } : {};
  const grant = input.grant;
  if (grant.kind === 'authorization_code') {
    requireClient(input);
    const tokens = await exchangeAuthorizationCode(oauth, {
      code: grant.code,
      redirectUri: grant.redirectUri,
      ...(grant.codeVerifier ? { codeVerifier: grant.codeVerifier } : {}),
    });
    creds = credentialsFromTokenSet(tokens, creds, now());
    if (!tokens.refreshToken) {
      warnings.push(
        'Visma issued no refresh token (was offline_access left out of --scopes?): the connection stops working when the access token expires.',
      );
    }
  } else if (grant.kind === 'refresh_token') {
    requireClient(input);
    creds = { ...creds, refreshToken: grant.refreshToken };
  } else {
    const expiresAt = grant.expiresAt ?? jwtExpiry(grant.accessToken);
    creds = {
      ...creds,
      accessToken: grant.accessToken,
      accessTokenExpiresAt:
        expiresAt ?? new Date(now().getTime() + ASSUMED_ACCESS_TOKEN_LIFETIME_MS).toISOString(),
    };
    if (!expiresAt) {
      warnings.push(
        "The access token does not say when it expires; assuming one hour from now (Visma's usual lifetime). Pass --access-token-expires-at if you know better.",
      );
    }
  }

  // 2. Store them before first use: an issued refresh token is spent by its first use.
  const config: SpirisConnectionConfig = {
    authMode: grant.kind,
    scopes: input.scopes,
    pkce: input.pkce,
    apiBaseUrl: input.endpoints.apiBaseUrl,
    authorizeUrl: input.endpoints.authorizeUrl,
    tokenUrl: input.endpoints.tokenUrl,
    revocationUrl: input.endpoints.revocationUrl,
    ...(input.clientId ? { clientId: input.clientId } : {}),
    ...(input.redirectUri ? { redirectUri: input.redirectUri } : {}),
    ...(input.clientAuth ? { clientAuth: input.clientAuth } : {}),
  };
  const created = await createConnection(db, deps.sealer, {
    kind: 'spiris',
    environment: input.environment,
    config: config as unknown as Record<string, unknown>,
    secret: serializeCredentials(creds),
  });

  // 3. Which company did the merchant pick?
  const handle = spirisClientForConnection(deps.store, deps.sealer, created, deps);
  let company: SpirisCompanySettings;
  try {
    company = await handle.client.getCompanySettings();
  } catch (err) {
    const current = await getConnection(db, created.id);
    if (current && current.status !== 'needs_reauthorization') {
      await updateConnection(db, created.id, {
        status: 'failed',
        statusReason: `Could not read the company settings while connecting: ${(err as Error).message}`,
      });
    }
    throw err;
  }
  const orgNumber = company.CorporateIdentityNumber?.trim() || null;
  const companyName = company.Name;

  // 4. The integration it belongs to, and the company it booked into so far.
  const integration = await resolveIntegration(db, input.integration);
  const previous = integration.spirisConnectionId
    ? await getConnection(db, integration.spirisConnectionId)
    : undefined;
  const companyChanged =
    !!previous?.externalId &&
    !!orgNumber &&
    normaliseOrgNumber(previous.externalId) !== normaliseOrgNumber(orgNumber);
  if (companyChanged && !input.confirmCompanyChange) {
    const reason =
      `Not connected: this authorization is for ${companyName} (${orgNumber}), but integration "${integration.name}" ` +
      `books into ${previous!.externalName ?? 'another company'} (${previous!.externalId}). ` +
      "Vouchers would land in a different company's books. If that is intended, run the command again with --yes " +
      '(or --confirm-company-change); otherwise choose the right company when Visma asks.';
    await updateConnection(db, created.id, { status: 'discarded', statusReason: reason });
    await revokeQuietly(deps, created, oauth);
    throw new SpirisCompanyChangeRefusedError(reason);
  }

  // 5. Attach.
  const latest = await readCredentialsMeta(deps, created.id);
  const canRefresh = latest.hasRefreshToken;
  const expiresAt = latest.accessTokenExpiresAt ?? null;
  const status = canRefresh ? 'active' : ACCESS_TOKEN_ONLY;
  const statusReason = canRefresh
    ? null
    : `Connected with an access token only: it works until ${expiresAt ?? 'it expires'} and cannot be renewed. ` +
      'Before then, run `klarna-spiris connect spiris` with the browser flow or a refresh token.';
  await updateConnection(db, created.id, {
    externalId: orgNumber,
    externalName: companyName,
    status,
    statusReason,
  });
  await updateIntegration(db, integration.id, { spirisConnectionId: created.id });
  if (previous && previous.id !== created.id) {
    await updateConnection(db, previous.id, {
      status: 'replaced',
      statusReason: `Replaced by Spiris connection ${created.id} on ${now().toISOString()}.`,
    });
  }
  if (!orgNumber)
    warnings.push(
      'Spiris returned no organisation number for this company; the company check on reconnect is off.',
    );
  const granted = latest.grantedScope;
  if (granted && !granted.split(/\s+/).includes('ea:accounting')) {
    warnings.push(
      'The ea:accounting scope was not granted: vouchers cannot be created with this connection.',
    );
  }

  await recordEvent(db, {
    integrationId: integration.id,
    actor: input.actor ?? 'cli',
    kind: 'spiris.connected',
    message:
      `Connected to Spiris company ${companyName}${orgNumber ? ` (${orgNumber})` : ''}` +
      (companyChanged ? `, replacing ${previous!.externalName} (${previous!.externalId})` : '') +
      '.',
    data: {
      connectionId: created.id,
      previousConnectionId: previous?.id ?? null,
      environment: input.environment,
      authMode: grant.kind,
      companyChanged,
    },
  });

  return {
    connectionId: created.id,
    integrationId: integration.id,
    integrationName: integration.name,
    environment: input.environment,
    authMode: grant.kind,
    companyName,
    organisationNumber: orgNumber,
    status,
    statusReason,
    accessTokenExpiresAt: expiresAt,
    canRefresh,
    grantedScope: granted ?? null,
    previousConnectionId: previous?.id ?? null,
    companyChanged,
    warnings,
  };
}

function requireClient(input: ConnectSpirisInput): void {
  if (!input.clientId) throw new SpirisError('A client id is needed (--client-id or SPIRIS_CLIENT_ID).');
  if (!input.clientSecret) {
    throw new SpirisError(
      'A client secret is needed (--client-secret-stdin, SPIRIS_CLIENT_SECRET or --client-secret).',
    );
  }
}

async function resolveIntegration(db: Kysely<Database>, idOrName: string | undefined): Promise<Integration> {
  if (!idOrName) return ensureDefaultIntegration(db);
  return (await findIntegration(db, idOrName)) ?? createIntegration(db, { name: idOrName });
}

/** 556677-8899, 5566778899 and SE556677889901 name the same company. */
export function normaliseOrgNumber(value: string): string {
  const digits = value.replace(/\D/g, '');
  // A Swedish VAT number is SE + the 10-digit org number + 01.
  return digits.length === 12 && /^se/i.test(value.trim()) ? digits.slice(0, 10) : digits;
}

/** The `exp` of a JWT access token as ISO time, when the token is a JWT. */
export function jwtExpiry(token: Secret): string | undefined {
  const parts = token.reveal().split('.');
  if (parts.length !== 3) return undefined;
  try {
    const payload = JSON.parse(Buffer.from(parts[1]!, 'base64url').toString('utf8')) as { exp?: unknown };
    return typeof payload.exp === 'number' ? new Date(payload.exp * 1000).toISOString() : undefined;
  } catch {
    return undefined;
  }
}

async function readCredentialsMeta(
  deps: ConnectDeps,
  connectionId: string,
): Promise<{ hasRefreshToken: boolean; accessTokenExpiresAt?: string; grantedScope?: string }> {
  const { secret } = await readConnectionSecret(deps.store.db, deps.sealer, connectionId);
  const c = parseCredentials(secret);
  return {
    hasRefreshToken: !!c.refreshToken,
    ...(c.accessTokenExpiresAt ? { accessTokenExpiresAt: c.accessTokenExpiresAt } : {}),
    ...(c.grantedScope ? { grantedScope: c.grantedScope } : {}),
  };
}

/** A refused connection's tokens are of no use to anyone; revoking them is good hygiene, not a must. */
async function revokeQuietly(
  deps: ConnectDeps,
  connection: ConnectionRecord,
  oauth: Parameters<typeof revokeToken>[0],
): Promise<void> {
  try {
    const { secret } = await readConnectionSecret(deps.store.db, deps.sealer, connection.id);
    const c = parseCredentials(secret);
    if (c.refreshToken && oauth.clientId) await revokeToken(oauth, c.refreshToken, 'refresh_token');
  } catch {
    // Best effort: the connection is already marked discarded and is never used.
  }
}
