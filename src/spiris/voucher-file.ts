import { amountToMinor } from './amount.ts';
import type { VoucherDraft, VoucherRowDraft } from './spiris.types.ts';

// Reads a voucher someone wrote by hand for `klarna-spiris spiris voucher create`:
// either the API's own shape (VoucherDate, Rows[].DebitAmount …) or a short one
// (date, text, rows[].account/debit/credit). Amounts become öre here, and more than
// two decimals is refused rather than rounded.

export class VoucherFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'VoucherFileError';
  }
}

export function parseVoucherFile(input: unknown): VoucherDraft {
  if (!input || typeof input !== 'object' || Array.isArray(input)) {
    throw new VoucherFileError('The voucher file must hold one JSON object.');
  }
  const o = input as Record<string, unknown>;
  const apiShape = 'VoucherDate' in o || 'Rows' in o;
  const date = text(apiShape ? o.VoucherDate : (o.date ?? o.voucherDate), 'date');
  if (!/^\d{4}-\d{2}-\d{2}/.test(date)) throw new VoucherFileError(`date must be yyyy-mm-dd, got "${date}".`);
  const voucherText = text(apiShape ? o.VoucherText : (o.text ?? o.voucherText), 'text');
  const rowsIn = apiShape ? o.Rows : o.rows;
  if (!Array.isArray(rowsIn) || rowsIn.length === 0)
    throw new VoucherFileError('The voucher needs at least one row.');
  const rows = rowsIn.map((r, i) => (apiShape ? apiRow(r, i) : domainRow(r, i)));
  const draft: VoucherDraft = { date: date.slice(0, 10), text: voucherText, rows };
  const series = apiShape ? o.NumberSeries : o.numberSeries;
  if (typeof series === 'string' && series !== '') draft.numberSeries = series;
  return draft;
}

function apiRow(r: unknown, i: number): VoucherRowDraft {
  const o = row(r, i);
  const out: VoucherRowDraft = {
    accountNumber: accountNumber(o.AccountNumber, i),
    debitMinor: amount(o.DebitAmount, i, 'DebitAmount'),
    creditMinor: amount(o.CreditAmount, i, 'CreditAmount'),
  };
  if (typeof o.TransactionText === 'string') out.text = o.TransactionText;
  if (typeof o.VatCodeId === 'string') out.vatCodeId = o.VatCodeId;
  if (typeof o.ProjectId === 'string') out.projectId = o.ProjectId;
  return out;
}

function domainRow(r: unknown, i: number): VoucherRowDraft {
  const o = row(r, i);
  const out: VoucherRowDraft = {
    accountNumber: accountNumber(o.account ?? o.accountNumber, i),
    debitMinor:
      o.debitMinor !== undefined ? minor(o.debitMinor, i, 'debitMinor') : amount(o.debit, i, 'debit'),
    creditMinor:
      o.creditMinor !== undefined ? minor(o.creditMinor, i, 'creditMinor') : amount(o.credit, i, 'credit'),
  };
  if (typeof o.text === 'string') out.text = o.text;
  if (typeof o.vatCodeId === 'string') out.vatCodeId = o.vatCodeId;
  return out;
}

function row(r: unknown, i: number): Record<string, unknown> {
  if (!r || typeof r !== 'object') throw new VoucherFileError(`Row ${i + 1} is not an object.`);
  return r as Record<string, unknown>;
}

function text(v: unknown, name: string): string {
  if (typeof v !== 'string' || v.trim() === '') throw new VoucherFileError(`The voucher needs a ${name}.`);
  return v;
}

function accountNumber(v: unknown, i: number): number {
  const n = typeof v === 'string' ? Number(v) : v;
  if (typeof n !== 'number' || !Number.isInteger(n) || n <= 0) {
    throw new VoucherFileError(`Row ${i + 1}: the account must be a whole number, got ${JSON.stringify(v)}.`);
  }
  return n;
}

function amount(v: unknown, i: number, name: string): number {
  if (v === undefined || v === null || v === '') return 0;
  if (typeof v !== 'number' && typeof v !== 'string') {
    throw new VoucherFileError(`Row ${i + 1}: ${name} must be a number.`);
  }
  try {
    return amountToMinor(v);
  } catch (err) {
    throw new VoucherFileError(`Row ${i + 1}: ${name}: ${(err as Error).message}.`);
  }
}

function minor(v: unknown, i: number, name: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
    throw new VoucherFileError(`Row ${i + 1}: ${name} must be a whole number of öre.`);
  }
  return v;
}
