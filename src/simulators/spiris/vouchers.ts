import { randomUUID } from 'node:crypto';
import { checkLinkable, linkToVoucher, parseAttachmentIds } from './attachments.ts';
import {
  ApiError,
  apiDate,
  ErrorCodes,
  type FieldError,
  fieldError,
  isGuid,
  utcMillis,
  validationError,
} from './http-util.ts';
import { type Company, fiscalYearFor, type StoredVoucher, type VatCode, type VoucherRow } from './model.ts';
import type { FieldTypes } from './odata.ts';

export const VOUCHER_FILTER_FIELDS: FieldTypes = {
  Id: 'guid',
  VoucherDate: 'date',
  VoucherText: 'string',
  NumberAndNumberSeries: 'string',
  NumberSeries: 'string',
  ImportedVoucherNumber: 'string',
  VoucherType: 'number',
  SourceId: 'guid',
  CreatedUtc: 'date',
  ModifiedUtc: 'date',
};

export const MAX_VOUCHER_TEXT = 1000;
export const MAX_TRANSACTION_TEXT = 60;
const MAX_AMOUNT = 10_000_000_000;
const DEFAULT_SERIES = 'A';
const MANUAL_VOUCHER = 2;

export interface VoucherQuery {
  useAutomaticVatCalculation: boolean;
  useDefaultVatCodes: boolean;
  useDefaultVoucherSeries: boolean;
}

/** Decimal places of the value as the JSON number was written (0.1 + 0.2 shows as 17 places). */
export function decimalPlaces(n: number): number {
  const s = String(n);
  const exp = /e([+-]\d+)$/i.exec(s);
  const mantissa = exp ? s.slice(0, exp.index) : s;
  const frac = (mantissa.split('.')[1] ?? '').length;
  return Math.max(0, frac - (exp ? Number(exp[1]) : 0));
}

const DATE_INPUT = /^(\d{4})-(\d{2})-(\d{2})(?:T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:?\d{2})?)?$/;

/** Returns yyyy-mm-dd, or undefined when the text is not a valid date. */
export function parseDateInput(value: string): string | undefined {
  const m = DATE_INPUT.exec(value);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const probe = new Date(Date.UTC(y, mo - 1, d));
  if (probe.getUTCFullYear() !== y || probe.getUTCMonth() !== mo - 1 || probe.getUTCDate() !== d)
    return undefined;
  return value.slice(0, 10);
}

interface RowInput {
  account: number;
  debit: number;
  credit: number;
  text: string | null;
  vatCodeId: string | null;
}

function validateAmount(errors: FieldError[], field: string, value: unknown): number {
  if (value === undefined) return 0;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    errors.push(fieldError(field, `The field ${field.split('.').pop()} must be a number.`));
    return 0;
  }
  if (value < 0 || value > MAX_AMOUNT) {
    errors.push(
      fieldError(field, `The field ${field.split('.').pop()} must be between 0 and ${MAX_AMOUNT}.`),
    );
  } else if (decimalPlaces(value) > 2) {
    errors.push(
      fieldError(field, `The field ${field.split('.').pop()} can have a maximum of 2 decimal places.`),
    );
  }
  return value;
}

function toCents(n: number): number {
  return Math.round(n * 100);
}

