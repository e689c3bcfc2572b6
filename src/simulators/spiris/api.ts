import {
  attachmentApi,
  createAttachmentLink,
  deleteAttachmentLink,
  uploadAttachment,
} from './attachments.ts';
import { ApiError, apiDate, ErrorCodes, isGuid } from './http-util.ts';
import { type Account, BOOKKEEPING_VARIANTS, type Company, type FiscalYear, stableUuid } from './model.ts';
import { type FieldTypes, paginate } from './odata.ts';
import { emptyReply, jsonReply, type Reply } from './reply.ts';
import { createVoucher, VOUCHER_FILTER_FIELDS } from './vouchers.ts';

// Scopes per operation, as listed in each operation's description in Visma's OpenAPI file.
const SALES_READ = ['ea:sales', 'ea:sales_readonly'];
const ACCOUNTING_READ = ['ea:accounting', 'ea:accounting_readonly'];
const PURCHASE_READ = ['ea:purchase', 'ea:purchase_readonly'];
const ACCOUNTING_OR_PURCHASE_WRITE = ['ea:accounting', 'ea:purchase'];

export interface ApiContext {
  company: Company;
  params: Record<string, string>;
  query: URLSearchParams;
  body: Record<string, unknown> | undefined;
  now: number;
  origin: string;
}

interface Route {
  method: 'GET' | 'POST' | 'DELETE';
  /** Path template, e.g. `/v2/vouchers/{fiscalyearId}`. */
  path: string;
  pattern: RegExp;
  names: string[];
  scopes: string[];
  /** Part of bookkeeping: refused with 4009 for product variants without it. */
  bookkeeping: boolean;
  handler: (ctx: ApiContext) => Reply;
}

const FISCAL_YEAR_FIELDS: FieldTypes = {
  Id: 'guid',
  StartDate: 'date',
  EndDate: 'date',
  IsLockedForAccounting: 'boolean',
  BookkeepingMethod: 'number',
};
const ACCOUNT_FIELDS: FieldTypes = {
  Name: 'string',
  Number: 'string',
  VatCodeId: 'guid',
  VatCodeDescription: 'string',
  FiscalYearId: 'guid',
  Type: 'number',
  TypeDescription: 'string',
  IsActive: 'boolean',
  IsBlockedForManualBooking: 'boolean',
  IsProjectAllowed: 'boolean',
  IsCostCenterAllowed: 'boolean',
  ModifiedUtc: 'date',
  CreatedUtc: 'date',
};
const VAT_CODE_FIELDS: FieldTypes = { Id: 'guid', Code: 'string', Description: 'string', VatRate: 'number' };
const BANK_ACCOUNT_FIELDS: FieldTypes = {
  Id: 'guid',
  Name: 'string',
  LedgerAccountNumber: 'number',
  BankAccountType: 'number',
  IsActive: 'boolean',
  IsDefaultChequeAccount: 'boolean',
  CurrencyCode: 'string',
  ModifiedUtc: 'date',
};
const ATTACHMENT_FIELDS: FieldTypes = {
  Id: 'guid',
  ContentType: 'string',
  DocumentId: 'guid',
  AttachedDocumentType: 'number',
  FileName: 'string',
  Comment: 'string',
  AttachmentStatus: 'number',
  ImageDate: 'date',
};
const CURRENCY_FIELDS: FieldTypes = { Code: 'string' };

function notFound(what: string): ApiError {
  return new ApiError(404, ErrorCodes.ResourceNotFound, `${what} not found.`);
}

function fiscalYearApi(fy: FiscalYear): Record<string, unknown> {
  return {
    Id: fy.id,
    StartDate: apiDate(fy.startDate),
    EndDate: apiDate(fy.endDate),
    IsLockedForAccounting: fy.isLockedForAccounting,
    BookkeepingMethod: fy.bookkeepingMethod,
  };
}

const ACCOUNT_CLASS: Record<string, string> = {
  '1': 'Tillgångar',
  '2': 'Eget kapital och skulder',
  '3': 'Rörelsens inkomster/intäkter',
  '4': 'Utgifter/kostnader för varor, material och vissa köpta tjänster',
  '5': 'Övriga externa rörelseutgifter/kostnader',
  '6': 'Övriga externa rörelseutgifter/kostnader',
  '7': 'Utgifter/kostnader för personal, avskrivningar m.m.',
  '8': 'Finansiella och andra inkomster/intäkter och utgifter/kostnader',
};

