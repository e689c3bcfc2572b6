import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { type ApiContext, checkProductVariant, checkScopes, matchRoute } from './api.ts';
import { ApiError, BodyTooLargeError, ErrorCodes, mediaType, readBody } from './http-util.ts';
import { type ClientRegistration, IdentityServer, KNOWN_SCOPES } from './identity.ts';
import type { Company, VoucherApi } from './model.ts';
import { errorReply, jsonReply, type Reply } from './reply.ts';
import {
  buildCompany,
  DEFAULT_COMPANY_NAME,
  DEFAULT_ORG_NUMBER,
  type SpirisSimulatorCompanyOptions,
} from './seed.ts';

export type { ClientRegistration } from './identity.ts';
export type { SpirisSimulatorCompanyOptions } from './seed.ts';

export interface SpirisSimulatorOptions {
  port?: number;
  host?: string;
  /** Default 3600, as the live identity server. */
  accessTokenLifetimeSeconds?: number;
  /** Not documented by Visma; default two years. */
  refreshTokenLifetimeSeconds?: number;
  /** Per endpoint per client, default 600; 0 turns the limit off. */
  rateLimitPerMinute?: number;
  /**
   * Registered clients. Default: one client `sim-client` / `sim-secret`. A client without
   * `redirectUris` accepts any http://localhost or http://127.0.0.1 redirect URI.
   */
  clients?: ClientRegistration[];
  /** Default: one seeded company, "Testbolaget Nordic AB" (556677-8899). The first is the user's default. */
  companies?: SpirisSimulatorCompanyOptions[];
  /** Reference date (yyyy-mm-dd) for the seeded fiscal years; default today. */
  today?: string;
  /** Entries kept in `requestLog`; default 1000. */
  requestLogLimit?: number;
}

export type SpirisFaultKind = '500' | '503' | 'lostResponse' | 'slow' | '429';

export interface SpirisFault {
  kind: SpirisFaultKind;
  /** How many matching requests the fault applies to; default 1. */
  times?: number;
  /** `slow`: extra delay before the response is sent (default 1000). `429`: the advertised wait (default 1000). */
  delayMs?: number;
  /** Only requests whose path (with query) contains this string. */
  pathIncludes?: string;
  method?: string;
}

/** A voucher as stored, in the API's shape plus simulator bookkeeping. */
export type SimulatedVoucher = VoucherApi & {
  companyId: string;
  fiscalYearId: string;
  number: number;
  attachmentIds: string[];
};

export interface SimulatedAttachment {
  id: string;
  companyId: string;
  fileName: string;
  contentType: string;
  size: number;
  documentId: string | null;
}

export interface SpirisSimulator {
  readonly url: string;
  readonly apiBaseUrl: string;
  readonly identityBaseUrl: string;
  readonly clientId: string;
  readonly clientSecret: string;
  /** Id of the first (default) company. */
  readonly companyId: string;
  /** Acts as the user logging in and consenting: fetches the authorize URL and returns the redirect URL (with code and state) without following it. */
  approve(authorizeUrl: string, opts?: { companyId?: string; deny?: boolean }): Promise<string>;
  /** Mints a token pair directly, as a system owner issuing credentials would (for the "issued credentials" path). */
  issueTokens(opts?: {
    clientId?: string;
    scopes?: string[];
    companyId?: string;
    accessTokenLifetimeSeconds?: number;
  }): { accessToken: string; refreshToken: string; expiresIn: number };
  injectFault(f: SpirisFault): void;
  clearFaults(): void;
  /** Moves the simulator's clock to this instant; it keeps running from there. `null` returns to real time. */
  setTime(time: Date | number | string | null): void;
  advanceTime(ms: number): void;
  now(): number;
  /** Bookkeeping locked through this date (yyyy-mm-dd): vouchers on or before it get 4026. */
  lockPeriod(companyId: string | undefined, throughDate: string): void;
  readonly vouchers: ReadonlyArray<SimulatedVoucher>;
  readonly attachments: ReadonlyArray<SimulatedAttachment>;
  readonly requestLog: Array<{ method: string; path: string; status: number }>;
  readonly requestCount: number;
  close(): Promise<void>;
}

const DEFAULT_CLIENT: ClientRegistration = { clientId: 'sim-client', clientSecret: 'sim-secret' };
const BODY_LIMIT_BYTES = 32 * 1024 * 1024;
const RATE_WINDOW_MS = 60_000;

function rateLimitReply(limit: number, seconds: number): Reply {
  // The live API sends no Retry-After; the wait is only in the message.
  return errorReply(
    new ApiError(
      429,
      ErrorCodes.TooManyRequests,
      `API calls quota exceeded! maximum admitted ${limit} per Minute. Try again in ${seconds} seconds.`,
    ),
  );
}

