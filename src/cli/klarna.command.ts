import type { RegisterCommands } from './context.ts';

export const registerKlarnaCommands: RegisterCommands = (_program, _ctx) => {};
