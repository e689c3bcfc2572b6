import type { Kysely } from 'kysely';
import type { CredentialSealer } from '../setup/credentials.ts';
import { setIntegrationMode } from '../setup/go-live.ts';
import {
  decideKlarnaKeyReplacement,
  knownKlarnaMerchantIds,
  recordKlarnaKeyUse,
  resumeAfterKlarnaReconnect,
  testKeyInLiveRefusal,
} from '../setup/key-lifecycle.ts';
import {
  type ConnectionRecord,
  createConnection,
  getConnection,
  updateConnection,
} from '../store/connections.repository.ts';
import { recordEvent } from '../store/events.repository.ts';
import { createIntegration, type Integration, updateIntegration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import type { KlarnaCredentials } from './key.ts';
import { KlarnaClient, type KlarnaClientOptions, type KlarnaLogger } from './klarna.client.ts';
import { klarnaConnectionConfig } from './klarna.connection.ts';

// Storing a Klarna key for an integration, whoever asks (`klarna connect`, the admin
// page, the HTTP API): the same refusals in the same order, and nothing is written
// before every check passed. Connecting a key to an integration that has one rotates
// it; payouts, vouchers and the mapping stay with the integration.

/** Why a key was not stored; the message says what to do instead. */
export class KlarnaConnectRefusedError extends Error {
  constructor(
    readonly reason: 'test_key_in_live' | 'merchant_change',
    message: string,
  ) {
    super(message);
    this.name = 'KlarnaConnectRefusedError';
  }
}

export interface ConnectKlarnaDeps {
  db: Kysely<Database>;
  sealer: CredentialSealer;
  logger?: KlarnaLogger;
  /** Client options for the probe (tests pass fast retries or a fetch). */
  clientOptions?: Omit<KlarnaClientOptions, 'credentials'>;
}

export interface ConnectKlarnaInput {
  /** Validated with validateKlarnaCredentials. */
  credentials: KlarnaCredentials;
  /** The integration the key is for, or the name of one to create once every check passed. */
  integration: Integration | { create: string };
  /** Ask Klarna whether the key works (and for which merchant) before storing it. */
  verify: boolean;
  confirmMerchantChange: boolean;
  actor: string;
}

export interface ConnectKlarnaResult {
  integration: Integration;
  connection: ConnectionRecord;
  merchantId: string | null;
  verified: boolean;
  replacedConnectionId: string | null;
  replacedHint: string | null;
  merchantChanged: boolean;
  /** The integration was live and went back to test because the merchant changed; callers say how to return. */
  leftLive: boolean;
  /** From the replacement decision; callers add their own (an unverified rotation, leaving live). */
  warnings: string[];
}

export async function connectKlarna(
  deps: ConnectKlarnaDeps,
  input: ConnectKlarnaInput,
): Promise<ConnectKlarnaResult> {
  const { db } = deps;
  const { credentials, actor } = input;
  const existing = 'create' in input.integration ? undefined : input.integration;

  const testKey = existing && testKeyInLiveRefusal(existing, credentials.environment);
  if (testKey) throw new KlarnaConnectRefusedError('test_key_in_live', testKey);

  let merchantId: string | undefined;
  if (input.verify) {
    const client = new KlarnaClient({
      ...deps.clientOptions,
      credentials,
      ...(deps.logger ? { logger: deps.logger } : {}),
    });
    merchantId = (await client.probe()).merchantId;
  }
  const decision = decideKlarnaKeyReplacement({
    integration: existing ?? {
      name: 'create' in input.integration ? input.integration.create : '',
      mode: 'off',
    },
    environment: credentials.environment,
    merchantId,
    knownMerchantIds: existing ? await knownKlarnaMerchantIds(db, existing) : [],
    confirmMerchantChange: input.confirmMerchantChange,
  });
  if (!decision.ok) throw new KlarnaConnectRefusedError('merchant_change', decision.message);
  const warnings = [...decision.warnings];

  const integration =
    existing ?? (await createIntegration(db, { name: (input.integration as { create: string }).create }));
  const previous = integration.klarnaConnectionId;
  const replacedHint = previous ? ((await getConnection(db, previous))?.secretHint ?? null) : null;
  const connection = await createConnection(db, deps.sealer, {
    kind: 'klarna',
    environment: credentials.environment,
    config: { ...klarnaConnectionConfig(credentials) },
    secret: credentials.apiKey,
    externalId: merchantId ?? null,
  });
  if (input.verify) await recordKlarnaKeyUse(db, connection.id);
  await updateIntegration(db, integration.id, { klarnaConnectionId: connection.id });
  if (previous && previous !== connection.id) {
    await updateConnection(db, previous, {
      status: 'replaced',
      statusReason: `replaced by ${connection.id}`,
    });
  }
  await recordEvent(db, {
    integrationId: integration.id,
    actor,
    kind: 'klarna.connected',
    message:
      `Klarna ${credentials.environment} key ${credentials.apiKey.masked} connected` +
      (replacedHint ? `, replacing ${replacedHint}` : ''),
    data: {
      connectionId: connection.id,
      replaced: previous ?? null,
      verified: input.verify,
      merchantId: merchantId ?? null,
      merchantChanged: decision.merchantChanged,
    },
  });
  if (input.verify) await resumeAfterKlarnaReconnect(db, integration.id, actor);
  let leftLive = false;
  if (decision.merchantChanged && integration.mode === 'live') {
    await setIntegrationMode(
      { db },
      {
        integrationId: integration.id,
        mode: 'test',
        actor,
        reason: `the Klarna merchant changed to ${merchantId}; test and preview again before going live`,
      },
    );
    leftLive = true;
  }
  return {
    integration: {
      ...integration,
      klarnaConnectionId: connection.id,
      mode: leftLive ? 'test' : integration.mode,
    },
    connection,
    merchantId: merchantId ?? null,
    verified: input.verify,
    replacedConnectionId: previous ?? null,
    replacedHint,
    merchantChanged: decision.merchantChanged,
    leftLive,
    warnings,
  };
}
