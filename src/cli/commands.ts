import { registerConnectCommands } from './connect.command.ts';
import type { RegisterCommands } from './context.ts';
import { registerKlarnaCommands } from './klarna.command.ts';
import { registerServeCommands } from './serve.command.ts';
import { registerSetupCommands } from './setup.command.ts';
import { registerSimulateCommands } from './simulate.command.ts';
import { registerSpirisCommands } from './spiris.command.ts';
import { registerSyncCommands } from './sync.command.ts';
import { registerWorkerCommands } from './worker.command.ts';

export const COMMAND_GROUPS: RegisterCommands[] = [
  registerKlarnaCommands,
  registerConnectCommands,
  registerSpirisCommands,
  registerSimulateCommands,
  registerServeCommands,
  registerSetupCommands,
  registerSyncCommands,
  registerWorkerCommands,
];
