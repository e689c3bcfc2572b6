// Seeded merchant data for the Klarna Settlements API simulator.
//
// This module is written from Klarna's documentation only and must not import product
// code: a fake that shares the client's code would share its mistakes.
//
// Conventions (the product's adopted reading of Klarna's docs):
// - every `amount` is an unsigned magnitude whose direction comes from its `type`, except
//   CORRECTION, which is signed;
// - totals are non-negative magnitudes except `fee_correction_amount`;
// - settlement = sale − return − reversal − fee − tax + fee_correction + commission − charge
//   + credit − repay − holdback + release + fee_refund + tax_refund + deposit, and ≥ 0.
//
// Scale: a merchant's payout headers (with totals) are computed once, but a payout's
// transactions are regenerated on demand from (seed, currency stream, payout index) and only
// a few payouts are kept in a small LRU cache. Each order draws from its own PRNG seeded by
// hashing (stream, payout, order index), so any order can be rebuilt without the rest.

export type SimCurrency = 'SEK' | 'EUR' | 'NOK' | 'DKK';
export type SimEnvironment = 'playground' | 'production';

export type SimTransactionType =
  | 'SALE'
  | 'FEE'
  | 'RETURN'
  | 'REVERSAL'
  | 'REVERSAL_MERCHANT_PROTECTION'
  | 'FEE_REFUND'
  | 'CORRECTION'
  | 'COMMISSION'
  | 'CHARGE'
  | 'CREDIT'
  | 'HOLDBACK'
  | 'RELEASE'
  | 'TAX';

export interface SimTotals {
  sale_amount: number;
  return_amount: number;
  reversal_amount: number;
  fee_amount: number;
  tax_amount: number;
  fee_correction_amount: number;
  fee_refund_amount: number;
  tax_refund_amount: number;
  commission_amount: number;
  charge_amount: number;
  credit_amount: number;
  holdback_amount: number;
  release_amount: number;
  repay_amount: number;
  deposit_amount: number;
  opening_debt_balance_amount: number;
  closing_debt_balance_amount: number;
  settlement_amount: number;
}

/** The totals that follow from a payout's transactions alone (no debt mechanics). */
export type SimTransactionTotals = Omit<
  SimTotals,
  | 'repay_amount'
  | 'deposit_amount'
  | 'opening_debt_balance_amount'
  | 'closing_debt_balance_amount'
  | 'settlement_amount'
>;

/** A payout exactly as the API serialises it (only fields of the OpenAPI `Payout` schema). */
export interface SimPayout {
  totals: SimTotals;
  payment_reference: string;
  payout_date: string;
  currency_code: SimCurrency;
  currency_code_of_registration_country: string;
  merchant_settlement_type: 'NET';
  merchant_id: string;
  transactions: string;
}

/** A transaction exactly as the API serialises it (only fields of the OpenAPI `Transaction` schema). */
export interface SimTransaction {
  type: SimTransactionType;
  detailed_type: string;
  amount: number;
  capture_id: string;
  order_id: string;
  short_order_id?: string;
  refund_id?: string;
  merchant_reference1?: string;
  sale_date: string;
  capture_date: string;
  payment_reference: string;
  payout: string;
  currency_code: SimCurrency;
  purchase_country: string;
  shipping_country?: string;
  vat_rate?: number;
  vat_amount?: number;
  tax_in_currency_of_registration_country?: number;
  currency_code_of_registration_country?: string;
  initial_payment_method_type?: string;
  initial_number_of_installments?: number;
  klarna_comment?: string;
  reversal_reference?: string;
}

export interface SimMerchantCredentials {
  merchantId: string;
  apiKey: string;
  /** The UUID shown next to the API key in the Merchant Portal. */
  username: string;
  environment: SimEnvironment;
}

export interface MerchantSpec {
  /** Everything about the merchant follows from this; default 1. */
  seed?: number;
  /** Default: `K` + 6 digits derived from the seed. */
  merchantId?: string;
  /** One payout per currency per payout day; default ['SEK']. */
  currencies?: SimCurrency[];
  /** UTC date of the first payout, `YYYY-MM-DD`; default 2026-01-01. */
  startDate?: string;
  /** Number of payout days (one payout per day and currency); default 90. */
  days?: number;
  /** Mean number of orders captured per payout; default 25 (≈ 3 transactions each). */
  ordersPerPayout?: number;
  /**
   * Payouts with exactly `transactions` lines (index into that currency's payouts; currency
   * defaults to the first). Used for >10,000-line payouts and the benchmark's 50,000.
   */
  largePayouts?: Array<{ index: number; transactions: number; currency?: SimCurrency }>;
  /**
   * Payout indices (in every currency) where returns exceed sales, so the payout is 0 and the
   * shortfall becomes debt. Default: one at 45 % of the range when days ≥ 10.
   */
  negativePayouts?: number[];
  /** Fixed credentials; by default they are derived from the seed (simulator keys are not secrets). */
  apiKey?: string;
  username?: string;
  /** Chooses the key prefix (`klarna_test_api_` / `klarna_live_api_`); default playground. */
  environment?: SimEnvironment;
  /** How many payouts' transactions stay materialised in memory; default 4. */
  cacheSize?: number;
}

