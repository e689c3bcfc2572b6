import {
  type Account,
  type BankAccount,
  type Company,
  type FiscalYear,
  stableUuid,
  type VatCode,
} from './model.ts';

export interface SpirisSimulatorCompanyOptions {
  /** Company id (uuid); stable default derived from the name. */
  id?: string;
  name?: string;
  /** Organisationsnummer, e.g. 556677-8899. */
  corporateIdentityNumber?: string;
  /** 1 Standard, 2 Invoicing, 3 Bookkeeping, 4 Solo, 5 Pro, 6 InvoicingCollaboration. Default 1. */
  productVariant?: number;
  /** 0 Invoicing (fakturametoden, default), 1 Cash (kontantmetoden). */
  bookkeepingMethod?: 0 | 1;
  /**
   * Bookkeeping locked through this date (yyyy-mm-dd). Default: the last day of the previous
   * fiscal year; `null` for no lock.
   */
  accountingLockedTo?: string | null;
  /** Reference date for the seeded fiscal years (yyyy-mm-dd). Default: the simulator's today. */
  today?: string;
}

export const DEFAULT_COMPANY_NAME = 'Testbolaget Nordic AB';
export const DEFAULT_ORG_NUMBER = '556677-8899';

// BAS 2024 names. 6065 is deliberately fictitious and inactive; 2650 is blocked for manual
// booking because the VAT report books it automatically.
const CHART: Array<{ number: number; name: string; vat?: string; inactive?: true; blocked?: true }> = [
  { number: 1510, name: 'Kundfordringar' },
  { number: 1580, name: 'Fordringar för kontokort och kuponger' },
  { number: 1630, name: 'Avräkning för skatter och avgifter (skattekonto)' },
  { number: 1689, name: 'Övriga kortfristiga fordringar' },
  { number: 1910, name: 'Kassa' },
  { number: 1930, name: 'Företagskonto/checkkonto/affärskonto' },
  { number: 1932, name: 'Bankkonto Klarna-utbetalningar' },
  { number: 2081, name: 'Aktiekapital' },
  { number: 2091, name: 'Balanserad vinst eller förlust' },
  { number: 2099, name: 'Årets resultat' },
  { number: 2440, name: 'Leverantörsskulder' },
  { number: 2611, name: 'Utgående moms på försäljning inom Sverige, 25 %' },
  { number: 2621, name: 'Utgående moms på försäljning inom Sverige, 12 %' },
  { number: 2631, name: 'Utgående moms på försäljning inom Sverige, 6 %' },
  { number: 2640, name: 'Ingående moms' },
  { number: 2641, name: 'Debiterad ingående moms' },
  { number: 2650, name: 'Redovisningskonto för moms', blocked: true },
  { number: 2890, name: 'Övriga kortfristiga skulder' },
  { number: 3001, name: 'Försäljning inom Sverige, 25 % moms', vat: 'out25' },
  { number: 3002, name: 'Försäljning inom Sverige, 12 % moms', vat: 'out12' },
  { number: 3003, name: 'Försäljning inom Sverige, 6 % moms', vat: 'out6' },
  { number: 3740, name: 'Öres- och kronutjämning' },
  { number: 3960, name: 'Valutakursvinster på fordringar och skulder av rörelsekaraktär' },
  { number: 3990, name: 'Övriga ersättningar och intäkter' },
  { number: 4010, name: 'Inköp material och varor', vat: 'in25' },
  { number: 6064, name: 'Factoringavgifter' },
  { number: 6065, name: 'Gammalt konto', inactive: true },
  { number: 6570, name: 'Bankkostnader' },
  { number: 6990, name: 'Övriga externa kostnader', vat: 'in25' },
  { number: 7960, name: 'Valutakursförluster på fordringar och skulder av rörelsekaraktär' },
  { number: 8999, name: 'Årets resultat' },
];

