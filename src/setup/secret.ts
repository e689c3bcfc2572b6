import { inspect } from 'node:util';

/**
 * A clear-text secret held in memory. It prints only its masked form, so passing one
 * to a logger, an error message or JSON output cannot leak it; `reveal()` is the one
 * deliberate way out, used where the secret goes on the wire.
 */
export class Secret {
  readonly #value: string;
  constructor(value: string) {
    this.#value = value;
  }
  reveal(): string {
    return this.#value;
  }
  get masked(): string {
    return maskSecret(this.#value);
  }
  toString(): string {
    return this.masked;
  }
  toJSON(): string {
    return this.masked;
  }
  [inspect.custom](): string {
    return `Secret(${this.masked})`;
  }
}

/**
 * Keeps a recognisable prefix (klarna_test_api_) and the last three characters, the
 * way the Merchant Portal shows keys, so a user can tell two keys apart.
 */
export function maskSecret(value: string): string {
  const prefix = /^(klarna_(?:live|test)_api_)/.exec(value)?.[1] ?? '';
  if (value.length - prefix.length <= 6) return `${prefix}…`;
  return `${prefix}…${value.slice(-3)}`;
}
