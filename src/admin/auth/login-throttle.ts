export interface ThrottleLimit {
  /** Failed attempts allowed within the window before further attempts are refused. */
  max: number;
  windowMs: number;
}

export interface LoginThrottleLimits {
  perIp: ThrottleLimit;
  /** Across all addresses, so a guesser spreading over many IPs still hits a wall. */
  global: ThrottleLimit;
}

export const DEFAULT_LOGIN_LIMITS: LoginThrottleLimits = {
  perIp: { max: 5, windowMs: 15 * 60_000 },
  global: { max: 50, windowMs: 15 * 60_000 },
};

export type ThrottleDecision = { allowed: true } | { allowed: false; retryAfterMs: number };

interface Window {
  start: number;
  failures: number;
}

// Tracked IPs are capped so a flood of spoofed addresses cannot grow memory without
// bound; the global window still applies when old entries are dropped.
const MAX_TRACKED_IPS = 10_000;

/**
 * Counts failed logins in fixed windows, per IP and overall. In memory on purpose: one
 * process serves the admin UI, and a restart forgetting the counts is harmless next to
 * a database write on every failed attempt.
 */
export class LoginThrottle {
  readonly #byIp = new Map<string, Window>();
  #global: Window = { start: 0, failures: 0 };

  constructor(
    readonly limits: LoginThrottleLimits = DEFAULT_LOGIN_LIMITS,
    private readonly now: () => number = Date.now,
  ) {}

  check(ip: string): ThrottleDecision {
    const t = this.now();
    const waits: number[] = [];
    const own = this.#byIp.get(ip);
    if (own && t - own.start < this.limits.perIp.windowMs && own.failures >= this.limits.perIp.max) {
      waits.push(own.start + this.limits.perIp.windowMs - t);
    }
    const g = this.#global;
    if (t - g.start < this.limits.global.windowMs && g.failures >= this.limits.global.max) {
      waits.push(g.start + this.limits.global.windowMs - t);
    }
    return waits.length === 0 ? { allowed: true } : { allowed: false, retryAfterMs: Math.max(...waits) };
  }

  recordFailure(ip: string): void {
    const t = this.now();
    if (t - this.#global.start >= this.limits.global.windowMs) this.#global = { start: t, failures: 0 };
    this.#global.failures++;
    let own = this.#byIp.get(ip);
    if (!own || t - own.start >= this.limits.perIp.windowMs) {
      this.#byIp.delete(ip);
      own = { start: t, failures: 0 };
      this.#byIp.set(ip, own);
      this.#prune();
    }
    own.failures++;
  }

  recordSuccess(ip: string): void {
    this.#byIp.delete(ip);
  }

  #prune(): void {
    // Map iteration is insertion order, so the oldest windows go first.
    for (const ip of this.#byIp.keys()) {
      if (this.#byIp.size <= MAX_TRACKED_IPS) break;
      this.#byIp.delete(ip);
    }
  }
}