function validateShape(body: Record<string, unknown>, q: VoucherQuery): { date: string; rows: RowInput[] } {
  const errors: FieldError[] = [];
  let date = '';
  if (body.VoucherDate === undefined || body.VoucherDate === null || body.VoucherDate === '') {
    errors.push(fieldError('VoucherDate', 'The VoucherDate field is required.'));
  } else if (typeof body.VoucherDate !== 'string' || parseDateInput(body.VoucherDate) === undefined) {
    throw new ApiError(
      400,
      ErrorCodes.InvalidInput,
      `VoucherDate '${String(body.VoucherDate)}' is not a valid date. Format: yyyy-mm-dd.`,
    );
  } else {
    date = parseDateInput(body.VoucherDate)!;
  }

  if (body.VoucherText === undefined || body.VoucherText === null) {
    errors.push(fieldError('VoucherText', 'The VoucherText field is required.'));
  } else if (typeof body.VoucherText !== 'string') {
    errors.push(fieldError('VoucherText', 'The field VoucherText must be a string.'));
  } else if (body.VoucherText.length > MAX_VOUCHER_TEXT) {
    errors.push(
      fieldError(
        'VoucherText',
        `The field VoucherText must be a string with a maximum length of ${MAX_VOUCHER_TEXT}.`,
      ),
    );
  }

  if (!q.useDefaultVoucherSeries) {
    const s = body.NumberSeries;
    if (typeof s !== 'string' || !/^[A-Za-z]$/.test(s)) {
      errors.push(
        fieldError(
          'NumberSeries',
          'NumberSeries must be a single letter when useDefaultVoucherSeries is false.',
        ),
      );
    }
  }

  const rows: RowInput[] = [];
  if (!Array.isArray(body.Rows) || body.Rows.length === 0) {
    errors.push(fieldError('Rows', 'The voucher must have at least one row.'));
  } else {
    body.Rows.forEach((raw: unknown, i: number) => {
      const f = (name: string) => `Rows[${i}].${name}`;
      if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
        errors.push(fieldError(`Rows[${i}]`, 'Each row must be an object.'));
        return;
      }
      const r = raw as Record<string, unknown>;
      const acc = r.AccountNumber;
      if (acc === undefined || acc === null) {
        errors.push(fieldError(f('AccountNumber'), 'The AccountNumber field is required.'));
      } else if (typeof acc !== 'number' || !Number.isInteger(acc) || acc < 1 || acc > 9_999_999_999) {
        errors.push(
          fieldError(f('AccountNumber'), 'AccountNumber must be an integer between 1 and 9999999999.'),
        );
      }
      const debit = validateAmount(errors, f('DebitAmount'), r.DebitAmount);
      const credit = validateAmount(errors, f('CreditAmount'), r.CreditAmount);
      if (debit !== 0 && credit !== 0) {
        errors.push(fieldError(`Rows[${i}]`, 'A row cannot have both a debit and a credit amount.'));
      } else if (toCents(debit) === 0 && toCents(credit) === 0) {
        errors.push(fieldError(`Rows[${i}]`, 'A row must have either a debit or a credit amount.'));
      }
      let text: string | null = null;
      if (r.TransactionText !== undefined && r.TransactionText !== null) {
        if (typeof r.TransactionText !== 'string') {
          errors.push(fieldError(f('TransactionText'), 'The field TransactionText must be a string.'));
        } else if (r.TransactionText.length > MAX_TRANSACTION_TEXT) {
          errors.push(
            fieldError(
              f('TransactionText'),
              `The field TransactionText must be a string with a maximum length of ${MAX_TRANSACTION_TEXT}.`,
            ),
          );
        } else {
          text = r.TransactionText;
        }
      }
      let vatCodeId: string | null = null;
      if (r.VatCodeId !== undefined && r.VatCodeId !== null) {
        if (!isGuid(r.VatCodeId)) errors.push(fieldError(f('VatCodeId'), 'VatCodeId must be a valid GUID.'));
        else vatCodeId = r.VatCodeId.toLowerCase();
      }
      rows.push({ account: acc as number, debit, credit, text, vatCodeId });
    });
  }
  if (errors.length > 0) throw validationError(errors);

  const debitCents = rows.reduce((s, r) => s + toCents(r.debit), 0);
  const creditCents = rows.reduce((s, r) => s + toCents(r.credit), 0);
  if (debitCents !== creditCents) {
    throw validationError([
      fieldError(
        'Rows',
        `The voucher is not balanced. Debit ${(debitCents / 100).toFixed(2)} does not equal credit ${(creditCents / 100).toFixed(2)}.`,
        'VoucherNotBalanced',
      ),
    ]);
  }
  return { date, rows };
}

function vatLabel(v: VatCode | undefined): string | null {
  return v ? `${v.code} ${Math.round(v.rate * 10000) / 100}%` : null;
}

