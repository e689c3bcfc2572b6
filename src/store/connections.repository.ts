import type { Kysely, Selectable } from 'kysely';
import type { CredentialSealer, SealedSecret } from '../setup/credentials.ts';
import type { Secret } from '../setup/secret.ts';
import { newId, nowIso } from './ids.ts';
import type { ConnectionTable, Database } from './schema.ts';

export type ConnectionKind = 'klarna' | 'spiris';

/** A connection as the rest of the product sees it: never the secret, only its masked hint. */
export interface ConnectionRecord {
  id: string;
  kind: ConnectionKind;
  environment: string;
  config: Record<string, unknown>;
  secretHint: string | null;
  secretVersion: number;
  externalId: string | null;
  externalName: string | null;
  status: string;
  statusReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewConnection {
  kind: ConnectionKind;
  environment: string;
  config?: Record<string, unknown>;
  secret: Secret;
  externalId?: string | null;
  externalName?: string | null;
}

export interface ConnectionPatch {
  environment?: string;
  config?: Record<string, unknown>;
  externalId?: string | null;
  externalName?: string | null;
  status?: string;
  statusReason?: string | null;
}

function toRecord(row: Selectable<ConnectionTable>): ConnectionRecord {
  return {
    id: row.id,
    kind: row.kind,
    environment: row.environment,
    config: JSON.parse(row.config_json) as Record<string, unknown>,
    secretHint: row.secret_hint,
    secretVersion: Number(row.secret_version),
    externalId: row.external_id,
    externalName: row.external_name,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

// The columns a caller may see; secret_sealed is left out so it cannot travel by accident.
const PUBLIC_COLUMNS = [
  'id',
  'kind',
  'environment',
  'config_json',
  'secret_hint',
  'secret_version',
  'external_id',
  'external_name',
  'status',
  'status_reason',
  'created_at',
  'updated_at',
] as const;

export async function createConnection(
  db: Kysely<Database>,
  sealer: CredentialSealer,
  input: NewConnection,
): Promise<ConnectionRecord> {
  const now = nowIso();
  const row = {
    id: newId(),
    kind: input.kind,
    environment: input.environment,
    config_json: JSON.stringify(input.config ?? {}),
    secret_sealed: sealer.seal(input.secret),
    secret_hint: input.secret.masked,
    secret_version: 1,
    external_id: input.externalId ?? null,
    external_name: input.externalName ?? null,
    status: 'active',
    status_reason: null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('connections').values(row).execute();
  const { secret_sealed: _sealed, ...visible } = row;
  return toRecord({ ...visible, secret_sealed: null });
}

export async function getConnection(db: Kysely<Database>, id: string): Promise<ConnectionRecord | undefined> {
  const row = await db
    .selectFrom('connections')
    .select(PUBLIC_COLUMNS)
    .where('id', '=', id)
    .executeTakeFirst();
  return row && toRecord({ ...row, secret_sealed: null });
}

export async function listConnections(db: Kysely<Database>): Promise<ConnectionRecord[]> {
  const rows = await db.selectFrom('connections').select(PUBLIC_COLUMNS).orderBy('created_at').execute();
  return rows.map((r) => toRecord({ ...r, secret_sealed: null }));
}

export async function readConnectionSecret(
  db: Kysely<Database>,
  sealer: CredentialSealer,
  id: string,
): Promise<{ secret: Secret; version: number }> {
  const row = await db
    .selectFrom('connections')
    .select(['secret_sealed', 'secret_version'])
    .where('id', '=', id)
    .executeTakeFirst();
  if (!row) throw new Error(`connection ${id} not found`);
  if (!row.secret_sealed) throw new Error(`connection ${id} has no stored credential`);
  return { secret: sealer.open(row.secret_sealed as SealedSecret), version: Number(row.secret_version) };
}

/**
 * Compare-and-set on secret_version: returns false when another writer stored a newer
 * secret since `expectedVersion` was read, so a caller never overwrites a rotated token.
 */
export async function writeConnectionSecret(
  db: Kysely<Database>,
  sealer: CredentialSealer,
  id: string,
  secret: Secret,
  expectedVersion: number,
): Promise<boolean> {
  const result = await db
    .updateTable('connections')
    .set({
      secret_sealed: sealer.seal(secret),
      secret_hint: secret.masked,
      secret_version: expectedVersion + 1,
      updated_at: nowIso(),
    })
    .where('id', '=', id)
    .where('secret_version', '=', expectedVersion)
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}

export async function updateConnection(
  db: Kysely<Database>,
  id: string,
  patch: ConnectionPatch,
): Promise<ConnectionRecord> {
  const values: Partial<Selectable<ConnectionTable>> = { updated_at: nowIso() };
  if (patch.environment !== undefined) values.environment = patch.environment;
  if (patch.config !== undefined) values.config_json = JSON.stringify(patch.config);
  if (patch.externalId !== undefined) values.external_id = patch.externalId;
  if (patch.externalName !== undefined) values.external_name = patch.externalName;
  if (patch.status !== undefined) values.status = patch.status;
  if (patch.statusReason !== undefined) values.status_reason = patch.statusReason;
  await db.updateTable('connections').set(values).where('id', '=', id).execute();
  const updated = await getConnection(db, id);
  if (!updated) throw new Error(`connection ${id} not found`);
  return updated;
}
