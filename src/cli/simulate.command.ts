import type { RegisterCommands } from './context.ts';

export const registerSimulateCommands: RegisterCommands = (_program, _ctx) => {};
