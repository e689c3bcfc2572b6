import { describe, expect, it } from 'vitest';
import { ApiError } from './http-util.ts';
import { compileFilter, type FieldTypes, paginate } from './odata.ts';

const fields: FieldTypes = { Text: 'string', Date: 'date', Amount: 'number', Active: 'boolean', Ref: 'guid' };
const rows = [
  { Text: 'Alpha', Date: '2026-01-01T00:00:00', Amount: 10, Active: true, Ref: null },
  {
    Text: 'Beta',
    Date: '2026-02-01T00:00:00',
    Amount: -5,
    Active: false,
    Ref: 'A0000000-0000-4000-8000-000000000001',
  },
  { Text: null, Date: null, Amount: 0, Active: true, Ref: null },
];
const run = (f: string) => rows.filter(compileFilter(f, fields)).map((r) => r.Amount);

function code(f: string): number | undefined {
  try {
    compileFilter(f, fields);
    return undefined;
  } catch (err) {
    return err instanceof ApiError ? err.errorCode : -1;
  }
}

describe('$filter', () => {
  it('combines and/or/not with parentheses and null', () => {
    expect(run("(Amount gt 0 or Amount lt 0) and not (Text eq 'beta')")).toEqual([10]);
    expect(run('Text eq null')).toEqual([0]);
    expect(run('Date ne null and Active eq true')).toEqual([10]);
    expect(run('Amount ge -5 and Amount le 0')).toEqual([-5, 0]);
    expect(run('Ref eq a0000000-0000-4000-8000-000000000001')).toEqual([-5]);
    expect(run("endswith(tolower(Text),'ta') and length(Text) eq 4")).toEqual([-5]);
    expect(run("contains(Text,'zz') eq false")).toEqual([10, -5, 0]);
  });

  it('classifies errors like the API', () => {
    expect(code('Amount gt')).toBe(6000);
    expect(code("Amount eq '1'")).toBe(6000);
    expect(code('Active gt true')).toBe(6000);
    expect(code('Amount')).toBe(6000);
    expect(code("Text eq 'open")).toBe(6000);
    expect(code('Date eq 2026-02-30')).toBe(6001);
    expect(code('Date eq 2026-1-1')).toBe(6001);
    expect(code('Rows/any(r: r/AccountNumber eq 1930)')).toBe(6000);
  });

  it('pages after filtering', () => {
    const page = paginate(rows, new URLSearchParams('$filter=Active eq true&$pagesize=1&$page=2'), fields, 0);
    expect(page.Meta).toEqual({
      CurrentPage: 2,
      PageSize: 1,
      TotalNumberOfPages: 2,
      TotalNumberOfResults: 2,
      ServerTimeUtc: '1970-01-01T00:00:00Z',
    });
    expect(page.Data).toEqual([rows[2]]);
  });
});
