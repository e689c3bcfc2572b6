import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { enableProcessMetrics, processRegistry } from '../service/metrics.ts';
import type { RunnerStatus } from '../service/scheduler.ts';

/**
 * /metrics and /healthz of a worker, which has no admin server: this process's counters
 * (upstream requests, jobs by queue and outcome, Node's own). Numbers the database
 * knows (payouts by state, last success) are on serve's /metrics, once for the fleet.
 */
export async function startWorkerMetrics(
  opts: { port: number; host: string },
  status: () => Pick<RunnerStatus, 'state'>,
): Promise<{ url: string; close(): Promise<void> }> {
  enableProcessMetrics();
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET') {
      res.writeHead(405).end();
    } else if (path === '/metrics') {
      processRegistry.metrics().then(
        (body) => res.writeHead(200, { 'content-type': processRegistry.contentType }).end(body),
        () => res.writeHead(500).end(),
      );
    } else if (path === '/healthz') {
      const state = status().state;
      res
        .writeHead(state === 'running' ? 200 : 503, { 'content-type': 'application/json' })
        .end(JSON.stringify({ status: state === 'running' ? 'ok' : state }));
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as AddressInfo;
  return {
    url: `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${address.port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