export interface GenerateOptions {
  /** Base of the links in `transactions` / `payout`; default Klarna's playground URL. */
  apiBase?: string;
}

export interface SimMerchant {
  readonly merchantId: string;
  readonly seed: number;
  readonly currencies: readonly SimCurrency[];
  readonly credentials: SimMerchantCredentials;
  /** All payouts, ascending by payout_date (then currency). */
  readonly payouts: readonly SimPayout[];
  /** Total number of transactions over all payouts. */
  readonly transactionCount: number;
  payout(paymentReference: string): SimPayout | undefined;
  /** Number of transactions of a payout (0 if unknown) without generating them. */
  transactionCountFor(paymentReference: string): number;
  /** The payout's transactions (empty if unknown); the array is cached, do not mutate it. */
  transactionsFor(paymentReference: string): readonly SimTransaction[];
  /** Every payout's transactions in payout order, one payout at a time, bypassing the cache. */
  eachPayoutTransactions(): Generator<{ payout: SimPayout; transactions: SimTransaction[] }>;
}

export const DEFAULT_START_DATE = '2026-01-01';
export const DEFAULT_DAYS = 90;
export const DEFAULT_ORDERS_PER_PAYOUT = 25;
export const PLAYGROUND_API_BASE = 'https://api.playground.klarna.com/settlements/v1';
export const PRODUCTION_API_BASE = 'https://api.klarna.com/settlements/v1';

/** Fee VAT for a Swedish-registered merchant: 25 %, expressed like Klarna's `vat_rate` (hundredths of a percent). */
export const FEE_VAT_RATE = 2500;
const REGISTRATION_COUNTRY = 'SE';
const REGISTRATION_CURRENCY = 'SEK';

/**
 * The spec for the benchmark: 365 daily payouts, about 1,000,000 transactions in total, one
 * payout with exactly 50,000.
 */
export function benchmarkMerchantSpec(seed = 1): MerchantSpec {
  return {
    seed,
    days: 365,
    ordersPerPayout: 845,
    largePayouts: [{ index: 180, transactions: 50_000 }],
  };
}

// ---------------------------------------------------------------------------------------
// PRNG and hashing

/** mulberry32: tiny, fast, and good enough for test data. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function mix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Order-sensitive hash of four 32-bit integers. */
export function hash4(a: number, b: number, c: number, d: number): number {
  let h = 0x9747b28c;
  h = mix32(h ^ Math.imul(a | 0, 0xcc9e2d51));
  h = mix32(h ^ Math.imul(b | 0, 0x1b873593));
  h = mix32(h ^ Math.imul(c | 0, 0xcc9e2d51));
  h = mix32(h ^ Math.imul(d | 0, 0x1b873593));
  return h;
}

function hashString(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 0x01000193);
  return mix32(h);
}

const HEX = '0123456789abcdef';
const ALNUM_UPPER = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const BASE62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Inclusive on both ends. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }
  chars(alphabet: string, n: number): string {
    let s = '';
    for (let i = 0; i < n; i++) s += alphabet[Math.floor(this.next() * alphabet.length)];
    return s;
  }
  uuid(): string {
    let s = '';
    for (let i = 0; i < 32; i++) {
      let d = Math.floor(this.next() * 16);
      if (i === 12) d = 4;
      else if (i === 16) d = 8 | (d & 3);
      s += HEX[d];
      if (i === 7 || i === 11 || i === 15 || i === 19) s += '-';
    }
    return s;
  }
}

// ---------------------------------------------------------------------------------------
// Currency parameters

interface CurrencyParams {
  /** Median order value in minor units. */
  medianOrder: number;
  /** Klarna's fixed fee per purchase, minor units. */
  fixedFee: number;
  /** Percentage fee in basis points. */
  percentageFeeBp: number;
  /** Payment reminder charge, minor units. */
  reminderCharge: number;
  /** Late return fee, minor units. */
  lateReturnFee: number;
  /** Dispute fee, minor units. */
  disputeFee: number;
  /** SEK per unit, for `tax_in_currency_of_registration_country` (a fixed rate keeps it reproducible). */
  sekRate: number;
  countries: ReadonlyArray<readonly [country: string, weight: number]>;
}

const CURRENCIES: Record<SimCurrency, CurrencyParams> = {
  SEK: {
    medianOrder: 45_000,
    fixedFee: 395,
    percentageFeeBp: 299,
    reminderCharge: 6_000,
    lateReturnFee: 4_900,
    disputeFee: 25_000,
    sekRate: 1,
    countries: [
      ['SE', 0.9],
      ['NO', 0.03],
      ['DK', 0.03],
      ['FI', 0.02],
      ['DE', 0.02],
    ],
  },
  EUR: {
    medianOrder: 4_500,
    fixedFee: 35,
    percentageFeeBp: 299,
    reminderCharge: 500,
    lateReturnFee: 450,
    disputeFee: 2_500,
    sekRate: 11.1,
    countries: [
      ['FI', 0.55],
      ['DE', 0.35],
      ['NL', 0.05],
      ['AT', 0.05],
    ],
  },
  NOK: {
    medianOrder: 46_000,
    fixedFee: 395,
    percentageFeeBp: 299,
    reminderCharge: 6_000,
    lateReturnFee: 4_900,
    disputeFee: 25_000,
    sekRate: 0.98,
    countries: [['NO', 1]],
  },
  DKK: {
    medianOrder: 30_000,
    fixedFee: 250,
    percentageFeeBp: 299,
    reminderCharge: 4_000,
    lateReturnFee: 3_500,
    disputeFee: 17_500,
    sekRate: 1.49,
    countries: [['DK', 1]],
  },
};

