import { createHash } from 'node:crypto';

export interface FiscalYear {
  id: string;
  startDate: string; // yyyy-mm-dd
  endDate: string;
  isLockedForAccounting: boolean;
  /** 0 Invoicing (fakturametoden), 1 Cash (kontantmetoden), 2 NoBookkeeping. */
  bookkeepingMethod: 0 | 1 | 2;
}

export interface Account {
  number: number;
  name: string;
  vatCodeId: string | null;
  isActive: boolean;
  isBlockedForManualBooking: boolean;
  createdUtc: string;
  modifiedUtc: string;
}

export interface VatCode {
  id: string;
  code: string;
  description: string;
  rate: number;
  relatedAccounts: [number | null, number | null, number | null];
}

export interface BankAccount {
  id: string;
  name: string;
  ledgerAccountNumber: number;
  type: number;
  bban: string | null;
  iban: string | null;
  isDefaultChequeAccount: boolean;
  isActive: boolean;
}

export interface VoucherRow {
  AccountNumber: number;
  AccountDescription: string | null;
  DebitAmount: number;
  CreditAmount: number;
  TransactionText: string | null;
  CostCenterItemId1: string | null;
  CostCenterItemId2: string | null;
  CostCenterItemId3: string | null;
  VatCodeId: string | null;
  VatCodeAndPercent: string | null;
  VatAmount: number | null;
  Quantity: number | null;
  Weight: number | null;
  DeliveryDate: string | null;
  HarvestYear: number | null;
  ProjectId: string | null;
}

/** Voucher as the API returns it (`VoucherApi`). */
export interface VoucherApi {
  Id: string;
  VoucherDate: string;
  VoucherText: string;
  Rows: VoucherRow[];
  NumberAndNumberSeries: string;
  NumberSeries: string;
  ImportedVoucherNumber: string | null;
  Attachments: { DocumentId: string; DocumentType: number; AttachmentIds: string[] };
  ModifiedUtc: string;
  VoucherType: number;
  SourceId: string | null;
  CreatedUtc: string;
}

export interface StoredVoucher {
  companyId: string;
  fiscalYearId: string;
  voucherDate: string; // yyyy-mm-dd
  number: number;
  series: string;
  api: VoucherApi;
}

export interface StoredAttachment {
  id: string;
  contentType: string;
  fileName: string;
  comment: string | null;
  data: Buffer;
  uploadedUtc: string;
  documentId: string | null;
  documentType: number;
}

export interface Company {
  id: string;
  name: string;
  corporateIdentityNumber: string;
  /** 1 Standard, 2 Invoicing, 3 Bookkeeping, 4 Solo, 5 Pro, 6 InvoicingCollaboration. */
  productVariant: number;
  accountingLockedTo: string | null;
  accountingLockInterval: number;
  fiscalYears: FiscalYear[];
  accounts: Map<string, Map<number, Account>>;
  vatCodes: VatCode[];
  bankAccounts: BankAccount[];
  vouchers: StoredVoucher[];
  attachments: Map<string, StoredAttachment>;
  numberCounters: Map<string, number>;
}

/** Product variants that include bookkeeping; the others get 4009 on accounting endpoints. */
export const BOOKKEEPING_VARIANTS = new Set([1, 3, 4, 5]);

/** Stable ids for seeded data, so fixtures and logs stay the same between runs. */
export function stableUuid(...parts: string[]): string {
  const h = createHash('sha1').update(parts.join('|')).digest('hex');
  const variant = ((Number.parseInt(h.slice(16, 18), 16) & 0x3f) | 0x80).toString(16);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-${variant}${h.slice(18, 20)}-${h.slice(20, 32)}`;
}

export function fiscalYearFor(company: Company, isoDate: string): FiscalYear | undefined {
  return company.fiscalYears.find((fy) => fy.startDate <= isoDate && isoDate <= fy.endDate);
}
