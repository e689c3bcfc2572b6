import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type SpirisSimulator, startSpirisSimulator } from './index.ts';
import { api, PDF_BASE64, payoutVoucher, TODAY } from './test-helpers.ts';

// Visma's published OpenAPI file, kept in the repository's spec/ folder.
const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const specPath = fileURLToPath(new URL('spec/spiris-eaccounting-api-v2.openapi.json', `file://${repoRoot}`));

interface Operation {
  responses: Record<string, { content?: Record<string, { schema: unknown }> }>;
  requestBody?: { content: Record<string, { schema: unknown }> };
}
interface Spec {
  paths: Record<string, Record<string, Operation>>;
  components: { schemas: Record<string, unknown> };
}

let spec: Spec;
let ajv: Ajv;
let sim: SpirisSimulator;
let token: string;

function loadSpec(): Spec {
  if (!existsSync(specPath)) {
    throw new Error(`Visma eAccounting OpenAPI file not found at ${specPath} (spec/ in the repository).`);
  }
  return JSON.parse(readFileSync(specPath, 'utf8')) as Spec;
}

function schemaFor(ref: unknown): ValidateFunction {
  return ajv.compile({ $ref: `spec${(ref as { $ref: string }).$ref}` });
}

/** The documented JSON schema of one operation's response, looked up by path template and status. */
function responseValidator(method: string, template: string, status: number): ValidateFunction {
  const op = spec.paths[template]?.[method];
  if (!op) throw new Error(`${method.toUpperCase()} ${template} is not in the spec`);
  const schema = op.responses[String(status)]?.content?.['application/json']?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${template} documents no JSON body for ${status}`);
  return schemaFor(schema);
}

function requestValidator(method: string, template: string): ValidateFunction {
  const schema = spec.paths[template]?.[method]?.requestBody?.content['application/json']?.schema;
  if (!schema) throw new Error(`${method.toUpperCase()} ${template} documents no JSON request body`);
  return schemaFor(schema);
}

function expectValid(validate: ValidateFunction, data: unknown, label: string): void {
  const ok = validate(data);
  expect(ok ? [] : validate.errors, label).toEqual([]);
}

async function check(method: string, template: string, path: string, status: number, body?: unknown) {
  const res = await api(sim, token, method.toUpperCase(), path, body);
  expect(res.status, `${method} ${path}: ${JSON.stringify(res.json)}`).toBe(status);
  expectValid(responseValidator(method, template, status), res.json, `${method.toUpperCase()} ${path}`);
  return res.json;
}

beforeAll(async () => {
  spec = loadSpec();
  ajv = new Ajv({ strict: false, allErrors: true, validateSchema: false });
  const addFormats = addFormatsModule as unknown as (a: Ajv) => void;
  addFormats(ajv);
  // The API's date-time fields carry dates: it writes `2026-03-12T00:00:00` (no offset) and its
  // field descriptions ask for `yyyy-mm-dd` on input.
  ajv.addFormat('date-time', /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?)?$/);
  ajv.addSchema({ components: spec.components }, 'spec');
  sim = await startSpirisSimulator({ today: TODAY });
  token = sim.issueTokens().accessToken;
});
afterAll(async () => {
  await sim?.close();
});

describe('responses match the published OpenAPI schemas', () => {
  it('company settings, fiscal years, accounts, VAT codes, bank accounts, currencies', async () => {
    await check('get', '/companysettings', '/companysettings', 200);
    const years = await check('get', '/fiscalyears', '/fiscalyears', 200);
    const fyId = years.Data[1].Id as string;
    await check('get', '/fiscalyears/{id}', `/fiscalyears/${fyId}`, 200);
    await check('get', '/accounts', '/accounts?$pagesize=1000', 200);
    await check('get', '/accounts/{fiscalyearId}', `/accounts/${fyId}`, 200);
    await check('get', '/accounts/{fiscalyearId}/{accountNumber}', `/accounts/${fyId}/6064`, 200);
    const vat = await check('get', '/vatcodes', '/vatcodes', 200);
    await check('get', '/vatcodes/{id}', `/vatcodes/${vat.Data[1].Id}`, 200);
    const banks = await check('get', '/bankaccounts', '/bankaccounts', 200);
    await check('get', '/bankaccounts/{bankAccountId}', `/bankaccounts/${banks.Data[0].Id}`, 200);
    await check('get', '/currencies', '/currencies', 200);
  });

  it('voucher create, read and list, attachments and links', async () => {
    const request = payoutVoucher('2026-03-04');
    expectValid(requestValidator('post', '/vouchers'), request, 'voucher request body');

    const upload = {
      ContentType: 'application/pdf',
      FileName: 'klarna-settlement-98765.pdf',
      Data: PDF_BASE64,
    };
    expectValid(requestValidator('post', '/attachments'), upload, 'attachment request body');
    const attachment = await check('post', '/attachments', '/attachments', 201, upload);

    const created = await check('post', '/vouchers', '/vouchers', 201, {
      ...request,
      Attachments: { DocumentType: 3, AttachmentIds: [attachment.Id] },
    });
    // Controls: the validator must catch extra fields and honour OpenAPI's `nullable`.
    const voucherSchema = responseValidator('post', '/vouchers', 201);
    expect(voucherSchema({ ...created, Number: 1 })).toBe(false);
    expect(voucherSchema({ ...created, VoucherText: null })).toBe(false);
    expect(voucherSchema({ ...created, NumberSeries: null })).toBe(true);

    const fyId = sim.vouchers[0]!.fiscalYearId;
    await check('get', '/vouchers/{fiscalyearId}/{voucherId}', `/vouchers/${fyId}/${created.Id}`, 200);
    await check('get', '/vouchers', '/vouchers', 200);
    await check(
      'get',
      '/vouchers/{fiscalyearId}',
      `/vouchers/${fyId}?$filter=VoucherDate%20eq%202026-03-04`,
      200,
    );

    const second = await check('post', '/attachments', '/attachments', 201, {
      ...upload,
      FileName: 'bilaga2',
    });
    const link = { DocumentId: created.Id, DocumentType: 3, AttachmentIds: [second.Id] };
    expectValid(requestValidator('post', '/attachmentlinks'), link, 'attachment link request body');
    await check('post', '/attachmentlinks', '/attachmentlinks', 200, link);
    await check('get', '/attachments', '/attachments', 200);
    await check('get', '/attachments/{attachmentId}', `/attachments/${second.Id}`, 200);
  });

  it('error bodies use the CommonExtendedBadRequest envelope', async () => {
    const envelope = schemaFor({ $ref: '#/components/schemas/CommonExtendedBadRequest' });
    await check('post', '/vouchers', '/vouchers', 400, payoutVoucher('2025-06-01'));
    await check('post', '/vouchers', '/vouchers', 400, { ...payoutVoucher('2026-03-04'), VoucherText: null });
    await check('get', '/vouchers', '/vouchers?$filter=Bogus%20eq%201', 400);
    const unauthorized = await api(sim, 'expired', 'GET', '/vouchers');
    expectValid(envelope, unauthorized.json, '401 body');
    const forbidden = await api(
      sim,
      sim.issueTokens({ scopes: ['ea:api', 'offline_access'] }).accessToken,
      'GET',
      '/vouchers',
    );
    expectValid(envelope, forbidden.json, '403 body');
    sim.injectFault({ kind: '429' });
    expectValid(envelope, (await api(sim, token, 'GET', '/vouchers')).json, '429 body');
  });
});
