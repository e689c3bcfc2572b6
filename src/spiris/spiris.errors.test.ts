import { describe, expect, it } from 'vitest';
import {
  parseErrorEnvelope,
  parseTryAgainInMs,
  SPIRIS_ERROR_CODES,
  SpirisAuthError,
  SpirisInvalidClientError,
  SpirisInvalidGrantError,
  SpirisNotFoundError,
  SpirisOAuthError,
  SpirisRateLimitError,
  SpirisServerError,
  SpirisValidationError,
  spirisApiErrorFrom,
  spirisOAuthErrorFrom,
} from './spiris.errors.ts';

const base = { method: 'POST', path: '/vouchers' };

describe('spirisApiErrorFrom', () => {
  it.each([
    [429, 4010, SpirisRateLimitError],
    [400, 4010, SpirisRateLimitError],
    [401, undefined, SpirisAuthError],
    [403, 4003, SpirisAuthError],
    [400, 4006, SpirisAuthError],
    [400, 4009, SpirisAuthError],
    [404, 3000, SpirisNotFoundError],
    [500, 5000, SpirisServerError],
    [503, undefined, SpirisServerError],
    [400, 2000, SpirisValidationError],
    [400, 3001, SpirisValidationError],
    [400, 3002, SpirisValidationError],
    [400, 4026, SpirisValidationError],
    [400, 4038, SpirisValidationError],
  ])('HTTP %i with code %s → %s', (status, errorCode, cls) => {
    const err = spirisApiErrorFrom({ ...base, status, ...(errorCode ? { errorCode } : {}) });
    expect(err).toBeInstanceOf(cls);
    expect(err.status).toBe(status);
    expect(err.errorCode).toBe(errorCode);
  });

  it('keeps the envelope and writes a message a merchant can act on', () => {
    const env = parseErrorEnvelope({
      ErrorCode: 4026,
      DeveloperErrorMessage: 'The voucher date is in a locked period.',
      ErrorId: 'abc-123',
    });
    const err = spirisApiErrorFrom({ ...base, status: 400, ...env });
    expect(err.errorCode).toBe(4026);
    expect(err.errorId).toBe('abc-123');
    expect(err.explanation?.name).toBe('VoucherDateIsInLockedPeriod');
    expect(err.message).toMatch(/locked/);
    expect(err.message).toMatch(/Unlock the period in Spiris/);
    expect(err.message).toMatch(/ErrorId abc-123/);
  });

  it.each([
    [4009, /Upgrade the Spiris subscription/],
    [3001, /no fiscal year/],
    [3002, /does not exist in the chart of accounts/],
    [4038, /closed \(locked\)/],
    [4006, /approve all requested permissions/],
    [5007, /Upload the file again/],
  ])('explains code %i', (code, text) => {
    const err = spirisApiErrorFrom({ ...base, status: 400, errorCode: code });
    expect(err.message).toMatch(text);
  });

  it('turns an undocumented unbalanced-voucher 2000 into advice from its message', () => {
    const env = parseErrorEnvelope({
      ErrorCode: 2000,
      DeveloperErrorMessage: 'Rows: The voucher is not balanced.',
      Errors: [
        { Field: 'Rows', ErrorCode: 'Unbalanced', Message: 'The voucher is not balanced.', Key: 'Rows' },
      ],
    });
    const err = spirisApiErrorFrom({ ...base, status: 400, ...env });
    expect(err.fieldErrors).toEqual([
      { field: 'Rows', code: 'Unbalanced', message: 'The voucher is not balanced.' },
    ]);
    expect(err.message).toMatch(/debit must equal total credit/);
  });

  it('explains field errors for decimals, both sides and long texts', () => {
    const make = (msg: string) =>
      spirisApiErrorFrom({ ...base, status: 400, errorCode: 2000, developerErrorMessage: msg }).message;
    expect(make('Rows[0].DebitAmount: at most 2 decimals allowed')).toMatch(/more than two decimals/);
    expect(make('Rows[1]: a row cannot have both DebitAmount and CreditAmount')).toMatch(/one side only/);
    expect(make('Rows[0].TransactionText: maximum length is 60')).toMatch(/Shorten the text/);
  });

  it('has an explanation and an action for every catalogued code', () => {
    for (const [code, e] of Object.entries(SPIRIS_ERROR_CODES)) {
      expect(e.name, String(code)).not.toBe('');
      expect(e.explanation.length, String(code)).toBeGreaterThan(10);
      expect(e.action.length, String(code)).toBeGreaterThan(5);
    }
  });

  it('tolerates a body that is not the envelope', () => {
    expect(parseErrorEnvelope('oops')).toEqual({ fieldErrors: [] });
    expect(parseErrorEnvelope({ ErrorMessages: { VoucherText: ['too long'] } }).fieldErrors).toEqual([
      { field: 'VoucherText', code: null, message: 'too long' },
    ]);
  });
});

describe('spirisOAuthErrorFrom', () => {
  it('maps the RFC 6749 error codes', () => {
    expect(spirisOAuthErrorFrom(400, { error: 'invalid_grant' })).toBeInstanceOf(SpirisInvalidGrantError);
    expect(spirisOAuthErrorFrom(401, { error: 'invalid_client' })).toBeInstanceOf(SpirisInvalidClientError);
    const other = spirisOAuthErrorFrom(400, { error: 'invalid_scope', error_description: 'nope' });
    expect(other).toBeInstanceOf(SpirisOAuthError);
    expect(other.message).toMatch(/invalid_scope: nope/);
    expect(spirisOAuthErrorFrom(502, undefined).error).toBe('http_502');
  });
});

describe('parseTryAgainInMs', () => {
  it.each([
    ['API calls quota exceeded! maximum admitted 600 per Minute. Try again in 55 seconds.', 55_000],
    ['try again in 1 second', 1000],
    ['Try again in 2.5 seconds', 2500],
    ['Try again in 500 ms', 500],
    ['Try again in 2 minutes', 120_000],
    ['Too many requests', undefined],
    ['', undefined],
    [undefined, undefined],
  ])('%s → %s', (msg, ms) => {
    expect(parseTryAgainInMs(msg)).toBe(ms);
  });
});
