import { randomUUID } from 'node:crypto';

export const newId = (): string => randomUUID();
export const nowIso = (clock: () => Date = () => new Date()): string => clock().toISOString();
