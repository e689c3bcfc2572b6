import type { Kysely } from 'kysely';
import { type BookingMapping, BookingMappingSchema, DEFAULT_BOOKING_MAPPING } from '../booking/mapping.ts';
import { recordEvent } from '../store/events.repository.ts';
import { getIntegration, updateIntegration } from '../store/integrations.repository.ts';
import type { Database } from '../store/schema.ts';
import { parseIntegrationSettings } from '../sync/integration-settings.ts';

// Saving a whole account mapping (the admin's mapping editor, PUT …/mapping). Only what
// differs from the default BAS mapping is stored, so an unchanged key keeps following
// the default; every change is one `mapping.changed` event, which is also what makes an
// earlier connection test and preview stale for going live.

export class MappingRejectedError extends Error {
  constructor(readonly issues: { path: string; message: string }[]) {
    super(`Not saved: ${issues.map((i) => `${i.path || 'mapping'}: ${i.message}`).join('; ')}.`);
    this.name = 'MappingRejectedError';
  }
}

export interface MappingChange {
  key: string;
  from: unknown;
  to: unknown;
}

type Json = Record<string, unknown>;

/** Records (currency → account, country → rates) are compared and stored as one value. */
const WHOLE_VALUES = new Set(['foreignBankAccounts', 'cashMethod.countries']);

function leaves(value: Json, prefix: string[] = []): Map<string, unknown> {
  const out = new Map<string, unknown>();
  for (const [k, v] of Object.entries(value)) {
    const path = [...prefix, k];
    const key = path.join('.');
    if (v && typeof v === 'object' && !Array.isArray(v) && !WHOLE_VALUES.has(key)) {
      for (const [lk, lv] of leaves(v as Json, path)) out.set(lk, lv);
    } else out.set(key, v);
  }
  return out;
}

const same = (a: unknown, b: unknown) => JSON.stringify(a) === JSON.stringify(b);

function setPath(obj: Json, key: string, value: unknown): void {
  const path = key.split('.');
  let cur = obj;
  for (const p of path.slice(0, -1)) {
    if (!cur[p] || typeof cur[p] !== 'object') cur[p] = {};
    cur = cur[p] as Json;
  }
  cur[path[path.length - 1]!] = value;
}

/** The stored form of a mapping: only what differs from the default. */
export function mappingOverrides(mapping: BookingMapping): Json {
  const defaults = leaves(DEFAULT_BOOKING_MAPPING as unknown as Json);
  const out: Json = {};
  for (const [key, value] of leaves(mapping as unknown as Json)) {
    if (!same(defaults.get(key), value)) setPath(out, key, value);
  }
  return out;
}

/** What changed between two effective mappings, key by key. */
export function mappingChanges(before: BookingMapping, after: BookingMapping): MappingChange[] {
  const a = leaves(before as unknown as Json);
  const b = leaves(after as unknown as Json);
  const keys = [...new Set([...a.keys(), ...b.keys()])];
  return keys
    .filter((k) => !same(a.get(k), b.get(k)))
    .map((k) => ({ key: k, from: a.get(k) ?? null, to: b.get(k) ?? null }));
}

export async function saveMapping(
  db: Kysely<Database>,
  input: { integrationId: string; mapping: unknown; actor: string },
): Promise<{ mapping: BookingMapping; changes: MappingChange[] }> {
  const integration = await getIntegration(db, input.integrationId);
  if (!integration) throw new Error(`integration ${input.integrationId} not found`);
  const parsed = BookingMappingSchema.safeParse(input.mapping);
  if (!parsed.success) {
    throw new MappingRejectedError(
      parsed.error.issues.map((i) => ({ path: i.path.join('.'), message: i.message })),
    );
  }
  const next = parsed.data;
  const before = parseIntegrationSettings(integration.name, integration.settings).mapping;
  const changes = mappingChanges(before, next);
  if (changes.length === 0) return { mapping: next, changes };
  const overrides = mappingOverrides(next);
  const { mapping: _previous, ...rest } = integration.settings;
  const settings = Object.keys(overrides).length > 0 ? { ...rest, mapping: overrides } : rest;
  // The whole settings document must stay valid, not only the mapping.
  parseIntegrationSettings(integration.name, settings);
  await updateIntegration(db, integration.id, { settings });
  await recordEvent(db, {
    integrationId: integration.id,
    actor: input.actor,
    kind: 'mapping.changed',
    message: `Mapping changed: ${changes
      .map((c) => `${c.key} ${formatValue(c.from)} → ${formatValue(c.to)}`)
      .join(', ')}`,
    data: { changes },
  });
  return { mapping: next, changes };
}

function formatValue(v: unknown): string {
  if (v === null || v === undefined) return '(none)';
  return typeof v === 'object' ? JSON.stringify(v) : String(v);
}
