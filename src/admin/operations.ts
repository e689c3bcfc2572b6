import { connectKlarna } from '../klarna/connect.service.ts';
import { validateKlarnaCredentials } from '../klarna/key.ts';
import { runConnectionTest } from '../setup/connection-test.ts';
import { GoLiveRefusedError, setIntegrationMode } from '../setup/go-live.ts';
import { saveMapping } from '../setup/mapping-settings.ts';
import { Secret } from '../setup/secret.ts';
import { describeStrayWhitespace } from '../setup/secret-input.ts';
import { connectSpirisCompany } from '../setup/spiris-connect.ts';
import { parseOrgNumber } from '../setup/spiris-tenant.ts';
import type { SpirisGrant } from '../spiris/connect.service.ts';
import {
  DEFAULT_SPIRIS_SCOPES,
  isSpirisEnvironment,
  resolveSpirisEndpoints,
  type SpirisEndpoints,
  type SpirisEnvironment,
} from '../spiris/oauth.ts';
import { getIntegration, type Integration, type IntegrationMode } from '../store/integrations.repository.ts';
import { previewIntegration } from '../sync/preview.service.ts';
import { reversePayout } from '../sync/reverse.service.ts';
import { retryPayout, skipPayout } from '../sync/sync.service.ts';
import type { AdminContext } from './context.ts';
import { asApi } from './domain-errors.ts';
import { ApiError } from './errors.ts';

// What the admin pages and the HTTP API both do to an integration, once: each call
// goes to the domain service that owns it (never around it), and a refusal comes back
// as an ApiError with the status the API answers and the message the page shows.

export async function requireIntegration(ctx: AdminContext, id: string): Promise<Integration> {
  const integration = await getIntegration(ctx.app.store.db, id);
  if (!integration) throw new ApiError(404, 'not_found', 'No such integration.');
  return integration;
}

const invalid = (field: string, message: string) => new ApiError(422, 'unprocessable', message, { field });

// ---- connections ---------------------------------------------------------------------

export interface KlarnaKeyInput {
  apiKey: string;
  username?: string | undefined;
  region?: string | undefined;
  baseUrl?: string | undefined;
  confirmMerchantChange?: boolean | undefined;
}

/** Checks the key's format, asks Klarna, then stores it sealed (replacing, i.e. rotating, any key before). */
export async function connectKlarnaKey(
  ctx: AdminContext,
  integration: Integration,
  input: KlarnaKeyInput,
  actor: string,
) {
  const validated = validateKlarnaCredentials({
    apiKey: new Secret(input.apiKey),
    username: input.username || undefined,
    region: input.region || undefined,
    baseUrl: input.baseUrl || undefined,
  });
  if (!validated.ok) throw invalid(validated.field, validated.message);
  const result = await asApi(() =>
    connectKlarna(
      {
        db: ctx.app.store.db,
        sealer: ctx.app.sealer,
        logger: ctx.app.logger,
        ...(ctx.jobs.deps(actor).klarnaOptions ? { clientOptions: ctx.jobs.deps(actor).klarnaOptions } : {}),
      },
      {
        credentials: validated.credentials,
        integration,
        verify: true,
        confirmMerchantChange: !!input.confirmMerchantChange,
        actor,
      },
    ),
  );
  return result;
}

export interface SpirisHostsInput {
  environment: string;
  identityBaseUrl?: string | undefined;
  apiBaseUrl?: string | undefined;
}

/** The preset's hosts, with any URL the person overrode; refuses what is not a URL. */
export function spirisEndpoints(input: SpirisHostsInput): {
  environment: SpirisEnvironment;
  endpoints: SpirisEndpoints;
} {
  if (!isSpirisEnvironment(input.environment)) {
    throw invalid('environment', 'Choose production, sandbox or sandbox-legacy.');
  }
  for (const [field, value] of [
    ['identityBaseUrl', input.identityBaseUrl],
    ['apiBaseUrl', input.apiBaseUrl],
  ] as const) {
    if (!value) continue;
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw invalid(field, `"${value}" is not a URL.`);
    }
    const loopback = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
    // Tokens travel to these hosts; only a local simulator may go without TLS.
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      throw invalid(field, 'Use an https:// address (plain http only for localhost).');
    }
  }
  return {
    environment: input.environment,
    endpoints: resolveSpirisEndpoints({
      environment: input.environment,
      ...(input.identityBaseUrl ? { identityBaseUrl: input.identityBaseUrl } : {}),
      ...(input.apiBaseUrl ? { apiBaseUrl: input.apiBaseUrl } : {}),
    }),
  };
}

export function optionalOrgNumber(value: string | undefined): string | undefined {
  if (!value?.trim()) return undefined;
  try {
    return parseOrgNumber(value.trim());
  } catch (err) {
    throw invalid('orgNumber', (err as Error).message);
  }
}

/** A pasted secret must be the value alone. */
export function pastedSecret(field: string, label: string, value: string | undefined): Secret | undefined {
  if (value === undefined || value === '') return undefined;
  const problem = describeStrayWhitespace(label, value);
  if (problem) throw invalid(field, problem);
  return new Secret(value);
}

export interface IssuedSpirisInput extends SpirisHostsInput {
  grant: 'refresh_token' | 'access_token';
  clientId?: string | undefined;
  clientSecret?: string | undefined;
  refreshToken?: string | undefined;
  accessToken?: string | undefined;
  accessTokenExpiresAt?: string | undefined;
  orgNumber?: string | undefined;
  confirmCompanyChange?: boolean | undefined;
}