/** POST /v2/vouchers: validates like the service and stores the voucher. */
export function createVoucher(
  company: Company,
  body: Record<string, unknown>,
  q: VoucherQuery,
  nowMs: number,
): StoredVoucher {
  const { date, rows } = validateShape(body, q);

  const fy = fiscalYearFor(company, date);
  if (!fy) {
    throw new ApiError(
      400,
      ErrorCodes.FiscalYearDoesNotExist,
      `There is no fiscal year for the date ${date}.`,
    );
  }
  if (fy.isLockedForAccounting) {
    throw new ApiError(
      400,
      ErrorCodes.VoucherDateIsInLockedYearException,
      `The voucher date ${date} is in a fiscal year that is locked for accounting.`,
    );
  }
  if (company.accountingLockedTo && date <= company.accountingLockedTo) {
    throw new ApiError(
      400,
      ErrorCodes.VoucherDateIsInLockedPeriod,
      `The voucher date ${date} is in a locked period. Bookkeeping is locked until ${company.accountingLockedTo}.`,
    );
  }

  const chart = company.accounts.get(fy.id)!;
  for (const r of rows) {
    const account = chart.get(r.account);
    if (!account) {
      throw new ApiError(
        400,
        ErrorCodes.AccountNotFound,
        `Account ${r.account} does not exist in the fiscal year ${fy.startDate} - ${fy.endDate}.`,
      );
    }
    if (!account.isActive) {
      throw new ApiError(400, ErrorCodes.CanNotBeCreatedOrUpdated, `Account ${r.account} is inactive.`);
    }
    if (account.isBlockedForManualBooking) {
      throw new ApiError(
        400,
        ErrorCodes.CanNotBeCreatedOrUpdated,
        `Account ${r.account} is blocked for manual bookkeeping.`,
      );
    }
    if (r.vatCodeId && !company.vatCodes.some((v) => v.id === r.vatCodeId)) {
      throw new ApiError(400, ErrorCodes.ResourceNotFound, `VAT code ${r.vatCodeId} was not found.`);
    }
  }

  let attachments: ReturnType<typeof checkLinkable> = [];
  const att = body.Attachments;
  if (att !== undefined && att !== null) {
    if (typeof att !== 'object' || Array.isArray(att)) {
      throw validationError([fieldError('Attachments', 'Attachments must be an object.')]);
    }
    const a = att as Record<string, unknown>;
    const ids =
      a.AttachmentIds === undefined || a.AttachmentIds === null
        ? []
        : parseAttachmentIds(a.AttachmentIds, 'Attachments.AttachmentIds');
    attachments = checkLinkable(company, null, ids);
  }

  const vatById = new Map(company.vatCodes.map((v) => [v.id, v]));
  const outRows: VoucherRow[] = [];
  for (const r of rows) {
    const account = chart.get(r.account)!;
    const vatCodeId = r.vatCodeId ?? (q.useDefaultVatCodes ? account.vatCodeId : null);
    const vat = vatCodeId ? vatById.get(vatCodeId) : undefined;
    let debit = r.debit;
    let credit = r.credit;
    let vatRow: VoucherRow | undefined;
    if (q.useAutomaticVatCalculation && vat && vat.rate > 0 && vat.relatedAccounts[0]) {
      // The row carries the gross amount; split off the VAT onto the code's VAT account.
      const gross = toCents(debit || credit);
      const net = Math.round(gross / (1 + vat.rate));
      const vatCents = gross - net;
      if (debit) debit = net / 100;
      else credit = net / 100;
      const vatAccount = chart.get(vat.relatedAccounts[0]);
      vatRow = blankRow(vat.relatedAccounts[0], vatAccount?.name ?? null, r.text);
      vatRow.DebitAmount = debit ? vatCents / 100 : 0;
      vatRow.CreditAmount = credit ? vatCents / 100 : 0;
    }
    const row = blankRow(r.account, account.name, r.text);
    row.DebitAmount = debit;
    row.CreditAmount = credit;
    row.VatCodeId = vat ? vat.id : null;
    row.VatCodeAndPercent = vatLabel(vat);
    outRows.push(row);
    if (vatRow) outRows.push(vatRow);
  }

  const series = q.useDefaultVoucherSeries ? DEFAULT_SERIES : (body.NumberSeries as string).toUpperCase();
  const counterKey = `${fy.id}:${series}`;
  const number = (company.numberCounters.get(counterKey) ?? 0) + 1;
  company.numberCounters.set(counterKey, number);
  const id = randomUUID();
  const stamp = utcMillis(nowMs);
  const voucher: StoredVoucher = {
    companyId: company.id,
    fiscalYearId: fy.id,
    voucherDate: date,
    number,
    series,
    api: {
      Id: id,
      VoucherDate: apiDate(date),
      VoucherText: body.VoucherText as string,
      Rows: outRows,
      NumberAndNumberSeries: `${series}${number}`,
      NumberSeries: series,
      ImportedVoucherNumber: null,
      Attachments: { DocumentId: id, DocumentType: 3, AttachmentIds: [] },
      ModifiedUtc: stamp,
      VoucherType: MANUAL_VOUCHER,
      SourceId: null,
      CreatedUtc: stamp,
    },
  };
  company.vouchers.push(voucher);
  linkToVoucher(voucher, attachments, nowMs);
  return voucher;
}

function blankRow(account: number, description: string | null, text: string | null): VoucherRow {
  return {
    AccountNumber: account,
    AccountDescription: description,
    DebitAmount: 0,
    CreditAmount: 0,
    TransactionText: text,
    CostCenterItemId1: null,
    CostCenterItemId2: null,
    CostCenterItemId3: null,
    VatCodeId: null,
    VatCodeAndPercent: null,
    VatAmount: null,
    Quantity: null,
    Weight: null,
    DeliveryDate: null,
    HarvestYear: null,
    ProjectId: null,
  };
}
