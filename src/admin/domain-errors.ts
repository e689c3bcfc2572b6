import { KlarnaConnectRefusedError } from '../klarna/connect.service.ts';
import { KlarnaNotConnectedError } from '../klarna/klarna.connection.ts';
import {
  KlarnaAuthenticationError,
  KlarnaConnectionError,
  KlarnaError,
  KlarnaServerError,
} from '../klarna/klarna.errors.ts';
import { MappingRejectedError } from '../setup/mapping-settings.ts';
import { SpirisConnectRefusedError } from '../setup/spiris-connect.ts';
import { InvalidOrgNumberError, SpirisTenantMismatchError } from '../setup/spiris-tenant.ts';
import { SpirisCompanyChangeRefusedError } from '../spiris/connect.service.ts';
import { SpirisAuthorizationCallbackError } from '../spiris/oauth.ts';
import {
  SpirisConnectionError,
  SpirisError,
  SpirisOAuthError,
  SpirisServerError,
} from '../spiris/spiris.errors.ts';
import { InvalidSettingsError } from '../sync/integration-settings.ts';
import { ReversalRefusedError } from '../sync/reverse.service.ts';
import { SyncRefusedError } from '../sync/sync-context.ts';
import { ApiError } from './errors.ts';

// The domain's refusals as HTTP answers, in one place, so the API and the pages agree
// on what a refusal is (409: not now, 422: not like this, 502: the other side failed).
// Domain messages are written for the merchant and never hold a secret, so they pass
// through unchanged.

/** The error to answer with, or undefined for an unexpected error (a 500, logged). */
export function domainApiError(err: unknown): ApiError | undefined {
  if (err instanceof ApiError) return err;
  const message = (err as Error)?.message ?? String(err);
  if (
    err instanceof SyncRefusedError ||
    err instanceof ReversalRefusedError ||
    err instanceof KlarnaConnectRefusedError ||
    err instanceof SpirisConnectRefusedError ||
    err instanceof SpirisTenantMismatchError ||
    err instanceof SpirisCompanyChangeRefusedError ||
    err instanceof KlarnaNotConnectedError
  ) {
    return new ApiError(409, 'conflict', message);
  }
  if (err instanceof MappingRejectedError || err instanceof InvalidSettingsError) {
    return new ApiError(422, 'unprocessable', message);
  }
  if (err instanceof InvalidOrgNumberError) {
    return new ApiError(422, 'unprocessable', message, { field: 'orgNumber' });
  }
  // Klarna refusing the key is an answer about the request, not an outage.
  if (err instanceof KlarnaAuthenticationError) return new ApiError(422, 'unprocessable', message);
  if (err instanceof KlarnaConnectionError || err instanceof KlarnaServerError) {
    return new ApiError(502, 'upstream_error', message);
  }
  if (err instanceof KlarnaError) return new ApiError(422, 'unprocessable', message);
  if (err instanceof SpirisAuthorizationCallbackError || err instanceof SpirisOAuthError) {
    return new ApiError(422, 'unprocessable', message);
  }
  if (err instanceof SpirisConnectionError || err instanceof SpirisServerError) {
    return new ApiError(502, 'upstream_error', message);
  }
  if (err instanceof SpirisError) return new ApiError(422, 'unprocessable', message);
  return undefined;
}

/** Runs a domain call and turns its refusals into ApiErrors; anything else propagates. */
export async function asApi<T>(run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (err) {
    throw domainApiError(err) ?? err;
  }
}