// The service lists rates as fractions (0.25) under Swedish momskoder; codes are illustrative.
const VAT_CODES: Array<{ key: string; code: string; description: string; rate: number; accounts: number[] }> =
  [
    { key: 'none', code: 'MF', description: 'Momsfri', rate: 0, accounts: [] },
    { key: 'out25', code: 'MP1', description: 'Utgående moms 25 %', rate: 0.25, accounts: [2611] },
    { key: 'out12', code: 'MP2', description: 'Utgående moms 12 %', rate: 0.12, accounts: [2621] },
    { key: 'out6', code: 'MP3', description: 'Utgående moms 6 %', rate: 0.06, accounts: [2631] },
    { key: 'in25', code: 'I', description: 'Ingående moms 25 %', rate: 0.25, accounts: [2641] },
    { key: 'in12', code: 'I12', description: 'Ingående moms 12 %', rate: 0.12, accounts: [2641] },
    { key: 'in6', code: 'I6', description: 'Ingående moms 6 %', rate: 0.06, accounts: [2641] },
  ];

function addYears(isoDate: string, years: number): number {
  return Number(isoDate.slice(0, 4)) + years;
}

export function buildCompany(opts: SpirisSimulatorCompanyOptions, defaultToday: string): Company {
  const name = opts.name ?? DEFAULT_COMPANY_NAME;
  const id = opts.id?.toLowerCase() ?? stableUuid('company', name);
  const today = opts.today ?? defaultToday;
  const method = opts.bookkeepingMethod ?? 0;

  const fiscalYears: FiscalYear[] = [-1, 0, 1].map((offset) => {
    const year = addYears(today, offset);
    return {
      id: stableUuid(id, 'fiscalyear', String(year)),
      startDate: `${year}-01-01`,
      endDate: `${year}-12-31`,
      isLockedForAccounting: offset < 0,
      bookkeepingMethod: method,
    };
  });

  const vatCodes: VatCode[] = VAT_CODES.map((v) => ({
    id: stableUuid(id, 'vatcode', v.key),
    code: v.code,
    description: v.description,
    rate: v.rate,
    relatedAccounts: [v.accounts[0] ?? null, v.accounts[1] ?? null, v.accounts[2] ?? null],
  }));
  const vatByKey = new Map(VAT_CODES.map((v, i) => [v.key, vatCodes[i]!.id]));

  const created = `${fiscalYears[0]!.startDate}T08:00:00.000Z`;
  const accounts = new Map<string, Map<number, Account>>();
  for (const fy of fiscalYears) {
    const chart = new Map<number, Account>();
    for (const a of CHART) {
      chart.set(a.number, {
        number: a.number,
        name: a.name,
        vatCodeId: a.vat ? vatByKey.get(a.vat)! : null,
        isActive: !a.inactive,
        isBlockedForManualBooking: a.blocked === true,
        createdUtc: created,
        modifiedUtc: created,
      });
    }
    accounts.set(fy.id, chart);
  }

  const bankAccounts: BankAccount[] = [
    {
      id: stableUuid(id, 'bankaccount', '1930'),
      name: 'Företagskonto',
      ledgerAccountNumber: 1930,
      type: 1,
      bban: '5491-1234567',
      iban: 'SE4550000000054910001234',
      isDefaultChequeAccount: true,
      isActive: true,
    },
    {
      id: stableUuid(id, 'bankaccount', '1932'),
      name: 'Klarna-utbetalningar',
      ledgerAccountNumber: 1932,
      type: 1,
      bban: '5491-7654321',
      iban: 'SE1150000000054917654321',
      isDefaultChequeAccount: false,
      isActive: true,
    },
  ];

  const lockedTo = opts.accountingLockedTo === undefined ? fiscalYears[0]!.endDate : opts.accountingLockedTo;

  return {
    id,
    name,
    corporateIdentityNumber: opts.corporateIdentityNumber ?? DEFAULT_ORG_NUMBER,
    productVariant: opts.productVariant ?? 1,
    accountingLockedTo: lockedTo,
    accountingLockInterval: lockedTo ? 3 : 0,
    fiscalYears,
    accounts,
    vatCodes,
    bankAccounts,
    vouchers: [],
    attachments: new Map(),
    numberCounters: new Map(),
  };
}