const PAYMENT_METHODS = [
  'invoice',
  'invoice',
  'invoice',
  'direct_debit',
  'card',
  'card',
  'fixed_amount',
] as const;
const INSTALLMENTS = [3, 6, 12, 24] as const;

const vatOn = (fee: number): number => Math.round((fee * FEE_VAT_RATE) / 10_000);

// ---------------------------------------------------------------------------------------
// Planning: the cheap, sequential pass that fixes every payout's shape

const DAY_MS = 86_400_000;
const RETURN_WINDOW = 14;
/** Per mille of orders that get returned (by their own hash, so no order is returned twice). */
const RETURN_PERMILLE = 80;
/** Orders with a hash bucket below this are never chosen for events or forced returns. */
const EVENT_MIN_BUCKET = 100;
const EVENT_LOOKBACK = 30;
const HOLDBACK_RELEASE_AFTER = 30;

type EventKind =
  | 'protected_reversal'
  | 'reversal'
  | 'dispute_credit'
  | 'fee_refund'
  | 'correction_fixed'
  | 'correction_percentage'
  | 'commission'
  | 'charge'
  | 'late_return_fee'
  | 'holdback'
  | 'release';

const ORDER_EVENT_KINDS: readonly EventKind[] = [
  'protected_reversal',
  'reversal',
  'dispute_credit',
  'fee_refund',
  'fee_refund',
  'correction_fixed',
  'correction_percentage',
  'commission',
  'charge',
  'late_return_fee',
];

interface PlanEvent {
  kind: EventKind;
  /** Referenced order (payout index, order index); k < 0 for lines not tied to an order. */
  q: number;
  k: number;
  amount: number;
  /** For a release: the holdback it releases. */
  of?: PlanEvent;
}

interface StreamPlan {
  seed: number;
  currency: SimCurrency;
  params: CurrencyParams;
  streamIndex: number;
  days: number;
  payoutMs: number[];
  refs: string[];
  orders: Int32Array;
  /** Fee lines dropped from the last order of an exact-size payout (0–2). */
  dropFees: Int8Array;
  /** Orders in earlier payouts: makes merchant_reference1 a running order number. */
  orderBase: Float64Array;
  events: Map<number, PlanEvent[]>;
  forcedReturns: Map<number, Array<[q: number, k: number]>>;
}

function orderAmount(plan: StreamPlan, q: number, k: number, rng?: Rng): number {
  const r = rng ?? new Rng(hash4(plan.seed, q, k, 0x0dde));
  const median = plan.params.medianOrder / 100;
  let major = Math.round(Math.exp(Math.log(median) + 0.85 * r.normal()));
  major = Math.min(Math.max(major, Math.ceil(median / 20)), Math.round(median * 120));
  const style = r.float();
  let minor = 0;
  if (style < 0.6) major = major - (major % 10) + 9;
  else if (style < 0.8) minor = 50;
  else minor = r.int(0, 99);
  return major * 100 + minor;
}

const percentageFee = (plan: StreamPlan, amount: number): number =>
  Math.round((amount * plan.params.percentageFeeBp) / 10_000);

function bucket(plan: StreamPlan, q: number, k: number): number {
  return hash4(plan.seed, q, k, 0x7e7) % 1000;
}

/** The payout index in which order (q, k) is returned, and how much, or undefined. */
function hashReturn(plan: StreamPlan, q: number, k: number): { p: number; amount: number } | undefined {
  const h = hash4(plan.seed, q, k, 0x7e7);
  if (h % 1000 >= RETURN_PERMILLE) return undefined;
  const p = q + 1 + ((h >>> 10) % RETURN_WINDOW);
  if (p >= plan.days) return undefined;
  const full = ((h >>> 20) & 7) < 5;
  const amount = orderAmount(plan, q, k);
  if (full) return { p, amount };
  const fraction = 0.2 + (0.6 * ((h >>> 23) & 255)) / 255;
  return { p, amount: Math.max(1, Math.round(amount * fraction)) };
}

function countHashReturnsInto(plan: StreamPlan, p: number): number {
  let n = 0;
  for (let q = Math.max(0, p - RETURN_WINDOW); q < p; q++) {
    const orders = plan.orders[q]!;
    for (let k = 0; k < orders; k++) {
      const h = hash4(plan.seed, q, k, 0x7e7);
      if (h % 1000 < RETURN_PERMILLE && q + 1 + ((h >>> 10) % RETURN_WINDOW) === p) n++;
    }
  }
  return n;
}

function saleVolume(plan: StreamPlan, p: number): number {
  let sum = 0;
  for (let k = 0; k < plan.orders[p]!; k++) sum += orderAmount(plan, p, k);
  return sum;
}

function eventLines(kind: EventKind): number {
  return kind === 'protected_reversal' || kind === 'reversal' ? 2 : 1;
}

function formatIso(ms: number): string {
  return `${new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19)}Z`;
}