/** Issued credentials (a refresh token with its client, or a bare access token). */
export async function connectSpirisIssued(
  ctx: AdminContext,
  integration: Integration,
  input: IssuedSpirisInput,
  actor: string,
) {
  const { environment, endpoints } = spirisEndpoints(input);
  const orgNumber = optionalOrgNumber(input.orgNumber);
  const clientId = input.clientId?.trim() || undefined;
  const clientSecret = pastedSecret('clientSecret', 'client secret', input.clientSecret);
  let grant: SpirisGrant;
  if (input.grant === 'refresh_token') {
    const refreshToken = pastedSecret('refreshToken', 'refresh token', input.refreshToken);
    if (!refreshToken) throw invalid('refreshToken', 'Paste the refresh token you were given.');
    if (!clientId)
      throw invalid('clientId', 'A refresh token is renewed with its client: give the client id.');
    if (!clientSecret) throw invalid('clientSecret', 'Give the client secret that belongs to the client id.');
    grant = { kind: 'refresh_token', refreshToken };
  } else {
    const accessToken = pastedSecret('accessToken', 'access token', input.accessToken);
    if (!accessToken) throw invalid('accessToken', 'Paste the access token you were given.');
    let expiresAt: string | undefined;
    if (input.accessTokenExpiresAt?.trim()) {
      const t = Date.parse(input.accessTokenExpiresAt.trim());
      if (Number.isNaN(t)) {
        throw invalid(
          'accessTokenExpiresAt',
          'Give the expiry as an ISO date-time, e.g. 2026-03-12T15:00:00Z.',
        );
      }
      expiresAt = new Date(t).toISOString();
    }
    grant = { kind: 'access_token', accessToken, ...(expiresAt ? { expiresAt } : {}) };
  }
  const before = integration.spirisConnectionId;
  const result = await asApi(() =>
    connectSpirisCompany(
      { store: ctx.app.store, sealer: ctx.app.sealer, actor, ...ctx.jobs.deps(actor).spirisOptions },
      {
        environment,
        endpoints,
        ...(clientId ? { clientId } : {}),
        ...(clientSecret ? { clientSecret } : {}),
        scopes: [...DEFAULT_SPIRIS_SCOPES],
        pkce: false,
        grant,
        integration: integration.id,
        ...(orgNumber ? { orgNumber } : {}),
        confirmCompanyChange: !!input.confirmCompanyChange,
        actor,
      },
    ),
  );
  ctx.accountNames.forget(before);
  return result;
}

// ---- test, mapping, preview, mode ------------------------------------------------------

export function testConnections(ctx: AdminContext, integration: Integration, actor: string) {
  const deps = ctx.jobs.deps(actor);
  return asApi(() =>
    runConnectionTest(
      {
        store: ctx.app.store,
        sealer: ctx.app.sealer,
        logger: ctx.app.logger,
        actor,
        ...(deps.spirisOptions?.fetch ? { fetch: deps.spirisOptions.fetch } : {}),
      },
      integration.id,
    ),
  );
}

export function saveIntegrationMapping(
  ctx: AdminContext,
  integration: Integration,
  mapping: unknown,
  actor: string,
) {
  return asApi(() => saveMapping(ctx.app.store.db, { integrationId: integration.id, mapping, actor }));
}

export function previewNow(ctx: AdminContext, integration: Integration, actor: string, since?: string) {
  return asApi(() =>
    previewIntegration(ctx.jobs.deps(actor), { integrationId: integration.id, ...(since ? { since } : {}) }),
  );
}

/**
 * Through setIntegrationMode only. A refused go-live answers 409 go_live_refused with
 * every check of the gate, so a client can show what to fix.
 */
export async function changeMode(
  ctx: AdminContext,
  integration: Integration,
  input: { mode: IntegrationMode; confirm: boolean },
  actor: string,
) {
  try {
    return await setIntegrationMode(
      { db: ctx.app.store.db },
      { integrationId: integration.id, mode: input.mode, confirm: input.confirm, actor },
    );
  } catch (err) {
    if (err instanceof GoLiveRefusedError) {
      throw new ApiError(409, 'go_live_refused', err.message, { checks: err.evaluation.checks });
    }
    throw err;
  }
}

// ---- payouts ---------------------------------------------------------------------------

export function retry(ctx: AdminContext, integration: Integration, paymentReference: string, actor: string) {
  return asApi(() => retryPayout(ctx.jobs.deps(actor), { integrationId: integration.id, paymentReference }));
}

export function skip(
  ctx: AdminContext,
  integration: Integration,
  paymentReference: string,
  reason: string,
  actor: string,
) {
  return asApi(() =>
    skipPayout(ctx.jobs.deps(actor), { integrationId: integration.id, paymentReference, reason }),
  );
}

export function reverse(
  ctx: AdminContext,
  integration: Integration,
  input: { paymentReference: string; date?: string | undefined; rebook: boolean },
  actor: string,
) {
  return asApi(() =>
    reversePayout(ctx.jobs.deps(actor), {
      integrationId: integration.id,
      paymentReference: input.paymentReference,
      rebook: input.rebook,
      ...(input.date ? { date: input.date } : {}),
    }),
  );
}
