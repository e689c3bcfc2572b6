import { formatDecimalSv, formatMinorSv } from './decimal.ts';
import type { VoucherDraft } from './voucher.ts';

/**
 * A voucher draft as a plain-text debit/credit table, for `preview` and logs:
 *
 *   Verifikation 2026-04-01: Klarna utbetalning XISA93DJ 2026-04-01, Klarna-id K123456
 *   Konto  Text                         Debet      Kredit
 *   1930   Klarna utbetalning XISA93DJ  9 712,50
 *   1580   Klarna försäljning                      10 000,00
 *          Summa                        10 000,00  10 000,00
 */
export function formatVoucherTable(
  draft: VoucherDraft,
  options: { accountNames?: Record<string, string> } = {},
): string {
  const names = options.accountNames ?? {};
  const foreign = draft.originalCurrency;
  const header = ['Konto', 'Text', 'Debet', 'Kredit', ...(foreign ? [foreign] : [])];
  const body = draft.rows.map((row) => [
    row.account,
    names[row.account] ? `${row.text} [${names[row.account]}]` : row.text,
    row.debitMinor ? formatMinorSv(row.debitMinor) : '',
    row.creditMinor ? formatMinorSv(row.creditMinor) : '',
    ...(foreign ? [row.originalMinor === undefined ? '' : formatMinorSv(row.originalMinor)] : []),
  ]);
  const debit = draft.rows.reduce((sum, r) => sum + r.debitMinor, 0);
  const credit = draft.rows.reduce((sum, r) => sum + r.creditMinor, 0);
  const total = ['', 'Summa', formatMinorSv(debit), formatMinorSv(credit), ...(foreign ? [''] : [])];

  const table = [header, ...body, total];
  const widths = header.map((_, i) => Math.max(...table.map((cells) => [...(cells[i] ?? '')].length)));
  // Amounts right-aligned so the öre line up; account and text left-aligned.
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i < 2 ? pad(cell, widths[i]!, 'left') : pad(cell, widths[i]!, 'right')))
      .join('  ')
      .trimEnd();

  const out = [`Verifikation ${draft.voucherDate}: ${draft.voucherText}`];
  if (draft.rate && foreign) {
    out.push(
      `Kurs ${formatDecimalSv(draft.rate.sekPerUnit)} SEK/${foreign} per ${draft.rate.date} (${draft.rate.source})`,
    );
  }
  out.push(line(header), ...body.map(line), line(total));
  return out.join('\n');
}

function pad(text: string, width: number, align: 'left' | 'right'): string {
  const fill = ' '.repeat(Math.max(0, width - [...text].length));
  return align === 'left' ? text + fill : fill + text;
}
