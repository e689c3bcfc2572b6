// The CSV and PDF report bodies of the simulated Settlements API.
//
// Klarna documents the CSV only loosely (semicolon-delimited, Decimal amounts like `100.00`,
// a totals section followed by transaction lines whose first ten columns are type,
// capture_date, sale_date, order_id, short_order_id, capture_id, merchant_reference1,
// merchant_reference2, amount, posting_currency). The extra columns are ones the Report
// Configurator can add. The PDF is a one-page summary, written by hand.

import type { SimPayout, SimTotals, SimTransaction } from './generator.ts';

/** Minor units → Klarna's report Decimal, e.g. 10000 → `100.00`, -5 → `-0.05`. */
export function formatDecimal(minor: number): string {
  const abs = Math.abs(minor);
  const s = `${Math.floor(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
  return minor < 0 ? `-${s}` : s;
}

function csvCell(value: string | number | undefined): string {
  if (value === undefined) return '';
  const s = String(value);
  return /[;"\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

const row = (cells: Array<string | number | undefined>): string => `${cells.map(csvCell).join(';')}\r\n`;

const TOTAL_COLUMNS: Array<[header: string, field: keyof SimTotals]> = [
  ['total_sale_amount', 'sale_amount'],
  ['total_return_amount', 'return_amount'],
  ['total_reversal_amount', 'reversal_amount'],
  ['total_fee_amount', 'fee_amount'],
  ['total_tax_amount', 'tax_amount'],
  ['total_fee_correction_amount', 'fee_correction_amount'],
  ['total_commission_amount', 'commission_amount'],
  ['total_charge_amount', 'charge_amount'],
  ['total_credit_amount', 'credit_amount'],
  ['total_holdback_amount', 'holdback_amount'],
  ['total_release_amount', 'release_amount'],
  ['total_fee_refund_amount', 'fee_refund_amount'],
  ['total_tax_refund_amount', 'tax_refund_amount'],
  ['total_repay_amount', 'repay_amount'],
  ['total_deposit_amount', 'deposit_amount'],
  ['opening_debt_balance_amount', 'opening_debt_balance_amount'],
  ['closing_debt_balance_amount', 'closing_debt_balance_amount'],
  ['total_settlement_amount', 'settlement_amount'],
];

const TRANSACTION_HEADER = [
  'type',
  'capture_date',
  'sale_date',
  'order_id',
  'short_order_id',
  'capture_id',
  'merchant_reference1',
  'merchant_reference2',
  'amount',
  'posting_currency',
  'detailed_type',
  'vat_rate',
  'vat_amount',
  'refund_id',
  'purchase_country',
  'shipping_country',
  'payment_reference',
  'klarna_comment',
];

function transactionRow(t: SimTransaction): string {
  return row([
    t.type,
    t.capture_date,
    t.sale_date,
    t.order_id,
    t.short_order_id,
    t.capture_id,
    t.merchant_reference1,
    undefined,
    formatDecimal(t.amount),
    t.currency_code,
    t.detailed_type,
    t.vat_rate === undefined ? undefined : formatDecimal(t.vat_rate),
    t.vat_amount === undefined ? undefined : formatDecimal(t.vat_amount),
    t.refund_id,
    t.purchase_country,
    t.shipping_country,
    t.payment_reference,
    t.klarna_comment,
  ]);
}

/** `GET /reports/payout-with-transactions`: the payout's totals, a blank line, then its transactions. */
export function payoutCsv(payout: SimPayout, transactions: readonly SimTransaction[]): string {
  const parts: string[] = [
    row([
      'merchant_id',
      'payment_reference',
      'payout_date',
      'currency_code',
      'merchant_settlement_type',
      ...TOTAL_COLUMNS.map(([h]) => h),
    ]),
    row([
      payout.merchant_id,
      payout.payment_reference,
      payout.payout_date,
      payout.currency_code,
      payout.merchant_settlement_type,
      ...TOTAL_COLUMNS.map(([, f]) => formatDecimal(payout.totals[f])),
    ]),
    '\r\n',
    row(TRANSACTION_HEADER),
  ];
  for (const t of transactions) parts.push(transactionRow(t));
  return parts.join('');
}

/** The fields of Klarna's `PayoutSummary` schema, in minor units. */
export interface SimPayoutSummary {
  summary_settlement_currency: string;
  summary_payout_date_start: string;
  summary_payout_date_end: string;
  summary_total_sale_amount: number;
  summary_total_fee_amount: number;
  summary_total_fee_correction_amount: number;
  summary_total_tax_amount: number;
  summary_total_return_amount: number;
  summary_total_reversal_amount: number;
  summary_total_commission_amount: number;
  summary_total_holdback_amount: number;
  summary_total_release_amount: number;
  summary_total_repay_amount: number;
  summary_total_settlement_amount: number;
}

const SUMMARY_FIELDS: Array<[summary: keyof SimPayoutSummary, total: keyof SimTotals]> = [
  ['summary_total_sale_amount', 'sale_amount'],
  ['summary_total_fee_amount', 'fee_amount'],
  ['summary_total_fee_correction_amount', 'fee_correction_amount'],
  ['summary_total_tax_amount', 'tax_amount'],
  ['summary_total_return_amount', 'return_amount'],
  ['summary_total_reversal_amount', 'reversal_amount'],
  ['summary_total_commission_amount', 'commission_amount'],
  ['summary_total_holdback_amount', 'holdback_amount'],
  ['summary_total_release_amount', 'release_amount'],
  ['summary_total_repay_amount', 'repay_amount'],
  ['summary_total_settlement_amount', 'settlement_amount'],
];

/** One summary per currency, in order of first appearance; currencies without payouts are left out. */
export function summarize(payouts: readonly SimPayout[], start: string, end: string): SimPayoutSummary[] {
  const byCurrency = new Map<string, SimPayoutSummary>();
  for (const p of payouts) {
    let s = byCurrency.get(p.currency_code);
    if (!s) {
      s = {
        summary_settlement_currency: p.currency_code,
        summary_payout_date_start: start,
        summary_payout_date_end: end,
        summary_total_sale_amount: 0,
        summary_total_fee_amount: 0,
        summary_total_fee_correction_amount: 0,
        summary_total_tax_amount: 0,
        summary_total_return_amount: 0,
        summary_total_reversal_amount: 0,
        summary_total_commission_amount: 0,
        summary_total_holdback_amount: 0,
        summary_total_release_amount: 0,
        summary_total_repay_amount: 0,
        summary_total_settlement_amount: 0,
      };
      byCurrency.set(p.currency_code, s);
    }
    for (const [sf, tf] of SUMMARY_FIELDS) (s[sf] as number) += p.totals[tf];
  }
  return [...byCurrency.values()];
}

/** `GET /reports/payouts-summary-with-transactions`: per-currency summaries, then every transaction. */
export function summaryCsv(
  summaries: readonly SimPayoutSummary[],
  transactionsOf: Iterable<readonly SimTransaction[]>,
): string {
  const parts: string[] = [
    row([
      'summary_settlement_currency',
      'summary_payout_date_start',
      'summary_payout_date_end',
      ...SUMMARY_FIELDS.map(([f]) => f),
    ]),
  ];
  for (const s of summaries) {
    parts.push(
      row([
        s.summary_settlement_currency,
        s.summary_payout_date_start,
        s.summary_payout_date_end,
        ...SUMMARY_FIELDS.map(([f]) => formatDecimal(s[f] as number)),
      ]),
    );
  }
  parts.push('\r\n', row(TRANSACTION_HEADER));
  for (const txs of transactionsOf) for (const t of txs) parts.push(transactionRow(t));
  return parts.join('');
}

// ---------------------------------------------------------------------------------------
// PDF

const TOTAL_LABELS: Array<[label: string, field: keyof SimTotals]> = [
  ['Sales', 'sale_amount'],
  ['Returns', 'return_amount'],
  ['Reversals', 'reversal_amount'],
  ['Fees', 'fee_amount'],
  ['Tax on fees', 'tax_amount'],
  ['Fee corrections', 'fee_correction_amount'],
  ['Fee refunds', 'fee_refund_amount'],
  ['Tax refunds', 'tax_refund_amount'],
  ['Commissions', 'commission_amount'],
  ['Charges', 'charge_amount'],
  ['Credits', 'credit_amount'],
  ['Holdback', 'holdback_amount'],
  ['Release', 'release_amount'],
  ['Repaid debt', 'repay_amount'],
  ['Deposit (new debt)', 'deposit_amount'],
  ['Opening debt balance', 'opening_debt_balance_amount'],
  ['Closing debt balance', 'closing_debt_balance_amount'],
  ['Settlement amount', 'settlement_amount'],
];

export function payoutPdf(payout: SimPayout, padToBytes?: number): Buffer {
  const lines = [
    'Klarna settlement report',
    '',
    `Merchant ID: ${payout.merchant_id}`,
    `Payment reference: ${payout.payment_reference}`,
    `Payout date: ${payout.payout_date}`,
    `Currency: ${payout.currency_code}`,
    `Settlement type: ${payout.merchant_settlement_type}`,
    '',
    ...TOTAL_LABELS.map(
      ([label, f]) => `${label}: ${formatDecimal(payout.totals[f])} ${payout.currency_code}`,
    ),
  ];
  return buildPdf(lines, padToBytes);
}

export function summaryPdf(
  summaries: readonly SimPayoutSummary[],
  start: string,
  end: string,
  padToBytes?: number,
): Buffer {
  const lines = ['Klarna payouts summary', '', `Period: ${start} - ${end}`];
  if (summaries.length === 0) lines.push('', 'No payouts in this period.');
  for (const s of summaries) {
    const c = s.summary_settlement_currency;
    lines.push('', `Currency: ${c}`);
    for (const [f] of SUMMARY_FIELDS) lines.push(`${f}: ${formatDecimal(s[f] as number)} ${c}`);
  }
  return buildPdf(lines, padToBytes);
}

function pdfText(s: string): string {
  // Only printable ASCII goes into the Helvetica text; the brackets and backslash need escaping.
  return s.replace(/[^\x20-\x7e]/g, '?').replace(/([()\\])/g, '\\$1');
}

/** A minimal valid one-page PDF 1.4 (Helvetica text), optionally padded with a comment to a size. */
export function buildPdf(lines: readonly string[], padToBytes?: number): Buffer {
  const text = lines.map((l, i) => `${i === 0 ? '' : 'T* '}(${pdfText(l)}) Tj`).join('\n');
  const content = `BT\n/F1 11 Tf\n14 TL\n50 800 Td\n${text}\nET\n`;
  const objects = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>',
    '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>',
    `<< /Length ${Buffer.byteLength(content, 'latin1')} >>\nstream\n${content}endstream`,
  ];
  let out = '%PDF-1.4\n%\xe2\xe3\xcf\xd3\n';
  const offsets: number[] = [];
  objects.forEach((body, i) => {
    offsets.push(Buffer.byteLength(out, 'latin1'));
    out += `${i + 1} 0 obj\n${body}\nendobj\n`;
  });
  const trailerSize = 200 + objects.length * 20;
  if (padToBytes !== undefined) {
    let missing = padToBytes - Buffer.byteLength(out, 'latin1') - trailerSize;
    while (missing > 0) {
      const n = Math.min(missing, 100);
      out += `%${'x'.repeat(Math.max(0, n - 2))}\n`;
      missing -= n;
    }
  }
  const xref = Buffer.byteLength(out, 'latin1');
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) out += `${String(o).padStart(10, '0')} 00000 n \n`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}
