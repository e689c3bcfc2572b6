// Wire types for the eAccounting API v2, named as the API names them (PascalCase).
// Only the fields this product reads or writes are declared; the API returns more.
// Domain types at the end carry money as integer öre; conversion happens in amount.ts.

/** The paged list envelope every list endpoint returns. */
export interface SpirisPage<T> {
  Meta: {
    CurrentPage: number;
    PageSize: number;
    TotalNumberOfPages: number;
    TotalNumberOfResults: number;
    ServerTimeUtc?: string;
  };
  Data: T[];
}

export interface SpirisCompanySettings {
  Name: string;
  CorporateIdentityNumber?: string | null;
  CurrencyCode?: string | null;
  CountryCode?: string | null;
  /** 1 Standard, 2 Invoicing, 3 Bookkeeping, 4 Solo, 5 Pro, 6 InvoicingCollaboration, 8 CloudPayroll. */
  ProductVariant?: number | null;
  AccountingLockedTo?: string | null;
  AccountingLockInterval?: number | null;
  UseAutomaticVatCalculation?: boolean | null;
  DomesticCurrencyRounding?: number | null;
  CompanyIdentifier?: string | null;
  CompanyStatus?: number | null;
  [key: string]: unknown;
}

export interface SpirisFiscalYear {
  Id: string;
  StartDate: string;
  EndDate: string;
  IsLockedForAccounting: boolean;
  /** 0 Invoicing (fakturametoden), 1 Cash (kontantmetoden), 2 NoBookkeeping. */
  BookkeepingMethod: number;
}

export interface SpirisAccount {
  Name: string;
  Number: string;
  FiscalYearId: string;
  IsActive: boolean;
  VatCodeId?: string | null;
  VatCodeDescription?: string | null;
  Type?: number | null;
  TypeDescription?: string | null;
  IsBlockedForManualBooking?: boolean | null;
  AllowTransactionText?: boolean | null;
  IsCostCenterAllowed?: boolean | null;
  IsProjectAllowed?: boolean | null;
}

export interface SpirisVatCode {
  Id: string;
  Code: string;
  Description: string;
  VatRate: number;
  RelatedAccounts?: {
    AccountNumber1?: number | null;
    AccountNumber2?: number | null;
    AccountNumber3?: number | null;
  } | null;
}

export interface SpirisBankAccount {
  Id: string;
  Name: string;
  LedgerAccountNumber: number;
  BankAccountType: number;
  IsActive?: boolean;
  CurrencyCode?: string | null;
  IsDefaultChequeAccount?: boolean;
  Bban?: string | null;
  Iban?: string | null;
}

export interface SpirisVoucherRow {
  AccountNumber: number;
  DebitAmount?: number;
  CreditAmount?: number;
  TransactionText?: string | null;
  VatCodeId?: string | null;
  CostCenterItemId1?: string | null;
  CostCenterItemId2?: string | null;
  CostCenterItemId3?: string | null;
  ProjectId?: string | null;
  AccountDescription?: string | null;
}

/** DocumentType values of AttachmentLinkApi. */
export const DOCUMENT_TYPE_VOUCHER = 3;

export interface SpirisAttachmentLink {
  DocumentId?: string;
  DocumentType: number;
  AttachmentIds: string[];
}

export interface SpirisVoucher {
  Id?: string;
  VoucherDate: string;
  VoucherText: string;
  Rows: SpirisVoucherRow[];
  NumberAndNumberSeries?: string | null;
  NumberSeries?: string | null;
  Attachments?: SpirisAttachmentLink | null;
  VoucherType?: number | null;
  SourceId?: string | null;
  CreatedUtc?: string | null;
  ModifiedUtc?: string | null;
}

export interface SpirisAttachment {
  Id: string;
  ContentType?: string;
  FileName?: string;
  DocumentId?: string | null;
  AttachedDocumentType?: number | null;
  /** 0 Matched, 1 Unmatched. */
  AttachmentStatus?: number | null;
  TemporaryUrl?: string | null;
  Comment?: string | null;
}

export type AttachmentContentType = 'application/pdf' | 'image/jpeg' | 'image/png' | 'image/tiff';

/** Query flags of POST /v2/vouchers; the API defaults are false / true / true. */
export interface CreateVoucherOptions {
  useAutomaticVatCalculation?: boolean;
  useDefaultVatCodes?: boolean;
  useDefaultVoucherSeries?: boolean;
}

// ---- domain side ---------------------------------------------------------------

/** One voucher row in integer öre; exactly one of debitMinor/creditMinor is non-zero. */
export interface VoucherRowDraft {
  accountNumber: number;
  debitMinor: number;
  creditMinor: number;
  text?: string;
  vatCodeId?: string;
  costCenterItemIds?: [string?, string?, string?];
  projectId?: string;
}

export interface VoucherDraft {
  /** yyyy-mm-dd, the bookkeeping date. */
  date: string;
  text: string;
  rows: VoucherRowDraft[];
  /** Only honoured with useDefaultVoucherSeries=false. */
  numberSeries?: string;
  /** Attachments already uploaded, linked in the same call. */
  attachmentIds?: string[];
}

/** A voucher read back, amounts in öre again. */
export interface BookedVoucher {
  id: string;
  date: string;
  text: string;
  number: string | null;
  rows: VoucherRowDraft[];
  attachmentIds: string[];
  raw: SpirisVoucher;
}
