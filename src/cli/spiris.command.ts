import type { RegisterCommands } from './context.ts';

export const registerSpirisCommands: RegisterCommands = (_program, _ctx) => {};