function accountApi(c: Company, fyId: string, a: Account): Record<string, unknown> {
  const vat = a.vatCodeId ? c.vatCodes.find((v) => v.id === a.vatCodeId) : undefined;
  const resultAccount = a.number >= 3000;
  return {
    Name: a.name,
    Number: String(a.number),
    VatCodeId: a.vatCodeId,
    VatCodeDescription: vat ? vat.description : null,
    FiscalYearId: fyId,
    ReferenceCode: null,
    Type: 0,
    TypeDescription: ACCOUNT_CLASS[String(a.number)[0]!] ?? null,
    ModifiedUtc: a.modifiedUtc,
    CreatedUtc: a.createdUtc,
    IsActive: a.isActive,
    AllowTransactionText: true,
    IsFirstCostCenterMandatory: false,
    IsProjectAllowed: resultAccount,
    IsCostCenterAllowed: resultAccount,
    IsBlockedForManualBooking: a.isBlockedForManualBooking,
    Description: null,
  };
}

function companySettingsApi(c: Company): Record<string, unknown> {
  const digits = c.corporateIdentityNumber.replace(/\D/g, '');
  const settings: Record<string, unknown> = {
    Name: c.name,
    Email: 'ekonomi@testbolaget.example',
    Phone: null,
    MobilePhone: null,
    Address1: 'Storgatan 1',
    Address2: null,
    CountryCode: 'SE',
    PostalCode: '111 22',
    City: 'Stockholm',
    Website: null,
    OurReference: null,
    CurrencyCode: 'SEK',
    TermsOfPaymentId: stableUuid(c.id, 'termsofpayment', '30'),
    CorporateIdentityNumber: c.corporateIdentityNumber,
    PeppolId: null,
    VatCode: `SE${digits}01`,
    BankGiro: '123-4567',
    PlusGiro: null,
    BankAccount: null,
    Iban: null,
    AccountNumberDigits: 4,
    AccountingLockInterval: c.accountingLockInterval,
    Gln: null,
    ProductVariant: c.productVariant,
    TypeOfBusiness: 1,
    VatPeriod: 3,
    ActivatedModules: [],
    NextCustomerNumber: 1,
    NextSupplierNumber: 1,
    NextCustomerInvoiceNumber: 1,
    NextQuoteNumber: 1,
    NextOrderNumber: 1,
    NextArticleNumber: null,
    ShowPricesExclVatPC: false,
    ShowContributionMargin: false,
    HasProportionalVatEnabled: false,
    ProportionalVatValue: null,
    IsPayslipActivated: false,
    UsesCostCenter: false,
    UsesProject: false,
    UsesMoss: false,
    UsesPaymentReferenceNumber: true,
    UsesSupplierInvoiceEdit: false,
    UseAdvancedMode: false,
    DomesticCurrencyRounding: 1,
    UsesReverseConstructionVat: false,
    UsesRotReducedInvoicing: false,
    CompanyStatus: 1,
    CompanyIdentifier: c.id,
    BankgiroNumberPrint: null,
    KeepOriginalDraftDate: false,
    UsePaymentFilesForOutgoingPayments: false,
    UseAutomaticVatCalculation: false,
    ShowCostCenterReminder: false,
    ShowProjectReminder: false,
    UsesGreenTechnology: false,
    UsesVatTriangulationRules: false,
    Swish: null,
    CompanyEmailForUpload: null,
    VismaWebshopStatus: 0,
    UsesTransactionText: true,
    FirstPaymentReminderWithoutFee: null,
    LatePaymentFee: null,
    DefaultBackgroundId: null,
    InvoicePrintSettingsType: 0,
  };
  if (c.accountingLockedTo) settings.AccountingLockedTo = apiDate(c.accountingLockedTo);
  return settings;
}

