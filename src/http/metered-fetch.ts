import { recordUpstreamCall, type Upstream, type UpstreamOutcome } from '../service/metrics.ts';

type Fetch = (input: string | URL, init?: RequestInit) => Promise<Response>;

function outcomeOf(status: number): UpstreamOutcome {
  if (status === 429) return 'rate_limited';
  if (status >= 500) return 'server_error';
  if (status >= 400) return 'client_error';
  return 'ok';
}

/**
 * A fetch that counts every call (each retry included) in the process metrics, so an
 * operator sees upstream trouble at /metrics before a merchant notices. Only the
 * outcome, the status and the time are recorded: never a URL, a header or a body.
 */
export function meteredFetch<F extends Fetch>(upstream: Upstream, inner: F): F {
  const wrapped = async (input: string | URL, init?: RequestInit): Promise<Response> => {
    const started = performance.now();
    try {
      const response = await inner(input, init);
      recordUpstreamCall(upstream, outcomeOf(response.status), {
        durationMs: performance.now() - started,
        code: response.status,
      });
      return response;
    } catch (err) {
      const name = err instanceof Error ? err.name : 'Error';
      const timedOut = name === 'TimeoutError' || name === 'AbortError';
      recordUpstreamCall(upstream, timedOut ? 'timeout' : 'network_error', {
        durationMs: performance.now() - started,
        code: name,
      });
      throw err;
    }
  };
  return wrapped as F;
}
