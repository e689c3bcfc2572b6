// Validates the simulator's JSON against the component schemas of Klarna's published OpenAPI
// file, so the fake cannot drift from the documented shapes (additionalProperties: false
// included). The spec is kept in the repository's spec/ folder.

import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import type { SimMerchant } from './generator.ts';
import { type KlarnaSimulator, startKlarnaSimulator } from './klarna.simulator.ts';

// ajv-formats is CommonJS; under NodeNext its plugin function is reached through `.default`.
const addFormats = addFormatsModule.default;

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const SPEC_PATH = path.resolve(repoRoot, 'spec', 'klarna-settlements-api-v1.openapi.yml');

function loadValidators(): Record<string, ValidateFunction> {
  if (!existsSync(SPEC_PATH)) {
    throw new Error(`Klarna's OpenAPI file was not found at ${SPEC_PATH} (spec/ in the repository).`);
  }
  const spec = parse(readFileSync(SPEC_PATH, 'utf8')) as { components: { schemas: Record<string, unknown> } };
  // OpenAPI keywords such as `example` are not JSON Schema; strict mode would reject them.
  const ajv = new Ajv({ strict: false, allErrors: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'klarna-settlements', components: spec.components });
  const ref = (name: string) => ({ $ref: `klarna-settlements#/components/schemas/${name}` });
  return {
    PayoutCollection: ajv.compile(ref('PayoutCollection')),
    Payout: ajv.compile(ref('Payout')),
    PayoutSummaryArray: ajv.compile({ type: 'array', items: ref('PayoutSummary') }),
    TransactionCollection: ajv.compile(ref('TransactionCollection')),
    ErrorResponse: ajv.compile(ref('ErrorResponse')),
  };
}

describe('simulator responses conform to Klarna’s OpenAPI schemas', () => {
  let v: Record<string, ValidateFunction>;
  let sim: KlarnaSimulator;
  let main: SimMerchant;
  let multi: SimMerchant;

  const get = async (m: SimMerchant, p: string, auth = true): Promise<{ status: number; body: unknown }> => {
    const { username, apiKey } = m.credentials;
    const headers: Record<string, string> = auth
      ? { Authorization: `Basic ${Buffer.from(`${username}:${apiKey}`).toString('base64')}` }
      : {};
    const res = await fetch(`${sim.url}/settlements/v1${p}`, { headers });
    return { status: res.status, body: await res.json() };
  };

  const expectValid = (schema: string, body: unknown) => {
    const validate = v[schema]!;
    const ok = validate(body);
    expect(ok, `${schema}: ${JSON.stringify(validate.errors?.slice(0, 5), null, 2)}`).toBe(true);
  };

  beforeAll(async () => {
    v = loadValidators();
    sim = await startKlarnaSimulator({
      rateLimitPerSecond: 0,
      merchants: [{ seed: 1 }, { seed: 2, days: 35, currencies: ['EUR', 'NOK', 'DKK'], ordersPerPayout: 4 }],
    });
    [main, multi] = sim.merchants as [SimMerchant, SimMerchant];
  });
  afterAll(() => sim?.close());

  it('the validators enforce additionalProperties: false', () => {
    expect(v.ErrorResponse!({ error_code: 'X', error_messages: [], correlation_id: 'c', extra: 1 })).toBe(
      false,
    );
    expect(v.PayoutCollection!({ payouts: [], pagination: { count: 0, total: 0, offset: 0 } })).toBe(true);
  });

  it('PayoutCollection and Payout', async () => {
    for (const m of [main, multi]) {
      for (let offset = 0; offset < m.payouts.length; offset += 500) {
        const { status, body } = await get(m, `/payouts?size=500&offset=${offset}`);
        expect(status).toBe(200);
        expectValid('PayoutCollection', body);
      }
      const paged = await get(m, '/payouts?size=10&offset=10');
      expectValid('PayoutCollection', paged.body);
      const one = await get(m, `/payouts/${m.payouts[3]!.payment_reference}`);
      expectValid('Payout', one.body);
    }
  });

  it('PayoutSummary array', async () => {
    const { body } = await get(multi, '/payouts/summary?start_date=2026-01-01&end_date=2026-02-01T00:00:00Z');
    expect(body).toHaveLength(3);
    expectValid('PayoutSummaryArray', body);
    const empty = await get(main, '/payouts/summary?start_date=2020-01-01&end_date=2020-01-02');
    expectValid('PayoutSummaryArray', empty.body);
  });

  it('TransactionCollection, over every transaction of both merchants', async () => {
    const types = new Set<string>();
    for (const m of [main, multi]) {
      for (let offset = 0; offset < m.transactionCount; offset += 500) {
        const { status, body } = await get(m, `/transactions?size=500&offset=${offset}`);
        expect(status).toBe(200);
        expectValid('TransactionCollection', body);
        for (const t of (body as { transactions: Array<{ type: string }> }).transactions) types.add(t.type);
      }
    }
    expect(types.size).toBe(12);
    const byRef = await get(main, `/transactions?payment_reference=${main.payouts[0]!.payment_reference}`);
    expectValid('TransactionCollection', byRef.body);
  });

  it('ErrorResponse for 400, 401, 404 and 429', async () => {
    const bodies = [
      await get(main, '/payouts?size=501'),
      await get(main, '/payouts/summary'),
      await get(main, '/payouts', false),
      await get(main, '/payouts/NOPE1234'),
    ];
    expect(bodies.map((b) => b.status)).toEqual([400, 400, 401, 404]);
    sim.injectFault({ kind: '429' });
    sim.injectFault({ kind: '503' });
    bodies.push(await get(main, '/payouts'), await get(main, '/payouts'));
    for (const { body } of bodies) expectValid('ErrorResponse', body);
  });
});