function vatCodeApi(c: Company['vatCodes'][number]): Record<string, unknown> {
  return {
    Id: c.id,
    Code: c.code,
    Description: c.description,
    VatRate: c.rate,
    OssCodeType: 0,
    RelatedAccounts: {
      AccountNumber1: c.relatedAccounts[0],
      AccountNumber2: c.relatedAccounts[1],
      AccountNumber3: c.relatedAccounts[2],
    },
  };
}

function bankAccountApi(b: Company['bankAccounts'][number], now: number): Record<string, unknown> {
  return {
    BankAccountType: b.type,
    BankAccountTypeDescription: b.type === 1 ? 'Checkkonto' : null,
    Bban: b.bban,
    Iban: b.iban,
    Name: b.name,
    NameEnglish: null,
    Id: b.id,
    IsActive: b.isActive,
    LedgerAccountNumber: b.ledgerAccountNumber,
    HasActiveBankAgreement: false,
    IsDefaultChequeAccount: b.isDefaultChequeAccount,
    CurrencyCode: 'SEK',
    ModifiedUtc: '2024-01-02T08:00:00.000Z',
    Balance: { Balance: 0, Date: apiDate(new Date(now).toISOString().slice(0, 10)) },
    BankAccountHolderName: null,
  };
}

function fiscalYearById(c: Company, id: string): FiscalYear {
  const fy = isGuid(id) ? c.fiscalYears.find((f) => f.id === id.toLowerCase()) : undefined;
  if (!fy) throw new ApiError(400, ErrorCodes.FiscalYearDoesNotExist, `Fiscal year ${id} does not exist.`);
  return fy;
}

function boolParam(q: URLSearchParams, name: string, fallback: boolean): boolean {
  const v = q.get(name);
  if (v === null || v === '') return fallback;
  if (/^true$/i.test(v)) return true;
  if (/^false$/i.test(v)) return false;
  throw new ApiError(400, ErrorCodes.InvalidInput, `The value '${v}' is not valid for ${name}.`);
}

function requireBody(ctx: ApiContext): Record<string, unknown> {
  if (!ctx.body)
    throw new ApiError(400, ErrorCodes.DataModelValidationError, 'The request body is required.');
  return ctx.body;
}

function voucherList(c: Company, fyId?: string) {
  return c.vouchers
    .filter((v) => !fyId || v.fiscalYearId === fyId)
    .sort((a, b) => (a.voucherDate === b.voucherDate ? 0 : a.voucherDate < b.voucherDate ? -1 : 1))
    .map((v) => v.api);
}

function route(
  method: Route['method'],
  path: string,
  scopes: string[],
  handler: Route['handler'],
  bookkeeping = false,
): Route {
  const names: string[] = [];
  const source = path.replace(/\{(\w+)\}/g, (_m, name: string) => {
    names.push(name);
    return '([^/]+)';
  });
  return { method, path, pattern: new RegExp(`^${source}/?$`, 'i'), names, scopes, handler, bookkeeping };
}

