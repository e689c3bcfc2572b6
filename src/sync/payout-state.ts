// The payout life cycle as data, so every allowed move is visible in one place and
// anything else is refused before it can touch the books.
//
//   discovered → ready → posting → booked → reversing → reversed → ready
//        │         │        │                  │
//        └──► needs_attention ◄┘               └→ booked (reversal refused or found absent)
//   skipped: excluded by the user, reason kept; can be taken back to ready.

export const PAYOUT_STATES = [
  'discovered',
  'ready',
  'posting',
  'booked',
  'needs_attention',
  'skipped',
  'reversing',
  'reversed',
] as const;
export type PayoutState = (typeof PAYOUT_STATES)[number];

export const PAYOUT_TRANSITIONS: ReadonlyArray<{ from: PayoutState; to: PayoutState; why: string }> = [
  { from: 'discovered', to: 'ready', why: 'fetched, reconciled and every gate passed' },
  { from: 'discovered', to: 'needs_attention', why: 'a gate failed' },
  { from: 'discovered', to: 'skipped', why: 'excluded by the user' },
  { from: 'ready', to: 'posting', why: 'intent recorded before the voucher POST' },
  { from: 'ready', to: 'needs_attention', why: 'a gate failed on re-check' },
  { from: 'ready', to: 'skipped', why: 'excluded by the user' },
  { from: 'ready', to: 'discovered', why: 'transactions refetched' },
  { from: 'posting', to: 'booked', why: 'Spiris confirmed the voucher, or the lookup found it' },
  { from: 'posting', to: 'ready', why: 'the lookup proved no voucher exists; safe to post again' },
  { from: 'posting', to: 'needs_attention', why: 'Spiris refused the voucher' },
  { from: 'needs_attention', to: 'ready', why: 'the cause is gone, or a manual retry' },
  { from: 'needs_attention', to: 'discovered', why: 'transactions refetched' },
  { from: 'needs_attention', to: 'skipped', why: 'excluded by the user' },
  { from: 'skipped', to: 'ready', why: 'included again by the user' },
  { from: 'booked', to: 'reversing', why: 'reversal intent recorded before the POST' },
  { from: 'reversing', to: 'reversed', why: 'the reversing voucher is in Spiris' },
  { from: 'reversing', to: 'booked', why: 'the reversal was refused or proved absent' },
  { from: 'reversed', to: 'ready', why: 'booked again under the current rules' },
  { from: 'reversed', to: 'needs_attention', why: 'a gate failed when booking again' },
];

const allowed = new Set(PAYOUT_TRANSITIONS.map((t) => `${t.from}>${t.to}`));

export function canTransition(from: PayoutState, to: PayoutState): boolean {
  return allowed.has(`${from}>${to}`);
}

export class InvalidTransitionError extends Error {
  constructor(
    readonly from: string,
    readonly to: string,
  ) {
    super(`A payout cannot move from ${from} to ${to}.`);
    this.name = 'InvalidTransitionError';
  }
}

export function assertTransition(from: PayoutState, to: PayoutState): void {
  if (!canTransition(from, to)) throw new InvalidTransitionError(from, to);
}

/** States the sync engine may pick up by itself; the rest wait for a person or are final. */
export const WORKABLE_STATES: readonly PayoutState[] = [
  'discovered',
  'ready',
  'posting',
  'needs_attention',
  'reversing',
];
