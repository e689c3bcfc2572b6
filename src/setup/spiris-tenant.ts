import type { Kysely } from 'kysely';
import { normaliseOrgNumber, type SpirisGrant } from '../spiris/connect.service.ts';
import {
  exchangeAuthorizationCode,
  type FetchLike,
  type OAuthClientOptions,
  refreshAccessToken,
  revokeToken,
  type SpirisEndpoints,
  type TokenSet,
} from '../spiris/oauth.ts';
import { SpirisClient } from '../spiris/spiris.client.ts';
import { SpirisError } from '../spiris/spiris.errors.ts';
import { StaticTokenSource } from '../spiris/token-store.ts';
import { getConnection } from '../store/connections.repository.ts';
import type { Integration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import type { Secret } from './secret.ts';

// The Spiris tenant is pinned by organisation number. Credentials are checked against
// it in memory, before anything is stored: a token for another company is refused and
// leaves no trace in the database.

/** Raised when a token opens a different company than the pinned one; nothing was stored. */
export class SpirisTenantMismatchError extends SpirisError {
  constructor(
    message: string,
    readonly expectedOrgNumber: string,
    readonly actualOrgNumber: string | null,
  ) {
    super(message);
    this.name = 'SpirisTenantMismatchError';
  }
}

/** Raised for an organisation number that cannot be one (a Swedish one has 10 digits). */
export class InvalidOrgNumberError extends SpirisError {
  constructor(value: string) {
    super(
      `"${value}" is not an organisation number: give it as 556677-8899 (or 5566778899, or the VAT number SE556677889901).`,
    );
    this.name = 'InvalidOrgNumberError';
  }
}

/** A Swedish number comes back as 556677-8899; others (Norway has 9 digits) as typed. */
export function parseOrgNumber(value: string): string {
  const digits = normaliseOrgNumber(value);
  if (digits.length === 10) return `${digits.slice(0, 6)}-${digits.slice(6)}`;
  if (digits.length >= 8 && digits.length <= 12 && /^[A-Za-z]{0,2}[\d\s-]+$/.test(value.trim()))
    return value.trim();
  throw new InvalidOrgNumberError(value);
}

/** Where a pin comes from: the user's --org-number, or the company the integration books into. */
export type TenantPin =
  | { source: 'flag'; orgNumber: string }
  | { source: 'integration'; orgNumber: string; integrationName: string; companyName: string | null };

/**
 * The organisation number an integration is pinned to: the one its current Spiris
 * connection was pinned to or connected to, or none when it has no connection yet.
 */
export async function integrationTenantPin(
  db: Kysely<Database>,
  integration: Pick<Integration, 'name' | 'spirisConnectionId'> | undefined,
): Promise<TenantPin | undefined> {
  if (!integration?.spirisConnectionId) return undefined;
  const connection = await getConnection(db, integration.spirisConnectionId);
  if (!connection) return undefined;
  const pinned = (connection.config as { expectedOrgNumber?: unknown }).expectedOrgNumber;
  const orgNumber = typeof pinned === 'string' && pinned !== '' ? pinned : connection.externalId;
  if (!orgNumber) return undefined;
  return {
    source: 'integration',
    orgNumber,
    integrationName: integration.name,
    companyName: connection.externalName,
  };
}

export interface TenantCheckInput {
  endpoints: SpirisEndpoints;
  clientId?: string;
  clientSecret?: Secret;
  clientAuth?: 'basic' | 'body';
  grant: SpirisGrant;
  pin: TenantPin;
  fetch?: FetchLike;
  now?: () => Date;
}

export interface TenantCheckResult {
  /** The grant to hand to connectSpiris: for a code or refresh token, the fresh refresh token. */
  grant: SpirisGrant;
  companyName: string;
  orgNumber: string | null;
}

/**
 * Opens the company the credentials lead to, without storing them, and compares its
 * organisation number with the pin. An authorization code and a refresh token are
 * spent doing so; the fresh refresh token comes back as the grant to store, and on a
 * mismatch it is revoked.
 */
export async function checkSpirisTenant(input: TenantCheckInput): Promise<TenantCheckResult> {
  const oauth: OAuthClientOptions = {
    tokenUrl: input.endpoints.tokenUrl,
    revocationUrl: input.endpoints.revocationUrl,
    clientId: input.clientId ?? '',
    clientSecret: input.clientSecret,
    ...(input.fetch ? { fetch: input.fetch } : {}),
    ...(input.clientAuth ? { clientAuth: input.clientAuth } : {}),
  };
  const now = input.now ?? (() => new Date());
  const grant = input.grant;

  let accessToken: Secret;
  let tokens: TokenSet | undefined;
  if (grant.kind === 'authorization_code') {
    tokens = await exchangeAuthorizationCode(oauth, {
      code: grant.code,
      redirectUri: grant.redirectUri,
      ...(grant.codeVerifier ? { codeVerifier: grant.codeVerifier } : {}),
    });
    accessToken = tokens.accessToken;
  } else if (grant.kind === 'refresh_token') {
    tokens = await refreshAccessToken(oauth, grant.refreshToken);
    accessToken = tokens.accessToken;
  } else {
    accessToken = grant.accessToken;
  }

  const client = new SpirisClient({
    apiBaseUrl: input.endpoints.apiBaseUrl,
    tokens: new StaticTokenSource(accessToken),
    ...(input.fetch ? { fetch: input.fetch } : {}),
  });
  const company = await client.getCompanySettings();
  const orgNumber = company.CorporateIdentityNumber?.trim() || null;
  const pin = input.pin;
  const expected = pin.orgNumber;
  if (!orgNumber || normaliseOrgNumber(orgNumber) !== normaliseOrgNumber(expected)) {
    if (tokens?.refreshToken && oauth.clientId) {
      try {
        await revokeToken(oauth, tokens.refreshToken, 'refresh_token');
      } catch {
        // Best effort: nothing was stored, so the token is unreachable either way.
      }
    }
    const opened = orgNumber
      ? `${company.Name} (${orgNumber})`
      : `${company.Name}, which has no organisation number in Spiris`;
    const message =
      pin.source === 'flag'
        ? `Not connected: these credentials open ${opened}, but --org-number says the company is ${expected}. ` +
          `Nothing was stored. Choose the company with organisation number ${expected} when Visma asks, or use credentials issued for it.`
        : `Not connected: these credentials open ${opened}, but integration "${pin.integrationName}" books into ` +
          `${pin.companyName ?? 'the company'} (${expected}). Nothing was stored. Vouchers would land in a different ` +
          "company's books. If that is intended, run the command again with --yes (or --confirm-company-change); " +
          'otherwise choose the right company when Visma asks.';
    throw new SpirisTenantMismatchError(message, expected, orgNumber);
  }

  let next: SpirisGrant;
  if (!tokens) next = grant;
  else if (tokens.refreshToken) next = { kind: 'refresh_token', refreshToken: tokens.refreshToken };
  else {
    next = {
      kind: 'access_token',
      accessToken: tokens.accessToken,
      expiresAt: new Date(now().getTime() + tokens.expiresIn * 1000).toISOString(),
    };
  }
  return { grant: next, companyName: company.Name, orgNumber };
}
