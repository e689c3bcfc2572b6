import { readFileSync } from 'node:fs';
import { createContext, runInContext } from 'node:vm';

// The browser's key check (assets/klarna-key.js), run here too: the page names a
// refused key's problem with the same words whether the browser caught it while typing
// or the server on submit. validateKlarnaCredentials still decides.

export type KlarnaKeyCode =
  | 'ok'
  | 'empty'
  | 'whitespace'
  | 'quotes'
  | 'edges'
  | 'line_break'
  | 'inner_space'
  | 'legacy_username'
  | 'uuid'
  | 'prefix_case'
  | 'not_a_key'
  | 'incomplete';

export const KLARNA_KEY_CODES: readonly KlarnaKeyCode[] = [
  'ok',
  'empty',
  'whitespace',
  'quotes',
  'edges',
  'line_break',
  'inner_space',
  'legacy_username',
  'uuid',
  'prefix_case',
  'not_a_key',
  'incomplete',
];

export interface KlarnaKeyCheck {
  code: KlarnaKeyCode;
  environment: 'production' | 'playground' | null;
}

let loaded: ((key: string) => KlarnaKeyCheck) | undefined;

export function klarnaKeyCheck(key: string): KlarnaKeyCheck {
  if (!loaded) {
    const source = readFileSync(new URL('./assets/klarna-key.js', import.meta.url), 'utf8');
    const sandbox: { klarnaKeyCheck?: (key: string) => KlarnaKeyCheck } = {};
    const context = createContext(sandbox);
    // The script publishes its check on globalThis, which is the sandbox here.
    runInContext(source, context);
    if (typeof sandbox.klarnaKeyCheck !== 'function') throw new Error('klarna-key.js did not load');
    loaded = sandbox.klarnaKeyCheck;
  }
  const r = loaded(key);
  return { code: r.code, environment: r.environment };
}