export async function startSpirisSimulator(options: SpirisSimulatorOptions = {}): Promise<SpirisSimulator> {
  let clockOffset = 0;
  const now = () => Date.now() + clockOffset;
  const today = options.today ?? new Date(now()).toISOString().slice(0, 10);
  const companies: Company[] = (options.companies?.length ? options.companies : [{}]).map((c) =>
    buildCompany(c, today),
  );
  const ids = companies.map((c) => c.id);
  if (new Set(ids).size !== ids.length) throw new Error('companies need distinct ids or names');
  const clients = options.clients?.length ? options.clients : [DEFAULT_CLIENT];
  const rateLimit = options.rateLimitPerMinute ?? 600;
  const logLimit = options.requestLogLimit ?? 1000;

  const identity = new IdentityServer({
    clients,
    accessTokenLifetimeSeconds: options.accessTokenLifetimeSeconds ?? 3600,
    refreshTokenLifetimeSeconds: options.refreshTokenLifetimeSeconds ?? 2 * 365 * 24 * 3600,
    now,
    companyIds: () => companies.map((c) => c.id),
  });

  const faults: Array<Required<Pick<SpirisFault, 'kind' | 'times'>> & SpirisFault> = [];
  const rateWindows = new Map<string, { start: number; count: number }>();
  const requestLog: Array<{ method: string; path: string; status: number }> = [];
  let requestCount = 0;
  let origin = '';

  function companyById(id: string | undefined): Company {
    const c = id ? companies.find((x) => x.id === id.toLowerCase()) : companies[0];
    if (!c) throw new Error(`unknown company ${id}`);
    return c;
  }

  function takeFault(method: string, path: string): SpirisFault | undefined {
    const i = faults.findIndex(
      (f) =>
        f.times > 0 &&
        (!f.pathIncludes || path.includes(f.pathIncludes)) &&
        (!f.method || f.method.toUpperCase() === method),
    );
    if (i < 0) return undefined;
    const f = faults[i]!;
    f.times--;
    if (f.times <= 0) faults.splice(i, 1);
    return f;
  }

  function rateLimited(clientId: string, pathname: string): Reply | undefined {
    if (rateLimit <= 0) return undefined;
    const key = `${clientId} ${pathname.toLowerCase().replace(/\/$/, '')}`;
    const t = now();
    let w = rateWindows.get(key);
    if (!w || t - w.start >= RATE_WINDOW_MS) {
      w = { start: t, count: 0 };
      rateWindows.set(key, w);
    }
    if (w.count >= rateLimit) {
      return rateLimitReply(rateLimit, Math.max(1, Math.ceil((w.start + RATE_WINDOW_MS - t) / 1000)));
    }
    w.count++;
    return undefined;
  }

  function handleIdentity(req: IncomingMessage, url: URL, method: string, body: Buffer): Reply {
    const path = url.pathname.replace(/^\/identity/i, '').toLowerCase();
    if (path === '/.well-known/openid-configuration' && method === 'GET') {
      const base = `${origin}/identity`;
      return jsonReply(200, {
        issuer: base,
        authorization_endpoint: `${base}/connect/authorize`,
        token_endpoint: `${base}/connect/token`,
        revocation_endpoint: `${base}/connect/revocation`,
        scopes_supported: [...KNOWN_SCOPES],
        response_types_supported: ['code'],
        grant_types_supported: ['authorization_code', 'refresh_token'],
        code_challenge_methods_supported: ['plain', 'S256'],
        token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
      });
    }
    if (path === '/connect/authorize') {
      if (method !== 'GET') return { status: 405, headers: {}, body: '' };
      return identity.authorize(url.searchParams);
    }
    if (path === '/connect/token' || path === '/connect/revocation') {
      if (method !== 'POST') return { status: 405, headers: {}, body: '' };
      if (mediaType(req) !== 'application/x-www-form-urlencoded') {
        return jsonReply(400, { error: 'invalid_request' });
      }
      const form = new URLSearchParams(body.toString('utf8'));
      return path === '/connect/token'
        ? identity.token(req.headers.authorization, form)
        : identity.revoke(req.headers.authorization, form);
    }
    return { status: 404, headers: {}, body: '' };
  }

  function handleApi(req: IncomingMessage, url: URL, method: string, body: Buffer): Reply {
    const auth = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)\s*$/i.exec(auth);
    const token = m ? identity.lookup(m[1]!) : undefined;
    if (!token) {
      return errorReply(
        new ApiError(401, ErrorCodes.NotAuthorized, 'Authorization has been denied for this request.'),
        { 'www-authenticate': m ? 'Bearer error="invalid_token"' : 'Bearer' },
      );
    }
    const match = matchRoute(method, url.pathname);
    // Counted per endpoint, not per concrete URL: GET /v2/vouchers/{fy}/{id} for different
    // ids shares one budget. That is the stricter reading of "per endpoint/URL".
    const limited = rateLimited(token.clientId, match.kind === 'route' ? match.route.path : url.pathname);
    if (limited) return limited;

    if (match.kind === 'not-found') {
      return errorReply(
        new ApiError(404, ErrorCodes.ResourceNotFound, `No resource matches ${url.pathname}.`),
      );
    }
    if (match.kind === 'method-not-allowed') {
      return errorReply(
        new ApiError(
          405,
          ErrorCodes.ResourceNotFound,
          `The requested resource does not support http method '${method}'.`,
        ),
      );
    }
    const company = companyById(token.companyId);
    checkScopes(match.route, token.scopes);
    checkProductVariant(match.route, company);

    let parsed: Record<string, unknown> | undefined;
    if (method === 'POST' || method === 'PUT') {
      if (body.length > 0) {
        const type = mediaType(req);
        if (type !== 'application/json' && type !== 'text/json') {
          return errorReply(
            new ApiError(
              415,
              ErrorCodes.DataModelValidationError,
              `The request entity's media type '${type}' is not supported for this resource.`,
            ),
          );
        }
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          throw new ApiError(400, ErrorCodes.DataModelValidationError, 'The request body is not valid JSON.');
        }
        if (typeof json !== 'object' || json === null || Array.isArray(json)) {
          throw new ApiError(
            400,
            ErrorCodes.DataModelValidationError,
            'The request body must be a JSON object.',
          );
        }
        parsed = json as Record<string, unknown>;
      }
    }
    const ctx: ApiContext = {
      company,
      params: match.params,
      query: url.searchParams,
      body: parsed,
      now: now(),
      origin,
    };
    return match.route.handler(ctx);
  }

  function handleSim(url: URL, method: string): Reply {
    const m = /^\/sim\/attachments\/([^/]+)\/([^/]+)$/.exec(url.pathname);
    if (method === 'GET' && m) {
      const company = companies.find((c) => c.id === m[1]);
      const a = company?.attachments.get(m[2]!);
      if (a) return { status: 200, headers: { 'content-type': a.contentType }, body: a.data };
    }
    return { status: 404, headers: {}, body: '' };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requestCount++;
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', origin);
    const path = url.pathname + url.search;
    const log = (status: number) => {
      requestLog.push({ method, path, status });
      if (requestLog.length > logLimit) requestLog.splice(0, requestLog.length - logLimit);
    };

    let body: Buffer;
    try {
      body = await readBody(req, BODY_LIMIT_BYTES);
    } catch (err) {
      if (err instanceof BodyTooLargeError) {
        log(413);
        res.writeHead(413, { connection: 'close', 'content-type': 'text/plain' });
        res.end('Request Entity Too Large');
        return;
      }
      log(0);
      res.destroy();
      return;
    }

    const fault = takeFault(method, path);
    const isApi = /^\/v2(\/|$)/i.test(url.pathname);
    let reply: Reply;
    try {
      if (fault?.kind === '500') {
        reply = isApi
          ? errorReply(new ApiError(500, ErrorCodes.InternalServerError, 'An unexpected error occurred.'))
          : { status: 500, headers: {}, body: '' };
      } else if (fault?.kind === '503') {
        reply = {
          status: 503,
          headers: { 'content-type': 'text/html; charset=utf-8' },
          body: '<html><body><h1>503 Service Unavailable</h1></body></html>',
        };
      } else if (fault?.kind === '429') {
        reply = rateLimitReply(rateLimit || 600, Math.max(1, Math.ceil((fault.delayMs ?? 1000) / 1000)));
      } else if (isApi) {
        reply = handleApi(req, url, method, body);
      } else if (/^\/identity(\/|$)/i.test(url.pathname)) {
        reply = handleIdentity(req, url, method, body);
      } else {
        reply = handleSim(url, method);
      }
    } catch (err) {
      // Unexpected failures name their cause, since they are bugs in the simulator itself.
      reply =
        err instanceof ApiError
          ? errorReply(err)
          : errorReply(new ApiError(500, ErrorCodes.InternalServerError, `Simulator error: ${String(err)}`));
    }

    if (fault?.kind === 'slow') await sleep(fault.delayMs ?? 1000);
    if (fault?.kind === 'lostResponse') {
      // The work above is committed; the caller just never hears about it.
      log(0);
      req.socket.destroy();
      return;
    }
    if (res.destroyed) {
      log(0);
      return;
    }
    const payload = typeof reply.body === 'string' ? Buffer.from(reply.body, 'utf8') : reply.body;
    res.writeHead(reply.status, { ...reply.headers, 'content-length': String(payload.length) });
    res.end(payload);
    log(reply.status);
  }

  const server = createServer((req, res) => {
    handle(req, res).catch(() => {
      if (!res.headersSent) {
        res.writeHead(500);
        res.end();
      } else res.destroy();
    });
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  const displayHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  origin = `http://${displayHost}:${address.port}`;

  const sim: SpirisSimulator = {
    url: origin,
    apiBaseUrl: `${origin}/v2`,
    identityBaseUrl: `${origin}/identity`,
    clientId: clients[0]!.clientId,
    clientSecret: clients[0]!.clientSecret,
    companyId: companies[0]!.id,

    async approve(authorizeUrl, opts = {}) {
      const target = new URL(authorizeUrl);
      if (opts.companyId) target.searchParams.set('sim_company_id', opts.companyId);
      if (opts.deny) target.searchParams.set('sim_deny', '1');
      const res = await fetch(target, { redirect: 'manual' });
      const location = res.headers.get('location');
      if (res.status !== 302 || !location) {
        throw new Error(`authorize request failed with ${res.status}: ${await res.text()}`);
      }
      return location;
    },

    issueTokens(opts = {}) {
      return identity.issue(opts);
    },

    injectFault(f) {
      faults.push({ ...f, times: f.times ?? 1 });
    },

    clearFaults() {
      faults.length = 0;
    },

    setTime(time) {
      if (time === null) {
        clockOffset = 0;
        return;
      }
      const target =
        time instanceof Date ? time.getTime() : typeof time === 'number' ? time : Date.parse(time);
      if (Number.isNaN(target)) throw new Error(`invalid time ${String(time)}`);
      clockOffset = target - Date.now();
    },

    advanceTime(ms) {
      clockOffset += ms;
    },

    now,

    lockPeriod(companyId, throughDate) {
      if (!/^\d{4}-\d{2}-\d{2}$/.test(throughDate))
        throw new Error(`lockPeriod expects yyyy-mm-dd, got ${throughDate}`);
      const c = companyById(companyId);
      c.accountingLockedTo = throughDate;
      c.accountingLockInterval = 1;
    },

    get vouchers() {
      return companies.flatMap((c) =>
        c.vouchers.map((v) => ({
          ...structuredClone(v.api),
          companyId: c.id,
          fiscalYearId: v.fiscalYearId,
          number: v.number,
          attachmentIds: [...v.api.Attachments.AttachmentIds],
        })),
      );
    },

    get attachments() {
      return companies.flatMap((c) =>
        [...c.attachments.values()].map((a) => ({
          id: a.id,
          companyId: c.id,
          fileName: a.fileName,
          contentType: a.contentType,
          size: a.data.length,
          documentId: a.documentId,
        })),
      );
    },

    requestLog,

    get requestCount() {
      return requestCount;
    },

    close() {
      return new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeAllConnections();
      });
    },
  };
  return sim;
}

