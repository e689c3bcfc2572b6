import type { Kysely } from 'kysely';
import { type ApiTokenRecord, insertApiToken } from '../../store/admin.repository.ts';
import { recordEvent } from '../../store/events.repository.ts';
import type { Database } from '../../store/schema.ts';
import { apiTokenHint, generateApiToken, sha256Hex } from './tokens.ts';

/**
 * Mints a token, stores only its hash and returns the clear value once. Shared by the
 * admin page and `klarna-spiris admin token create`.
 */
export async function createApiToken(
  db: Kysely<Database>,
  name: string,
  createdBy: string,
): Promise<{ token: string; record: ApiTokenRecord }> {
  const token = generateApiToken();
  const record = await insertApiToken(db, {
    name,
    tokenHash: sha256Hex(token),
    hint: apiTokenHint(token),
    createdBy,
  });
  await recordEvent(db, {
    actor: createdBy,
    kind: 'admin.token_created',
    message: `API token "${name}" (${record.hint}) created`,
  });
  return { token, record };
}
