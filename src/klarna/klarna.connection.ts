import type { Kysely } from 'kysely';
import type { CredentialSealer } from '../setup/credentials.ts';
import {
  type ConnectionRecord,
  getConnection,
  readConnectionSecret,
} from '../store/connections.repository.ts';
import type { Integration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { type KlarnaCredentials, klarnaOrigin, validateKlarnaCredentials } from './key.ts';
import { KlarnaClient, type KlarnaClientOptions } from './klarna.client.ts';

/** What a `klarna` connection keeps in its config (the key itself is sealed separately). */
export interface KlarnaConnectionConfig {
  region: string;
  username?: string;
  /** Only when it is not Klarna's default host for region and environment. */
  baseUrl?: string;
}

export function klarnaConnectionConfig(credentials: KlarnaCredentials): KlarnaConnectionConfig {
  const isDefault = credentials.baseUrl === klarnaOrigin(credentials.region, credentials.environment);
  return {
    region: credentials.region,
    ...(credentials.username ? { username: credentials.username } : {}),
    ...(isDefault ? {} : { baseUrl: credentials.baseUrl }),
  };
}

/** Raised when an integration has no usable Klarna connection; the message says what to run. */
export class KlarnaNotConnectedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'KlarnaNotConnectedError';
  }
}

/** Credentials of a stored connection, validated again so a hand-edited row fails clearly. */
export async function loadKlarnaCredentials(
  db: Kysely<Database>,
  sealer: CredentialSealer,
  connection: ConnectionRecord,
): Promise<KlarnaCredentials> {
  const { secret } = await readConnectionSecret(db, sealer, connection.id);
  const config = connection.config as Partial<KlarnaConnectionConfig>;
  const result = validateKlarnaCredentials({
    apiKey: secret,
    username: config.username,
    region: config.region,
    environment: connection.environment,
    baseUrl: config.baseUrl,
  });
  if (!result.ok) {
    throw new KlarnaNotConnectedError(
      `The stored Klarna connection ${connection.id} is not usable: ${result.message} Run \`klarna-spiris klarna connect\` again.`,
    );
  }
  return result.credentials;
}

/** A client for the integration's Klarna connection. */
export async function openKlarnaClient(
  deps: { db: Kysely<Database>; sealer: CredentialSealer },
  integration: Integration,
  options: Omit<KlarnaClientOptions, 'credentials'> = {},
): Promise<{ client: KlarnaClient; connection: ConnectionRecord }> {
  if (!integration.klarnaConnectionId) {
    throw new KlarnaNotConnectedError(
      `Integration "${integration.name}" has no Klarna connection: run \`klarna-spiris klarna connect\` first.`,
    );
  }
  const connection = await getConnection(deps.db, integration.klarnaConnectionId);
  if (!connection) {
    throw new KlarnaNotConnectedError(
      `Integration "${integration.name}" points at a Klarna connection that no longer exists: run \`klarna-spiris klarna connect\`.`,
    );
  }
  const credentials = await loadKlarnaCredentials(deps.db, deps.sealer, connection);
  // Klarna rate-limits per merchant id, so share one budget per merchant when it is known.
  const budgetKey = connection.externalId ? `merchant:${connection.externalId}` : undefined;
  return {
    client: new KlarnaClient({ ...(budgetKey ? { budgetKey } : {}), ...options, credentials }),
    connection,
  };
}