const ROUTES: Route[] = [
  route('GET', '/v2/companysettings', SALES_READ, (ctx) => jsonReply(200, companySettingsApi(ctx.company))),
  route('GET', '/v2/fiscalyears', [...SALES_READ, ...ACCOUNTING_READ], (ctx) =>
    jsonReply(
      200,
      paginate(ctx.company.fiscalYears.map(fiscalYearApi), ctx.query, FISCAL_YEAR_FIELDS, ctx.now),
    ),
  ),
  route('GET', '/v2/fiscalyears/{id}', [...SALES_READ, ...ACCOUNTING_READ], (ctx) => {
    const fy = ctx.company.fiscalYears.find((f) => f.id === ctx.params.id!.toLowerCase());
    if (!fy) throw notFound('Fiscal year');
    return jsonReply(200, fiscalYearApi(fy));
  }),
  route(
    'GET',
    '/v2/accounts',
    ACCOUNTING_READ,
    (ctx) => {
      const all = ctx.company.fiscalYears.flatMap((fy) =>
        [...ctx.company.accounts.get(fy.id)!.values()].map((a) => accountApi(ctx.company, fy.id, a)),
      );
      return jsonReply(200, paginate(all, ctx.query, ACCOUNT_FIELDS, ctx.now));
    },
    true,
  ),
  route(
    'GET',
    '/v2/accounts/{fiscalyearId}',
    ACCOUNTING_READ,
    (ctx) => {
      const fy = fiscalYearById(ctx.company, ctx.params.fiscalyearId!);
      const list = [...ctx.company.accounts.get(fy.id)!.values()].map((a) =>
        accountApi(ctx.company, fy.id, a),
      );
      return jsonReply(200, paginate(list, ctx.query, ACCOUNT_FIELDS, ctx.now));
    },
    true,
  ),
  route(
    'GET',
    '/v2/accounts/{fiscalyearId}/{accountNumber}',
    ACCOUNTING_READ,
    (ctx) => {
      const fy = fiscalYearById(ctx.company, ctx.params.fiscalyearId!);
      const account = ctx.company.accounts.get(fy.id)!.get(Number(ctx.params.accountNumber));
      if (!account) throw notFound('Account');
      return jsonReply(200, accountApi(ctx.company, fy.id, account));
    },
    true,
  ),
  route('GET', '/v2/vatcodes', ACCOUNTING_READ, (ctx) =>
    jsonReply(200, paginate(ctx.company.vatCodes.map(vatCodeApi), ctx.query, VAT_CODE_FIELDS, ctx.now)),
  ),
  route('GET', '/v2/vatcodes/{id}', ACCOUNTING_READ, (ctx) => {
    const v = ctx.company.vatCodes.find((x) => x.id === ctx.params.id!.toLowerCase());
    if (!v) throw notFound('VAT code');
    return jsonReply(200, vatCodeApi(v));
  }),
  route('GET', '/v2/bankaccounts', PURCHASE_READ, (ctx) =>
    jsonReply(
      200,
      paginate(
        ctx.company.bankAccounts.map((b) => bankAccountApi(b, ctx.now)),
        ctx.query,
        BANK_ACCOUNT_FIELDS,
        ctx.now,
      ),
    ),
  ),
  route('GET', '/v2/bankaccounts/{id}', PURCHASE_READ, (ctx) => {
    const b = ctx.company.bankAccounts.find((x) => x.id === ctx.params.id!.toLowerCase());
    if (!b) throw notFound('Bank account');
    return jsonReply(200, bankAccountApi(b, ctx.now));
  }),
  route('GET', '/v2/currencies', [...SALES_READ, ...PURCHASE_READ], (ctx) =>
    jsonReply(
      200,
      paginate(
        ['SEK', 'EUR', 'NOK', 'DKK', 'USD', 'GBP'].map((Code) => ({ Code })),
        ctx.query,
        CURRENCY_FIELDS,
        ctx.now,
      ),
    ),
  ),
  route(
    'GET',
    '/v2/vouchers',
    ACCOUNTING_READ,
    (ctx) => jsonReply(200, paginate(voucherList(ctx.company), ctx.query, VOUCHER_FILTER_FIELDS, ctx.now)),
    true,
  ),
  route(
    'GET',
    '/v2/vouchers/{fiscalyearId}',
    ACCOUNTING_READ,
    (ctx) => {
      const fy = fiscalYearById(ctx.company, ctx.params.fiscalyearId!);
      return jsonReply(
        200,
        paginate(voucherList(ctx.company, fy.id), ctx.query, VOUCHER_FILTER_FIELDS, ctx.now),
      );
    },
    true,
  ),
  route(
    'GET',
    '/v2/vouchers/{fiscalyearId}/{voucherId}',
    ACCOUNTING_READ,
    (ctx) => {
      const fy = fiscalYearById(ctx.company, ctx.params.fiscalyearId!);
      const id = ctx.params.voucherId!.toLowerCase();
      const v = ctx.company.vouchers.find((x) => x.fiscalYearId === fy.id && x.api.Id === id);
      if (!v) throw notFound('Voucher');
      return jsonReply(200, v.api);
    },
    true,
  ),
  route(
    'POST',
    '/v2/vouchers',
    ['ea:accounting'],
    (ctx) => {
      const v = createVoucher(
        ctx.company,
        requireBody(ctx),
        {
          useAutomaticVatCalculation: boolParam(ctx.query, 'useAutomaticVatCalculation', false),
          useDefaultVatCodes: boolParam(ctx.query, 'useDefaultVatCodes', true),
          useDefaultVoucherSeries: boolParam(ctx.query, 'useDefaultVoucherSeries', true),
        },
        ctx.now,
      );
      return jsonReply(201, v.api);
    },
    true,
  ),
  route('GET', '/v2/attachments', [...PURCHASE_READ, ...ACCOUNTING_READ], (ctx) => {
    const includeMatched = boolParam(ctx.query, 'includeMatched', true);
    const includeUrl = boolParam(ctx.query, 'includeTemporaryUrl', true);
    const list = [...ctx.company.attachments.values()]
      .filter((a) => includeMatched || !a.documentId)
      .map((a) => attachmentApi(a, includeUrl ? temporaryUrl(ctx, a.id) : null));
    return jsonReply(200, paginate(list, ctx.query, ATTACHMENT_FIELDS, ctx.now));
  }),
  route('GET', '/v2/attachments/{attachmentId}', [...PURCHASE_READ, ...ACCOUNTING_READ], (ctx) => {
    const a = ctx.company.attachments.get(ctx.params.attachmentId!.toLowerCase());
    if (!a) throw notFound('Attachment');
    return jsonReply(200, attachmentApi(a, temporaryUrl(ctx, a.id)));
  }),
  route('POST', '/v2/attachments', ACCOUNTING_OR_PURCHASE_WRITE, (ctx) => {
    const a = uploadAttachment(ctx.company, requireBody(ctx), ctx.now);
    return jsonReply(201, attachmentApi(a, temporaryUrl(ctx, a.id)));
  }),
  route('POST', '/v2/attachmentlinks', ACCOUNTING_OR_PURCHASE_WRITE, (ctx) =>
    jsonReply(200, createAttachmentLink(ctx.company, requireBody(ctx), ctx.now)),
  ),
  route('DELETE', '/v2/attachmentlinks/{attachmentId}', ACCOUNTING_OR_PURCHASE_WRITE, (ctx) => {
    deleteAttachmentLink(ctx.company, ctx.params.attachmentId!, ctx.now);
    return emptyReply(200);
  }),
];

