import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { parseAuthorizationCallback, SpirisAuthorizationCallbackError } from './oauth.ts';

// A one-shot HTTP listener on the redirect URI's local port: the browser lands here
// after the merchant approves access in Visma, and the code goes straight to the CLI.

export interface CallbackServer {
  /** Resolves with the authorization code once a callback with the right state arrives. */
  readonly code: Promise<string>;
  close(): Promise<void>;
}

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

/** True when the redirect URI points at this machine over plain HTTP, so we can listen for it. */
export function isLocalRedirectUri(redirectUri: string): boolean {
  try {
    const u = new URL(redirectUri);
    return u.protocol === 'http:' && LOCAL_HOSTS.has(u.hostname);
  } catch {
    return false;
  }
}

export async function startCallbackServer(opts: {
  redirectUri: string;
  state: string;
  timeoutMs: number;
  /** Told about callbacks that were ignored (wrong path or state), for the terminal. */
  onIgnored?: (reason: string) => void;
}): Promise<CallbackServer> {
  const target = new URL(opts.redirectUri);
  const port = Number(target.port || 80);
  // "localhost" may resolve to ::1 or 127.0.0.1 depending on the browser; listen on both.
  const hosts =
    target.hostname === 'localhost' ? ['127.0.0.1', '::1'] : [target.hostname.replace(/^\[|\]$/g, '')];

  let settle: { resolve(code: string): void; reject(err: Error): void } | undefined;
  const code = new Promise<string>((resolve, reject) => {
    settle = { resolve, reject };
  });
  // A rejection nobody awaited yet (timeout before the caller awaits) must not crash the process.
  code.catch(() => undefined);

  const servers: Server[] = [];
  const page = (title: string, text: string) =>
    `<!doctype html><html><head><meta charset="utf-8"><title>${title}</title></head>` +
    `<body style="font-family:sans-serif;margin:3em"><h1>${title}</h1><p>${text}</p></body></html>`;

  const handler = (req: IncomingMessage, res: ServerResponse): void => {
    const url = new URL(req.url ?? '/', opts.redirectUri);
    if (req.method !== 'GET' || url.pathname !== target.pathname) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
      return;
    }
    try {
      const { code: value } = parseAuthorizationCallback(url, opts.state);
      res
        .writeHead(200, { 'content-type': 'text/html; charset=utf-8' })
        .end(
          page(
            'Connected',
            'klarna-spiris received the authorization. You can close this window and return to the terminal.',
          ),
        );
      settle?.resolve(value);
    } catch (err) {
      const message = (err as Error).message;
      res
        .writeHead(400, { 'content-type': 'text/html; charset=utf-8' })
        .end(page('Not connected', escapeHtml(message)));
      // A wrong state is someone else's (or an old tab's) callback: keep waiting for ours.
      if (/different state/.test(message)) {
        opts.onIgnored?.(message);
        return;
      }
      settle?.reject(err instanceof Error ? err : new SpirisAuthorizationCallbackError(message));
    }
  };

  for (const host of hosts) {
    const server = createServer(handler);
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(port, host, () => {
          server.off('error', reject);
          resolve();
        });
      });
      servers.push(server);
    } catch (err) {
      const codeName = (err as NodeJS.ErrnoException).code;
      // A machine without IPv6 simply has no ::1 to listen on.
      if (host === '::1' && (codeName === 'EADDRNOTAVAIL' || codeName === 'EAFNOSUPPORT')) continue;
      await Promise.all(servers.map(closeServer));
      if (codeName === 'EADDRINUSE') {
        throw new SpirisAuthorizationCallbackError(
          `Port ${port} (from the redirect URI ${opts.redirectUri}) is already in use; free it or register another redirect URI.`,
        );
      }
      throw err;
    }
  }

  const timer = setTimeout(() => {
    settle?.reject(
      new SpirisAuthorizationCallbackError(
        `No authorization arrived at ${opts.redirectUri} within ${Math.round(opts.timeoutMs / 1000)} s; run the command again.`,
      ),
    );
  }, opts.timeoutMs);
  timer.unref();

  return {
    code,
    async close() {
      clearTimeout(timer);
      await Promise.all(servers.map(closeServer));
    },
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections?.();
  });
}

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}
