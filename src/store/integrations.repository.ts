import type { Kysely, Selectable } from 'kysely';
import { newId, nowIso } from './ids.ts';
import type { Database, IntegrationTable } from './schema.ts';

export type IntegrationMode = 'off' | 'test' | 'live';

export interface Integration {
  id: string;
  name: string;
  mode: IntegrationMode;
  klarnaConnectionId: string | null;
  spirisConnectionId: string | null;
  settings: Record<string, unknown>;
  status: string;
  statusReason: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface IntegrationPatch {
  name?: string;
  mode?: IntegrationMode;
  klarnaConnectionId?: string | null;
  spirisConnectionId?: string | null;
  settings?: Record<string, unknown>;
  status?: string;
  statusReason?: string | null;
}

export const DEFAULT_INTEGRATION_NAME = 'default';

function toIntegration(row: Selectable<IntegrationTable>): Integration {
  return {
    id: row.id,
    name: row.name,
    mode: row.mode,
    klarnaConnectionId: row.klarna_connection_id,
    spirisConnectionId: row.spiris_connection_id,
    settings: JSON.parse(row.settings_json) as Record<string, unknown>,
    status: row.status,
    statusReason: row.status_reason,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  };
}

export async function createIntegration(db: Kysely<Database>, input: { name: string }): Promise<Integration> {
  const now = nowIso();
  const row = {
    id: newId(),
    name: input.name,
    mode: 'off' as const,
    klarna_connection_id: null,
    spiris_connection_id: null,
    settings_json: '{}',
    status: 'ok',
    status_reason: null,
    created_at: now,
    updated_at: now,
  };
  await db.insertInto('integrations').values(row).execute();
  return toIntegration(row);
}

export async function getIntegration(db: Kysely<Database>, id: string): Promise<Integration | undefined> {
  const row = await db.selectFrom('integrations').selectAll().where('id', '=', id).executeTakeFirst();
  return row && toIntegration(row);
}

/** By id, or by name when no id matches: users type names, scripts pass ids. */
export async function findIntegration(
  db: Kysely<Database>,
  idOrName: string,
): Promise<Integration | undefined> {
  const row = await db
    .selectFrom('integrations')
    .selectAll()
    .where((eb) => eb.or([eb('id', '=', idOrName), eb('name', '=', idOrName)]))
    .orderBy('created_at')
    .executeTakeFirst();
  return row && toIntegration(row);
}

export async function listIntegrations(db: Kysely<Database>): Promise<Integration[]> {
  const rows = await db
    .selectFrom('integrations')
    .selectAll()
    .orderBy('created_at')
    .orderBy('name')
    .execute();
  return rows.map(toIntegration);
}

/** The integration a single-merchant install works with when no --integration is given. */
export async function ensureDefaultIntegration(db: Kysely<Database>): Promise<Integration> {
  const all = await listIntegrations(db);
  if (all.length === 1) return all[0]!;
  const named = all.find((i) => i.name === DEFAULT_INTEGRATION_NAME);
  if (named) return named;
  if (all.length > 1) {
    throw new Error(
      `There are ${all.length} integrations (${all.map((i) => i.name).join(', ')}): name one with --integration.`,
    );
  }
  return createIntegration(db, { name: DEFAULT_INTEGRATION_NAME });
}

export async function updateIntegration(
  db: Kysely<Database>,
  id: string,
  patch: IntegrationPatch,
): Promise<Integration> {
  const values: Partial<Selectable<IntegrationTable>> = { updated_at: nowIso() };
  if (patch.name !== undefined) values.name = patch.name;
  if (patch.mode !== undefined) values.mode = patch.mode;
  if (patch.klarnaConnectionId !== undefined) values.klarna_connection_id = patch.klarnaConnectionId;
  if (patch.spirisConnectionId !== undefined) values.spiris_connection_id = patch.spirisConnectionId;
  if (patch.settings !== undefined) values.settings_json = JSON.stringify(patch.settings);
  if (patch.status !== undefined) values.status = patch.status;
  if (patch.statusReason !== undefined) values.status_reason = patch.statusReason;
  await db.updateTable('integrations').set(values).where('id', '=', id).execute();
  const updated = await getIntegration(db, id);
  if (!updated) throw new Error(`integration ${id} not found`);
  return updated;
}
