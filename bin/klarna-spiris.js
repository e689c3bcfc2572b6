#!/usr/bin/env node
// The sources run directly through tsx, so `npm ci` is the only install step and the
// command never runs a stale build.
import { register } from 'tsx/esm/api';

register();
const { main } = await import('../src/cli/main.ts');
process.exitCode = await main(process.argv.slice(2));