function temporaryUrl(ctx: ApiContext, id: string): string {
  return `${ctx.origin}/sim/attachments/${ctx.company.id}/${id}`;
}

export type RouteMatch =
  | { kind: 'route'; route: Route; params: Record<string, string> }
  | { kind: 'method-not-allowed' }
  | { kind: 'not-found' };

export function matchRoute(method: string, pathname: string): RouteMatch {
  let pathMatched = false;
  for (const r of ROUTES) {
    const m = r.pattern.exec(pathname);
    if (!m) continue;
    pathMatched = true;
    if (r.method !== method) continue;
    const params: Record<string, string> = {};
    r.names.forEach((n, i) => {
      const raw = m[i + 1]!;
      try {
        params[n] = decodeURIComponent(raw);
      } catch {
        params[n] = raw;
      }
    });
    return { kind: 'route', route: r, params };
  }
  return pathMatched ? { kind: 'method-not-allowed' } : { kind: 'not-found' };
}

/** 403 4006 when the token lacks `ea:api` or every scope the operation accepts. */
export function checkScopes(route: Route, scopes: readonly string[]): void {
  if (!scopes.includes('ea:api')) {
    throw new ApiError(
      403,
      ErrorCodes.NoAccessToScopes,
      'The access token is missing the required scope ea:api.',
    );
  }
  if (!route.scopes.some((s) => scopes.includes(s))) {
    throw new ApiError(
      403,
      ErrorCodes.NoAccessToScopes,
      `The access token does not have any of the scopes required for this endpoint: ${route.scopes.join(', ')}.`,
    );
  }
}

export function checkProductVariant(route: Route, company: Company): void {
  if (route.bookkeeping && !BOOKKEEPING_VARIANTS.has(company.productVariant)) {
    throw new ApiError(
      403,
      ErrorCodes.NoAccessDueToProductVariant,
      "This endpoint is not included in the company's product variant.",
    );
  }
}

export type { Route };
