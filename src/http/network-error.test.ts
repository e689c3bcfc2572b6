import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, expect, it } from 'vitest';
import { isJsonContentType, networkErrorCode } from './network-error.ts';

describe('networkErrorCode', () => {
  it.each([
    [
      'undici socket error in cause',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('x'), { code: 'UND_ERR_SOCKET' }),
      }),
      'UND_ERR_SOCKET',
    ],
    [
      'refused',
      Object.assign(new TypeError('fetch failed'), {
        cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
      }),
      'ECONNREFUSED',
    ],
    [
      'timeout signal',
      new DOMException('The operation was aborted due to timeout', 'TimeoutError'),
      'TIMEOUT',
    ],
    ['abort', new DOMException('aborted', 'AbortError'), 'ABORTED'],
    ['plain error', new Error('boom'), 'NETWORK_ERROR'],
    ['not an error', 'boom', 'NETWORK_ERROR'],
  ])('%s', (_name, err, code) => {
    expect(networkErrorCode(err)).toBe(code);
  });

  it('reads the code from a real refused connection', async () => {
    // A port that was just free: fetch refuses "bad ports" like 1 before connecting.
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    await new Promise((resolve) => server.close(resolve));
    const err = await fetch(`http://127.0.0.1:${port}/`).catch((e: unknown) => e);
    expect(networkErrorCode(err)).toBe('ECONNREFUSED');
  });
});

describe('isJsonContentType', () => {
  it.each([
    ['application/json', true],
    ['application/json; charset=utf-8', true],
    ['Application/JSON', true],
    ['application/problem+json', true],
    ['text/html', false],
    ['text/plain; charset=utf-8', false],
    ['', false],
    [null, false],
  ])('%j → %j', (value, expected) => {
    expect(isJsonContentType(value)).toBe(expected);
  });
});
