import { InvalidArgumentError } from 'commander';

// Option parsers shared by the long-running commands: a typo fails before anything starts.

export function parsePort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535)
    throw new InvalidArgumentError('a port is an integer 0–65535');
  return n;
}

export function parseMinutes(value: string): number {
  const n = Number(value);
  if (!Number.isFinite(n) || n <= 0 || n > 7 * 24 * 60)
    throw new InvalidArgumentError('minutes between syncs, more than 0 and at most 10080');
  return n;
}