function parseStartDate(s: string): number {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s))
    throw new Error(`startDate must be YYYY-MM-DD, got ${JSON.stringify(s)}`);
  const ms = Date.parse(`${s}T00:00:00Z`);
  if (Number.isNaN(ms)) throw new Error(`startDate is not a valid date: ${s}`);
  return ms;
}

function buildPlan(
  spec: Required<Pick<MerchantSpec, 'seed' | 'days' | 'ordersPerPayout' | 'startDate'>> & {
    largePayouts: NonNullable<MerchantSpec['largePayouts']>;
    negativePayouts: number[];
    primaryCurrency: SimCurrency;
  },
  streamIndex: number,
  currency: SimCurrency,
  usedRefs: Set<string>,
): StreamPlan {
  const seed = hash4(spec.seed, streamIndex, hashString(currency), 0x5e77);
  const rng = new Rng(seed);
  const days = spec.days;
  const startMs = parseStartDate(spec.startDate);
  const plan: StreamPlan = {
    seed,
    currency,
    params: CURRENCIES[currency],
    streamIndex,
    days,
    payoutMs: [],
    refs: [],
    orders: new Int32Array(days),
    dropFees: new Int8Array(days),
    orderBase: new Float64Array(days),
    events: new Map(),
    forcedReturns: new Map(),
  };

  for (let p = 0; p < days; p++) {
    // Klarna initiates payouts early in the (UTC) morning; currencies go out a few minutes apart.
    plan.payoutMs.push(startMs + p * DAY_MS + (6 * 60 + streamIndex * 7 + rng.int(0, 50)) * 60_000);
    let ref: string;
    do ref = rng.chars(ALNUM_UPPER, 8);
    while (usedRefs.has(ref) || !/[A-Z]/.test(ref));
    usedRefs.add(ref);
    plan.refs.push(ref);
  }

  // Rare event kinds are scheduled, not left to chance, so every 30-day window shows each of them.
  const addEvent = (p: number, e: PlanEvent) => {
    const list = plan.events.get(p);
    if (list) list.push(e);
    else plan.events.set(p, [e]);
  };
  for (let base = 0; base < days; base += 30) {
    const last = Math.min(base + 29, days - 1);
    const first = base === 0 ? Math.min(3, last) : base;
    for (const kind of ORDER_EVENT_KINDS) {
      addEvent(rng.int(first, last), { kind, q: -1, k: -1, amount: 0 });
    }
    const holdbackAt = Math.min(base + rng.int(2, 9), last);
    const holdback: PlanEvent = { kind: 'holdback', q: holdbackAt, k: -1, amount: 0 };
    addEvent(holdbackAt, holdback);
    if (holdbackAt + HOLDBACK_RELEASE_AFTER < days) {
      addEvent(holdbackAt + HOLDBACK_RELEASE_AFTER, {
        kind: 'release',
        q: holdbackAt,
        k: -2,
        amount: 0,
        of: holdback,
      });
    }
  }

  const large = new Map<number, number>();
  for (const l of spec.largePayouts) {
    if ((l.currency ?? spec.primaryCurrency) === currency && l.index >= 0 && l.index < days) {
      large.set(l.index, l.transactions);
    }
  }
  const negative = new Set(spec.negativePayouts);
  const used = new Set<number>();
  const eligible = (q: number, k: number) =>
    bucket(plan, q, k) >= EVENT_MIN_BUCKET && !used.has(q * 1_000_000 + k);
  const pickOrder = (p: number, lookback: number): [number, number] | undefined => {
    if (p === 0) return undefined;
    for (let attempt = 0; attempt < 40; attempt++) {
      const q = rng.int(Math.max(0, p - lookback), p - 1);
      const n = plan.orders[q]!;
      if (n === 0) continue;
      const k = rng.int(0, n - 1);
      if (!eligible(q, k)) continue;
      used.add(q * 1_000_000 + k);
      return [q, k];
    }
    return undefined;
  };

  let base = 0;
  for (let p = 0; p < days; p++) {
    plan.orderBase[p] = base;

    const events = (plan.events.get(p) ?? []).filter((e) => {
      if (e.kind === 'holdback' || e.kind === 'release') return true;
      const ref = pickOrder(p, EVENT_LOOKBACK);
      if (!ref) return false;
      [e.q, e.k] = ref;
      return true;
    });
    if (events.length > 0) plan.events.set(p, events);
    else plan.events.delete(p);

    const target = large.get(p);
    if (target !== undefined) {
      const fixed = events.reduce((n, e) => n + eventLines(e.kind), 0) + countHashReturnsInto(plan, p);
      const forOrders = Math.max(0, target - fixed);
      const orders = Math.ceil(forOrders / 3);
      plan.orders[p] = orders;
      plan.dropFees[p] = orders * 3 - forOrders;
    } else if (negative.has(p) && p >= 2) {
      plan.orders[p] = 1;
      // Enough returns of earlier orders to exceed this payout's sales and more than a full
      // day's volume, so the debt takes more than one later payout to repay.
      const need = Math.round(2.3 * saleVolume(plan, p - 1)) + saleVolume(plan, p) + 1;
      const forced: Array<[number, number]> = [];
      let sum = 0;
      for (let attempt = 0; sum < need && attempt < 5_000; attempt++) {
        const ref = pickOrder(p, 10);
        if (!ref) continue;
        forced.push(ref);
        sum += orderAmount(plan, ref[0], ref[1]);
      }
      plan.forcedReturns.set(p, forced);
    } else {
      const mean = spec.ordersPerPayout;
      plan.orders[p] = Math.max(1, Math.round(mean * (0.65 + 0.7 * rng.float())));
    }
    base += plan.orders[p]!;

    for (const e of events) {
      const cp = plan.params;
      switch (e.kind) {
        case 'holdback': {
          // A rolling reserve of roughly 10 % of the day's sales, in whole currency units.
          const v = Math.round((0.1 * saleVolume(plan, e.q)) / 100) * 100;
          e.amount = Math.max(100, v);
          break;
        }
        case 'release':
          e.amount = e.of!.amount;
          break;
        case 'protected_reversal':
        case 'reversal':
        case 'dispute_credit':
          e.amount = orderAmount(plan, e.q, e.k);
          break;
        case 'fee_refund':
          e.amount = percentageFee(plan, orderAmount(plan, e.q, e.k));
          break;
        case 'correction_fixed':
          // The fixed fee was charged twice: credited back.
          e.amount = cp.fixedFee;
          break;
        case 'correction_percentage':
          // The percentage fee was under-charged: debited afterwards (a negative correction).
          e.amount = -Math.max(1, Math.round(percentageFee(plan, orderAmount(plan, e.q, e.k)) / 3));
          break;
        case 'commission':
          e.amount = Math.max(1, Math.round(orderAmount(plan, e.q, e.k) / 100));
          break;
        case 'charge':
          e.amount = cp.reminderCharge;
          break;
        case 'late_return_fee':
          e.amount = cp.lateReturnFee;
          break;
      }
    }
  }
  return plan;
}

