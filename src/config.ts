import { z } from 'zod';

// Parsed once at start-up; every invalid variable is reported in one error so a
// half-configured install fails before it touches any books.
const EnvSchema = z.object({
  DATABASE_URL: z.string().optional(),
  KLARNA_SPIRIS_DATA_DIR: z.string().default('./data'),
  KLARNA_SPIRIS_SECRET_KEY: z.string().optional(),
  KLARNA_SPIRIS_LOG_LEVEL: z
    .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
    .default('info'),
});

export interface AppConfig {
  readonly databaseUrl: string | undefined;
  readonly dataDir: string;
  readonly secretKey: string | undefined;
  readonly logLevel: string;
}

/** Checks `env` against `schema`, reporting every invalid variable in one error. */
export function parseEnv<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const parsed = schema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    throw new Error(`Invalid environment: ${lines.join('; ')}`);
  }
  return parsed.data;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const e = parseEnv(EnvSchema, env);
  return Object.freeze({
    databaseUrl: e.DATABASE_URL || undefined,
    dataDir: e.KLARNA_SPIRIS_DATA_DIR,
    secretKey: e.KLARNA_SPIRIS_SECRET_KEY || undefined,
    logLevel: e.KLARNA_SPIRIS_LOG_LEVEL,
  });
}