/** Starts the simulator for manual use and prints how to reach it; the server keeps the process alive. */
export async function runSpirisSimulatorCli(opts: {
  port?: number;
  accessTokenLifetimeSeconds?: number;
  log: (line: string) => void;
}): Promise<SpirisSimulator> {
  const sim = await startSpirisSimulator({
    port: opts.port ?? 0,
    ...(opts.accessTokenLifetimeSeconds
      ? { accessTokenLifetimeSeconds: opts.accessTokenLifetimeSeconds }
      : {}),
  });
  opts.log(`Visma Spiris simulator listening on ${sim.url}`);
  opts.log(`  API base URL:      ${sim.apiBaseUrl}`);
  opts.log(`  Identity base URL: ${sim.identityBaseUrl}`);
  opts.log(`  Authorize:         ${sim.identityBaseUrl}/connect/authorize`);
  opts.log(`  Token:             ${sim.identityBaseUrl}/connect/token`);
  opts.log(`  Client id:         ${sim.clientId}`);
  opts.log(`  Client secret:     ${sim.clientSecret}`);
  opts.log(`  Company:           ${DEFAULT_COMPANY_NAME} (${DEFAULT_ORG_NUMBER}), id ${sim.companyId}`);
  opts.log('  Redirect URIs:     any http://localhost or http://127.0.0.1 URL');
  opts.log(`  Access tokens:     valid ${opts.accessTokenLifetimeSeconds || 3600} s`);
  return sim;
}