// ---------------------------------------------------------------------------------------
// Lines of a payout

interface CoreLine {
  type: SimTransactionType;
  detailed: string;
  amount: number;
  vat?: number;
  /** Order reference; k < 0 means a line not tied to a real order (reserve, holdback). */
  q: number;
  k: number;
  capture: boolean;
  refund: boolean;
  sale?: boolean;
  comment?: string;
  dispute?: string;
}

function coreLines(plan: StreamPlan, p: number): CoreLine[] {
  const lines: CoreLine[] = [];
  const { fixedFee } = plan.params;
  const orders = plan.orders[p]!;
  const drop = plan.dropFees[p]!;
  for (let k = 0; k < orders; k++) {
    const amount = orderAmount(plan, p, k);
    lines.push({
      type: 'SALE',
      detailed: 'PURCHASE',
      amount,
      q: p,
      k,
      capture: true,
      refund: false,
      sale: true,
    });
    const fees = k === orders - 1 ? 2 - drop : 2;
    if (fees >= 1) {
      const pct = percentageFee(plan, amount);
      lines.push({
        type: 'FEE',
        detailed: 'PURCHASE_FEE_PERCENTAGE',
        amount: pct,
        vat: vatOn(pct),
        q: p,
        k,
        capture: true,
        refund: false,
      });
    }
    if (fees >= 2) {
      lines.push({
        type: 'FEE',
        detailed: 'PURCHASE_FEE_FIXED',
        amount: fixedFee,
        vat: vatOn(fixedFee),
        q: p,
        k,
        capture: true,
        refund: false,
      });
    }
  }

  for (let q = Math.max(0, p - RETURN_WINDOW); q < p; q++) {
    const n = plan.orders[q]!;
    for (let k = 0; k < n; k++) {
      const h = hash4(plan.seed, q, k, 0x7e7);
      if (h % 1000 >= RETURN_PERMILLE || q + 1 + ((h >>> 10) % RETURN_WINDOW) !== p) continue;
      const r = hashReturn(plan, q, k)!;
      lines.push({
        type: 'RETURN',
        detailed: 'PURCHASE_RETURN',
        amount: r.amount,
        q,
        k,
        capture: false,
        refund: true,
      });
    }
  }
  for (const [q, k] of plan.forcedReturns.get(p) ?? []) {
    const amount = orderAmount(plan, q, k);
    lines.push({ type: 'RETURN', detailed: 'PURCHASE_RETURN', amount, q, k, capture: false, refund: true });
  }

  for (const e of plan.events.get(p) ?? []) {
    const base = { q: e.q, k: e.k, capture: false, refund: false };
    switch (e.kind) {
      case 'protected_reversal': {
        // Merchant protection credits the order value net of consumer VAT (25 %).
        const dispute = disputeReference(plan, e, 'unauthorized_purchase');
        const net = Math.round(e.amount / 1.25);
        lines.push({
          ...base,
          type: 'REVERSAL',
          detailed: 'FRAUD_POLICY_CHARGE',
          amount: e.amount,
          refund: true,
          dispute,
        });
        lines.push({
          ...base,
          type: 'REVERSAL_MERCHANT_PROTECTION',
          detailed: 'FRAUD_POLICY_CREDIT_NET',
          amount: net,
          dispute,
        });
        break;
      }
      case 'reversal': {
        const dispute = disputeReference(plan, e, 'goods_not_received');
        const fee = plan.params.disputeFee;
        lines.push({
          ...base,
          type: 'REVERSAL',
          detailed: 'REVERSAL',
          amount: e.amount,
          refund: true,
          dispute,
        });
        lines.push({ ...base, type: 'FEE', detailed: 'DISPUTE_FEE', amount: fee, vat: vatOn(fee), dispute });
        break;
      }
      case 'dispute_credit':
        lines.push({
          ...base,
          type: 'CREDIT',
          detailed: 'CORRECTION_DISPUTE',
          amount: e.amount,
          dispute: disputeReference(plan, e, 'goods_not_received'),
          comment: 'Dispute closed in favour of the merchant',
        });
        break;
      case 'fee_refund':
        lines.push({
          ...base,
          type: 'FEE_REFUND',
          detailed: 'FEE_REFUND',
          amount: e.amount,
          vat: vatOn(e.amount),
        });
        break;
      case 'correction_fixed':
        lines.push({ ...base, type: 'CORRECTION', detailed: 'FIXED_FEE_CORRECTION_SE', amount: e.amount });
        break;
      case 'correction_percentage':
        lines.push({
          ...base,
          type: 'CORRECTION',
          detailed: 'PERCENTAGE_FEE_CORRECTION_SE',
          amount: e.amount,
        });
        break;
      case 'commission':
        lines.push({
          ...base,
          type: 'COMMISSION',
          detailed: 'PURCHASE_COMMISSION_PERCENTAGE',
          amount: e.amount,
        });
        break;
      case 'charge':
        lines.push({
          ...base,
          type: 'CHARGE',
          detailed: 'PAYMENT_REMINDER',
          amount: e.amount,
          comment: 'Payment reminder',
        });
        break;
      case 'late_return_fee':
        lines.push({
          ...base,
          type: 'FEE',
          detailed: 'LATE_RETURN_FEE',
          amount: e.amount,
          vat: vatOn(e.amount),
        });
        break;
      case 'holdback':
        lines.push({
          ...base,
          type: 'HOLDBACK',
          detailed: 'ROLLING_RESERVE',
          amount: e.amount,
          comment: `Rolling reserve ${formatIso(plan.payoutMs[e.q]!).slice(0, 10)}`,
        });
        break;
      case 'release':
        lines.push({
          ...base,
          type: 'RELEASE',
          detailed: 'ROLLING_RESERVE',
          amount: e.amount,
          comment: `Release of rolling reserve ${formatIso(plan.payoutMs[e.q]!).slice(0, 10)}`,
        });
        break;
    }
  }
  return lines;
}

