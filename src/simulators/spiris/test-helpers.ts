import { createHash, randomBytes } from 'node:crypto';
import type { SpirisSimulator } from './index.ts';

export const TODAY = '2026-06-15';
export const REDIRECT_URI = 'http://127.0.0.1:8765/callback';
export const ALL_SCOPES = 'ea:api offline_access ea:accounting ea:sales ea:purchase_readonly';

export function pkcePair(): { verifier: string; challenge: string } {
  const verifier = randomBytes(32).toString('base64url');
  return { verifier, challenge: createHash('sha256').update(verifier).digest('base64url') };
}

export function authorizeUrl(sim: SpirisSimulator, params: Record<string, string | undefined>): string {
  const url = new URL(`${sim.identityBaseUrl}/connect/authorize`);
  const defaults: Record<string, string> = {
    client_id: sim.clientId,
    redirect_uri: REDIRECT_URI,
    response_type: 'code',
    scope: ALL_SCOPES,
    state: 'xyz',
  };
  for (const [k, v] of Object.entries({ ...defaults, ...params })) {
    if (v !== undefined) url.searchParams.set(k, v);
  }
  return url.toString();
}

export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

export async function tokenRequest(
  sim: SpirisSimulator,
  form: Record<string, string>,
  opts: { basic?: boolean; contentType?: string; body?: string } = {},
): Promise<{ status: number; json: Record<string, unknown> }> {
  const headers: Record<string, string> = {
    'content-type': opts.contentType ?? 'application/x-www-form-urlencoded',
  };
  if (opts.basic !== false) headers.authorization = basicAuth(sim.clientId, sim.clientSecret);
  const res = await fetch(`${sim.identityBaseUrl}/connect/token`, {
    method: 'POST',
    headers,
    body: opts.body ?? new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  return { status: res.status, json: text ? JSON.parse(text) : {} };
}

export interface ApiResult {
  status: number;
  // biome-ignore lint/suspicious/noExplicitAny: tests probe response bodies loosely
  json: any;
  headers: Headers;
}

export async function api(
  sim: SpirisSimulator,
  token: string,
  method: string,
  path: string,
  body?: unknown,
): Promise<ApiResult> {
  const headers: Record<string, string> = { authorization: `Bearer ${token}` };
  if (body !== undefined) headers['content-type'] = 'application/json';
  const res = await fetch(`${sim.apiBaseUrl}${path}`, {
    method,
    headers,
    ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    // Non-JSON bodies (e.g. the 503 page) are returned as text.
  }
  return { status: res.status, json, headers: res.headers };
}

/** A balanced Klarna payout voucher. */
export function payoutVoucher(date: string, text = `Klarna utbetalning ${date} ref K1234567`) {
  return {
    VoucherDate: date,
    VoucherText: text,
    Rows: [
      {
        AccountNumber: 1930,
        DebitAmount: 9712.5,
        CreditAmount: 0,
        TransactionText: 'Klarna payout K1234567',
      },
      { AccountNumber: 6064, DebitAmount: 230, CreditAmount: 0, TransactionText: 'Klarna avgifter' },
      {
        AccountNumber: 2640,
        DebitAmount: 57.5,
        CreditAmount: 0,
        TransactionText: 'Ingående moms Klarna avgift',
      },
      {
        AccountNumber: 1580,
        DebitAmount: 0,
        CreditAmount: 10000,
        TransactionText: 'Avräkning Klarna K1234567',
      },
    ],
  };
}

export const PDF_BASE64 = Buffer.from('%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n').toString('base64');
