import { describe, expect, it } from 'vitest';
import { parseRateTableCsv, RateTableError, TableRateSource } from './table.rate-source.ts';

describe('TableRateSource', () => {
  const table = TableRateSource.fromCsv(
    ['currency,date,rate', 'EUR,2026-03-13,11.0704', 'EUR,2026-03-16,11.1002', 'USD,2026-02-02,10.2'].join(
      '\n',
    ),
    { name: 'Kurser från banken' },
  );

  it.each([
    ['EUR', '2026-03-16', { sekPerUnit: '11.1002', date: '2026-03-16' }],
    ['EUR', '2026-03-15', { sekPerUnit: '11.0704', date: '2026-03-13' }],
    ['eur', '2026-04-13', { sekPerUnit: '11.1002', date: '2026-03-16' }],
    ['EUR', '2026-03-12', null],
    ['USD', '2026-03-05', { sekPerUnit: '10.2', date: '2026-02-02' }], // 31 days: still used
    ['USD', '2026-03-06', null], // 32 days: too old
    ['NOK', '2026-03-16', null],
    ['SEK', '2026-03-16', { sekPerUnit: '1', date: '2026-03-16', source: 'SEK' }],
  ])('%s on %s → %j', async (currency, date, expected) => {
    const quote = await table.rateFor(currency, date);
    if (expected === null) expect(quote).toBeNull();
    else expect(quote).toMatchObject({ source: 'Kurser från banken', ...expected });
  });

  it('reads Swedish spreadsheet exports: semicolons, Swedish headers, decimal comma, any column order', () => {
    const csv =
      '\uFEFF# från Excel\r\nDatum;Valuta;Kurs\r\n2026-03-13;eur;11,0704\r\n\r\n"2026-03-16";"EUR";"11,1002"\r\n';
    expect(parseRateTableCsv(csv)).toEqual([
      { currency: 'EUR', date: '2026-03-13', rate: '11.0704' },
      { currency: 'EUR', date: '2026-03-16', rate: '11.1002' },
    ]);
  });

  it('reads a table without a header as currency, date, rate', () => {
    expect(parseRateTableCsv('GBP,2026-03-13,13.10\nGBP,2026-03-16,13.2')).toEqual([
      { currency: 'GBP', date: '2026-03-13', rate: '13.1' },
      { currency: 'GBP', date: '2026-03-16', rate: '13.2' },
    ]);
  });

  it.each([
    ['EUR,2026-03-13,0', /line 1: "0" is not a positive rate/],
    ['EUR,2026-13-01,11', /line 1: "2026-13-01" is not a date/],
    ['EURO,2026-03-13,11', /line 1: "EURO" is not a currency code/],
    ['valuta;datum\nEUR;2026-03-13', /header has no rate column/],
    ['EUR,2026-03-13,11\nEUR,2026-03-13,12', /EUR 2026-03-13 appears twice, with 11 and 12/],
  ])('rejects %j', (csv, message) => {
    expect(() => TableRateSource.fromCsv(csv)).toThrow(RateTableError);
    expect(() => TableRateSource.fromCsv(csv)).toThrow(message);
  });

  it('reads JSON, as a list or under "rates", numbers or strings', async () => {
    const list = TableRateSource.fromJson('[{"currency":"EUR","date":"2026-03-13","rate":"11.0704"}]');
    const wrapped = TableRateSource.fromJson({
      rates: [{ currency: 'EUR', date: '2026-03-13', rate: 11.0704 }],
    });
    for (const s of [list, wrapped]) {
      expect(await s.rateFor('EUR', '2026-03-14')).toEqual({
        sekPerUnit: '11.0704',
        date: '2026-03-13',
        source: 'egen kurstabell',
      });
    }
    expect(() => TableRateSource.fromJson('{')).toThrow(/not valid JSON/);
    expect(() => TableRateSource.fromJson({ EUR: [] })).toThrow(/must be a list/);
  });

  it('keeps using an old quote when the table allows it', async () => {
    const yearly = new TableRateSource([{ currency: 'EUR', date: '2026-01-01', rate: '11' }], {
      maxAgeDays: 366,
    });
    expect(await yearly.rateFor('EUR', '2026-12-31')).toMatchObject({ date: '2026-01-01' });
  });
});