function disputeReference(plan: StreamPlan, e: PlanEvent, category: string): string {
  const h1 = hash4(plan.seed, e.q, e.k, 0xd15);
  const h2 = hash4(plan.seed, e.q, e.k, 0xd16);
  const digits = String(100_000 + (h1 % 900_000)) + String(h2 % 1_000_000_000).padStart(9, '0');
  return `krn:klarna:eu1:dispute:${category}:${digits}`;
}

/** The totals that follow from a payout's transactions (no repay, deposit or debt balances). */
export function totalsFromTransactions(
  transactions: Iterable<Pick<SimTransaction, 'type' | 'amount' | 'vat_amount'>>,
): SimTransactionTotals {
  const t: SimTransactionTotals = {
    sale_amount: 0,
    return_amount: 0,
    reversal_amount: 0,
    fee_amount: 0,
    tax_amount: 0,
    fee_correction_amount: 0,
    fee_refund_amount: 0,
    tax_refund_amount: 0,
    commission_amount: 0,
    charge_amount: 0,
    credit_amount: 0,
    holdback_amount: 0,
    release_amount: 0,
  };
  for (const x of transactions) addLine(t, x.type, x.amount, x.vat_amount);
  return t;
}

function addLine(t: SimTransactionTotals, type: string, amount: number, vat: number | undefined): void {
  switch (type) {
    case 'SALE':
      t.sale_amount += amount;
      break;
    case 'RETURN':
      t.return_amount += amount;
      break;
    case 'REVERSAL':
      t.reversal_amount += amount;
      break;
    case 'REVERSAL_MERCHANT_PROTECTION':
      t.reversal_amount -= amount;
      break;
    case 'FEE':
      t.fee_amount += amount;
      t.tax_amount += vat ?? 0;
      break;
    case 'CORRECTION':
      t.fee_correction_amount += amount;
      break;
    case 'FEE_REFUND':
      t.fee_refund_amount += amount;
      t.tax_refund_amount += vat ?? 0;
      break;
    case 'COMMISSION':
      t.commission_amount += amount;
      break;
    case 'CHARGE':
      t.charge_amount += amount;
      break;
    case 'CREDIT':
      t.credit_amount += amount;
      break;
    case 'HOLDBACK':
      t.holdback_amount += amount;
      break;
    case 'RELEASE':
      t.release_amount += amount;
      break;
  }
}

/** The payout amount before any debt movement (may be negative). */
export function rawSettlement(t: SimTransactionTotals): number {
  return (
    t.sale_amount -
    t.return_amount -
    t.reversal_amount -
    t.fee_amount -
    t.tax_amount +
    t.fee_correction_amount +
    t.commission_amount -
    t.charge_amount +
    t.credit_amount -
    t.holdback_amount +
    t.release_amount +
    t.fee_refund_amount +
    t.tax_refund_amount
  );
}

