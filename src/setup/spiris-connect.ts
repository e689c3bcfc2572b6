import type { Kysely } from 'kysely';
import {
  type ConnectDeps,
  type ConnectSpirisInput,
  type ConnectSpirisResult,
  connectSpiris,
} from '../spiris/connect.service.ts';
import type { SpirisEnvironment } from '../spiris/oauth.ts';
import { getConnection, updateConnection } from '../store/connections.repository.ts';
import {
  findIntegration,
  getIntegration,
  type Integration,
  listIntegrations,
} from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { setIntegrationMode } from './go-live.ts';
import { checkSpirisTenant, integrationTenantPin, type TenantPin } from './spiris-tenant.ts';

// Connecting a Spiris company to an integration with the tenant pin around it, for
// `connect spiris`, the admin page and the HTTP API alike: a live integration takes only
// production books, a token for another company than the pinned one is refused before
// anything is stored, and the company is pinned for every later reconnect.

/** Why nothing was connected; the message says what to do instead. */
export class SpirisConnectRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SpirisConnectRefusedError';
  }
}

/** The integration a connect would attach to, without creating one. */
export async function existingIntegrationForSpiris(
  db: Kysely<Database>,
  idOrName: string | undefined,
): Promise<Integration | undefined> {
  if (idOrName) return findIntegration(db, idOrName);
  const all = await listIntegrations(db);
  if (all.length === 1) return all[0];
  return all.find((i) => i.name === 'default');
}

/**
 * The refusal that needs no answer from Visma, checked before a person is sent through
 * the browser flow: a live integration books into production books only.
 */
export function spirisEnvironmentRefusal(
  integration: Pick<Integration, 'name' | 'mode'> | undefined,
  environment: SpirisEnvironment,
): string | undefined {
  if (integration?.mode !== 'live' || environment === 'production') return undefined;
  return (
    `Integration "${integration.name}" is live and books into production books, so it takes only a production Spiris ` +
    `connection, not ${environment}. Nothing was stored. Switch it to test mode first.`
  );
}

export interface ConnectSpirisCompanyInput extends ConnectSpirisInput {
  /** Organisation number the credentials must open (parseOrgNumber'd); default: the integration's pin. */
  orgNumber?: string;
}

export interface ConnectSpirisCompanyResult extends ConnectSpirisResult {
  /** The integration was live and went back to test because the company changed. */
  leftLive: boolean;
}

export async function connectSpirisCompany(
  deps: ConnectDeps,
  input: ConnectSpirisCompanyInput,
): Promise<ConnectSpirisCompanyResult> {
  const { db } = deps.store;
  const existing = await existingIntegrationForSpiris(db, input.integration);
  const refusal = spirisEnvironmentRefusal(existing, input.environment);
  if (refusal) throw new SpirisConnectRefusedError(refusal);
  const confirm = !!input.confirmCompanyChange;
  // The pin: what the user said, else what the integration already books into.
  const pin: TenantPin | undefined = input.orgNumber
    ? { source: 'flag', orgNumber: input.orgNumber }
    : confirm
      ? undefined
      : await integrationTenantPin(db, existing);

  const grantKind = input.grant.kind;
  let grant = input.grant;
  if (pin) {
    // Checked in memory, so a token for the wrong company leaves nothing behind.
    const checked = await checkSpirisTenant({
      endpoints: input.endpoints,
      ...(input.clientId ? { clientId: input.clientId } : {}),
      ...(input.clientSecret ? { clientSecret: input.clientSecret } : {}),
      ...(input.clientAuth ? { clientAuth: input.clientAuth } : {}),
      ...(deps.fetch ? { fetch: deps.fetch } : {}),
      ...(deps.now ? { now: deps.now } : {}),
      grant,
      pin,
    });
    grant = checked.grant;
  }

  const result = await connectSpiris(deps, { ...input, grant, confirmCompanyChange: confirm });

  // Pin the company for every later reconnect, and keep the grant the user chose on
  // record even when the tenant check exchanged it for a refresh token.
  const created = await getConnection(db, result.connectionId);
  if (created) {
    const pinned = result.organisationNumber ?? pin?.orgNumber;
    await updateConnection(db, created.id, {
      config: {
        ...created.config,
        authMode: grantKind,
        ...(pinned ? { expectedOrgNumber: pinned } : {}),
      },
    });
  }
  let leftLive = false;
  if (result.companyChanged) {
    const integration = await getIntegration(db, result.integrationId);
    if (integration?.mode === 'live') {
      await setIntegrationMode(
        { db },
        {
          integrationId: integration.id,
          mode: 'test',
          actor: input.actor ?? 'system',
          reason: `the Spiris company changed to ${result.companyName} (${result.organisationNumber ?? 'no org number'}); test and preview again before going live`,
        },
      );
      leftLive = true;
    }
  }
  return { ...result, leftLive };
}
