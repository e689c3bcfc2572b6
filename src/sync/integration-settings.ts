import { z } from 'zod';
import { BookingMappingSchema } from '../booking/mapping.ts';
import type { Integration } from '../store/integrations.repository.ts';

// An integration's settings live as one JSON document on the integration row; this is
// the single place that reads and validates it, so every caller sees the same defaults.

export const RateSourceSettingsSchema = z.discriminatedUnion('kind', [
  z.strictObject({
    kind: z.literal('riksbank'),
    baseUrl: z.string().url().optional(),
  }),
  z.strictObject({
    kind: z.literal('table'),
    /** CSV or JSON rows: currency, date, SEK per unit. */
    table: z.string().min(1),
    format: z.enum(['csv', 'json']).default('csv'),
  }),
]);

export const IntegrationSettingsSchema = z.strictObject({
  mapping: BookingMappingSchema.default(BookingMappingSchema.parse({})),
  /** Each sync looks this many days back, so a late or re-dated payout is never missed. */
  syncWindowDays: z.number().int().min(1).max(90).default(14),
  /** The first sync catches up from this day (YYYY-MM-DD). */
  catchUpSince: z
    .string()
    .regex(/^\d{4}-\d{2}-\d{2}$/)
    .optional(),
  rateSource: RateSourceSettingsSchema.default({ kind: 'riksbank' }),
  /** Upload Klarna's payout PDF and link it to each voucher. */
  attachReport: z.boolean().default(true),
});

export type IntegrationSettings = z.infer<typeof IntegrationSettingsSchema>;
export type IntegrationSettingsInput = z.input<typeof IntegrationSettingsSchema>;

export class InvalidSettingsError extends Error {
  constructor(
    readonly integrationName: string,
    readonly issues: string[],
  ) {
    super(`The settings of integration "${integrationName}" are invalid: ${issues.join('; ')}`);
    this.name = 'InvalidSettingsError';
  }
}

export function parseIntegrationSettings(name: string, raw: unknown): IntegrationSettings {
  const parsed = IntegrationSettingsSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    throw new InvalidSettingsError(
      name,
      parsed.error.issues.map((i) => `${i.path.join('.') || '(settings)'}: ${i.message}`),
    );
  }
  return parsed.data;
}

export function readIntegrationSettings(
  integration: Pick<Integration, 'name' | 'settings'>,
): IntegrationSettings {
  return parseIntegrationSettings(integration.name, integration.settings);
}
