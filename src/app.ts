import { join } from 'node:path';
import pino, { type Logger } from 'pino';
import type { AppConfig } from './config.ts';
import { AesGcmSealer, type CredentialSealer, loadOrCreateSecretKey } from './setup/credentials.ts';
import { DEFAULT_SQLITE_PATH, openStore, type Store } from './store/db.ts';

/** Everything a command or the service needs, wired in one place. */
export interface App {
  readonly config: AppConfig;
  readonly store: Store;
  readonly sealer: CredentialSealer;
  readonly logger: Logger;
  close(): Promise<void>;
}

export interface AppOverrides {
  store?: Store;
  logger?: Logger;
  sealer?: CredentialSealer;
}

export async function createApp(config: AppConfig, overrides: AppOverrides = {}): Promise<App> {
  const logger =
    overrides.logger ??
    pino({ level: config.logLevel, base: undefined }, pino.destination({ fd: 2, sync: true }));
  const sealer =
    overrides.sealer ??
    new AesGcmSealer(
      loadOrCreateSecretKey({ envKey: config.secretKey, keyFile: join(config.dataDir, 'secret.key') }),
    );
  const store =
    overrides.store ??
    (await openStore({
      databaseUrl: config.databaseUrl,
      onPoolError: (err) => logger.warn({ err: err.message }, 'database connection dropped; reconnecting'),
      sqlitePath: config.databaseUrl
        ? undefined
        : join(config.dataDir, DEFAULT_SQLITE_PATH.split('/').pop()!),
    }));
  return {
    config,
    store,
    sealer,
    logger,
    async close() {
      if (!overrides.store) await store.close();
    },
  };
}