/** The right-hand side of the settlement identity; equals `settlement_amount` for every payout. */
export function settlementFromTotals(t: SimTotals): number {
  return rawSettlement(t) - t.repay_amount + t.deposit_amount;
}

/**
 * Klarna's debt mechanics: a negative period pays out 0 and the shortfall becomes debt
 * (deposit); later payouts repay it before anything is paid out.
 */
export function applyDebt(t: SimTransactionTotals, openingDebt: number): SimTotals {
  const raw = rawSettlement(t);
  let repay = 0;
  let deposit = 0;
  if (raw < 0) deposit = -raw;
  else repay = Math.min(openingDebt, raw);
  return {
    ...t,
    repay_amount: repay,
    deposit_amount: deposit,
    opening_debt_balance_amount: openingDebt,
    closing_debt_balance_amount: openingDebt - repay + deposit,
    settlement_amount: raw - repay + deposit,
  };
}

// ---------------------------------------------------------------------------------------
// Materialising transactions

interface OrderIdentity {
  orderId: string;
  captureId: string;
  shortOrderId: string;
  reference1: string;
  saleDate: string;
  captureDate: string;
  purchaseCountry: string;
  shippingCountry: string;
  paymentMethod: string;
  installments?: number;
}

function orderIdentity(plan: StreamPlan, q: number, k: number): OrderIdentity {
  const rng = new Rng(hash4(plan.seed, q, k, 0x0dde));
  orderAmount(plan, q, k, rng); // keep the draw order identical to orderAmount's
  const orderId = rng.uuid();
  const captureId = rng.uuid();
  const shortOrderId = rng.chars(ALNUM_UPPER, 7);
  const captureMs = plan.payoutMs[q]! - DAY_MS * rng.int(1, 2) - rng.int(0, 20 * 3600) * 1000;
  const saleMs = captureMs - rng.int(0, 4 * 86_400) * 1000;
  const countries = plan.params.countries;
  let roll = rng.float();
  let purchaseCountry = countries[0]![0];
  for (const [c, w] of countries) {
    if (roll < w) {
      purchaseCountry = c;
      break;
    }
    roll -= w;
  }
  const shippingCountry = rng.chance(0.03) ? rng.pick(countries)[0] : purchaseCountry;
  const paymentMethod = rng.pick(PAYMENT_METHODS);
  const installments = paymentMethod === 'fixed_amount' ? rng.pick(INSTALLMENTS) : undefined;
  const number = 100_001 + plan.streamIndex * 10_000_000 + plan.orderBase[q]! + k;
  return {
    orderId,
    captureId,
    shortOrderId,
    reference1: String(number),
    saleDate: formatIso(saleMs),
    captureDate: formatIso(captureMs),
    purchaseCountry,
    shippingCountry,
    paymentMethod,
    ...(installments !== undefined ? { installments } : {}),
  };
}

function materialize(plan: StreamPlan, p: number, apiBase: string): SimTransaction[] {
  const lines = coreLines(plan, p);
  const ref = plan.refs[p]!;
  const payout = `${apiBase}/payouts/${ref}`;
  const currency = plan.currency;
  const orders = new Map<number, OrderIdentity>();
  const out: SimTransaction[] = new Array(lines.length);
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    let tx: SimTransaction;
    if (l.k >= 0) {
      const key = l.q * 1_000_000 + l.k;
      let o = orders.get(key);
      if (!o) {
        o = orderIdentity(plan, l.q, l.k);
        orders.set(key, o);
      }
      tx = {
        type: l.type,
        detailed_type: l.detailed,
        amount: l.amount,
        capture_id: l.capture ? o.captureId : '',
        order_id: o.orderId,
        short_order_id: o.shortOrderId,
        merchant_reference1: o.reference1,
        sale_date: o.saleDate,
        capture_date: o.captureDate,
        payment_reference: ref,
        payout,
        currency_code: currency,
        purchase_country: o.purchaseCountry,
        shipping_country: o.shippingCountry,
      };
      if (l.refund) tx.refund_id = new Rng(hash4(plan.seed, l.q, l.k, 0x4ef + p)).uuid();
      if (l.sale) {
        tx.initial_payment_method_type = o.paymentMethod;
        if (o.installments !== undefined) tx.initial_number_of_installments = o.installments;
      }
    } else {
      // Reserve movements belong to no order, yet the schema requires an order_id and dates.
      const rng = new Rng(hash4(plan.seed, l.q, l.k, 0x5717));
      const date = formatIso(plan.payoutMs[l.q]! - DAY_MS);
      tx = {
        type: l.type,
        detailed_type: l.detailed,
        amount: l.amount,
        capture_id: '',
        order_id: rng.uuid(),
        sale_date: date,
        capture_date: date,
        payment_reference: ref,
        payout,
        currency_code: currency,
        purchase_country: REGISTRATION_COUNTRY,
      };
    }
    if (l.vat !== undefined) {
      tx.vat_rate = FEE_VAT_RATE;
      tx.vat_amount = l.vat;
      tx.tax_in_currency_of_registration_country = Math.round(l.vat * plan.params.sekRate);
      tx.currency_code_of_registration_country = REGISTRATION_CURRENCY;
    }
    if (l.comment !== undefined) tx.klarna_comment = l.comment;
    if (l.dispute !== undefined) tx.reversal_reference = l.dispute;
    out[i] = tx;
  }
  return out;
}

