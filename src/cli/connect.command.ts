import type { RegisterCommands } from './context.ts';

export const registerConnectCommands: RegisterCommands = (_program, _ctx) => {};
