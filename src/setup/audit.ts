import { userInfo } from 'node:os';
import type { Kysely } from 'kysely';
import { type EventRecord, listEvents } from '../store/events.repository.ts';
import type { Database } from '../store/schema.ts';

// The audit log is the event table: who (actor), when (at), what (kind, message, data).
// Setup changes are recorded with the acting person, so "who switched this to live?"
// has an answer.

/** `cli:<os user>`: the person at the terminal, as far as the machine knows. */
export function cliActor(env: NodeJS.ProcessEnv = process.env): string {
  let user = env.USER || env.USERNAME || env.LOGNAME;
  if (!user) {
    try {
      user = userInfo().username;
    } catch {
      user = undefined;
    }
  }
  return user ? `cli:${user}` : 'cli';
}

export const DEFAULT_AUDIT_LIMIT = 50;
export const MAX_AUDIT_LIMIT = 1000;

export async function readAuditLog(
  db: Kysely<Database>,
  opts: { integrationId?: string; limit?: number } = {},
): Promise<EventRecord[]> {
  const limit = Math.min(MAX_AUDIT_LIMIT, Math.max(1, opts.limit ?? DEFAULT_AUDIT_LIMIT));
  return listEvents(db, { ...(opts.integrationId ? { integrationId: opts.integrationId } : {}), limit });
}

export function formatAuditLine(
  e: EventRecord,
  integrationNames: ReadonlyMap<string, string> = new Map(),
): string {
  const where = e.integrationId ? (integrationNames.get(e.integrationId) ?? e.integrationId) : '-';
  return `${e.at}  ${e.actor.padEnd(14)} ${where.padEnd(12)} ${e.kind.padEnd(26)} ${e.message}`;
}