// ---------------------------------------------------------------------------------------
// Merchant

function credentialsFor(
  seed: number,
  merchantId: string,
  env: SimEnvironment,
  spec: MerchantSpec,
): SimMerchantCredentials {
  const rng = new Rng(hash4(seed, hashString(merchantId), env === 'production' ? 2 : 1, 0xc4ed));
  const username = spec.username ?? rng.uuid();
  const prefix = env === 'production' ? 'klarna_live_api_' : 'klarna_test_api_';
  const apiKey = spec.apiKey ?? prefix + rng.chars(BASE62, 48);
  return { merchantId, apiKey, username, environment: env };
}

export function defaultMerchantId(seed: number): string {
  return `K${String(100_000 + (hash4(seed, 0x3e, 0x1d, 0) % 900_000))}`;
}

/** Builds a merchant from a spec; deterministic for a given spec. */
export function generateMerchant(spec: MerchantSpec = {}, options: GenerateOptions = {}): SimMerchant {
  const seed = spec.seed ?? 1;
  const days = spec.days ?? DEFAULT_DAYS;
  if (!Number.isInteger(days) || days < 1) throw new Error(`days must be a positive integer, got ${days}`);
  const currencies: SimCurrency[] =
    spec.currencies && spec.currencies.length > 0 ? [...spec.currencies] : ['SEK'];
  for (const c of currencies) {
    if (!(c in CURRENCIES)) throw new Error(`unsupported currency ${c}`);
  }
  if (new Set(currencies).size !== currencies.length) throw new Error('currencies must be distinct');
  const merchantId = spec.merchantId ?? defaultMerchantId(seed);
  const environment = spec.environment ?? 'playground';
  const apiBase = (
    options.apiBase ?? (environment === 'production' ? PRODUCTION_API_BASE : PLAYGROUND_API_BASE)
  ).replace(/\/+$/, '');
  const planSpec = {
    seed,
    days,
    ordersPerPayout: spec.ordersPerPayout ?? DEFAULT_ORDERS_PER_PAYOUT,
    startDate: spec.startDate ?? DEFAULT_START_DATE,
    largePayouts: spec.largePayouts ?? [],
    negativePayouts: spec.negativePayouts ?? (days >= 10 ? [Math.floor(days * 0.45)] : []),
    primaryCurrency: currencies[0]!,
  };

  const usedRefs = new Set<string>();
  const plans = currencies.map((c, i) => buildPlan(planSpec, i, c, usedRefs));

  interface Entry {
    payout: SimPayout;
    plan: StreamPlan;
    index: number;
    count: number;
  }
  const entries: Entry[] = [];
  for (const plan of plans) {
    let debt = 0;
    for (let p = 0; p < days; p++) {
      const lines = coreLines(plan, p);
      const sums = totalsFromTransactions(
        lines.map((l) => ({ type: l.type, amount: l.amount, vat_amount: l.vat })),
      );
      const totals = applyDebt(sums, debt);
      debt = totals.closing_debt_balance_amount;
      const ref = plan.refs[p]!;
      entries.push({
        plan,
        index: p,
        count: lines.length,
        payout: {
          totals,
          payment_reference: ref,
          payout_date: formatIso(plan.payoutMs[p]!),
          currency_code: plan.currency,
          currency_code_of_registration_country: REGISTRATION_CURRENCY,
          merchant_settlement_type: 'NET',
          merchant_id: merchantId,
          transactions: `${apiBase}/transactions?payment_reference=${ref}`,
        },
      });
    }
  }
  entries.sort(
    (a, b) =>
      a.payout.payout_date.localeCompare(b.payout.payout_date) || a.plan.streamIndex - b.plan.streamIndex,
  );
  const byRef = new Map(entries.map((e) => [e.payout.payment_reference, e]));
  const transactionCount = entries.reduce((n, e) => n + e.count, 0);

  const cacheSize = Math.max(1, spec.cacheSize ?? 4);
  const cache = new Map<string, SimTransaction[]>();

  return {
    merchantId,
    seed,
    currencies,
    credentials: credentialsFor(seed, merchantId, environment, spec),
    payouts: entries.map((e) => e.payout),
    transactionCount,
    payout: (ref) => byRef.get(ref)?.payout,
    transactionCountFor: (ref) => byRef.get(ref)?.count ?? 0,
    transactionsFor(ref) {
      const hit = cache.get(ref);
      if (hit) {
        cache.delete(ref);
        cache.set(ref, hit);
        return hit;
      }
      const e = byRef.get(ref);
      if (!e) return [];
      const txs = materialize(e.plan, e.index, apiBase);
      cache.set(ref, txs);
      while (cache.size > cacheSize) cache.delete(cache.keys().next().value!);
      return txs;
    },
    *eachPayoutTransactions() {
      for (const e of entries) {
        yield {
          payout: e.payout,
          transactions: cache.get(e.payout.payment_reference) ?? materialize(e.plan, e.index, apiBase),
        };
      }
    },
  };
}
