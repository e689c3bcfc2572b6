import type { Generated } from 'kysely';

// Row types as the database holds them: snake_case, timestamps as ISO-8601 text,
// booleans as 0/1 and money as integer minor units, so SQLite and PostgreSQL agree.

export interface IntegrationTable {
  id: string;
  name: string;
  mode: 'off' | 'test' | 'live';
  klarna_connection_id: string | null;
  spiris_connection_id: string | null;
  settings_json: string;
  status: string;
  status_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface ConnectionTable {
  id: string;
  kind: 'klarna' | 'spiris';
  environment: string;
  config_json: string;
  /** Opaque output of the credential port; never the clear secret. */
  secret_sealed: string | null;
  /** Masked form for display, e.g. klarna_test_api_…X9z. */
  secret_hint: string | null;
  /** Bumped on every secret write so concurrent refreshers can detect a lost race. */
  secret_version: number;
  external_id: string | null;
  external_name: string | null;
  status: string;
  status_reason: string | null;
  created_at: string;
  updated_at: string;
}

export interface KlarnaPayoutTable {
  id: string;
  integration_id: string;
  merchant_id: string;
  payment_reference: string;
  payout_date: string;
  currency_code: string;
  merchant_settlement_type: string;
  settlement_amount: number;
  totals_json: string;
  raw_json: string;
  transaction_count: number | null;
  transactions_complete: number;
  unknown_types_json: string | null;
  /** Migration 070; NULL on payouts reconciled before it, read as none. */
  unknown_detailed_types_json: string | null;
  reconciled: number | null;
  reconciliation_json: string | null;
  state: string;
  state_reason: string | null;
  voucher_id: string | null;
  voucher_number: string | null;
  fetched_at: string;
  updated_at: string;
  // Booking (migration 020).
  generation: Generated<number>;
  plan_json: string | null;
  failures_json: string | null;
  fiscal_year_id: string | null;
  booked_at: string | null;
  /** none | pending | attached */
  attachment_state: Generated<string>;
  attachment_id: string | null;
  attachment_error: string | null;
  attachment_attempts: Generated<number>;
}

/** One voucher POST that was decided on: written before the POST, resolved after it. */
export interface VoucherIntentTable {
  id: string;
  payout_id: string;
  kind: 'book' | 'reverse';
  generation: number;
  status: 'pending' | 'done' | 'rejected' | 'abandoned';
  voucher_date: string;
  marker: string;
  voucher_json: string;
  attempts: number;
  spiris_voucher_id: string | null;
  voucher_number: string | null;
  fiscal_year_id: string | null;
  error: string | null;
  created_at: string;
  updated_at: string;
}

/** Who is syncing an integration right now; absent or expired means nobody. */
export interface SyncLeaseTable {
  integration_id: string;
  holder: string;
  purpose: string;
  acquired_at: string;
  expires_at: string;
}

/** A cross-process claim on a connection (migration 080): the SQLite token-refresh lease. */
export interface ConnectionLeaseTable {
  connection_id: string;
  holder: string;
  acquired_at: string;
  expires_at: string;
}

/** A token bucket of a rate budget shared across worker processes (migration 050). */
export interface RateBucketTable {
  key: string;
  tokens: number;
  /** Epoch milliseconds, from the database's clock. */
  updated_ms: number;
}

export interface KlarnaTransactionTable {
  payout_id: string;
  seq: number;
  payment_reference: string;
  type: string;
  detailed_type: string | null;
  amount: number;
  currency_code: string;
  order_id: string | null;
  capture_id: string | null;
  refund_id: string | null;
  short_order_id: string | null;
  merchant_reference1: string | null;
  merchant_reference2: string | null;
  purchase_country: string | null;
  vat_rate: number | null;
  vat_amount: number | null;
  sale_date: string | null;
  capture_date: string | null;
  known_type: number;
  /**
   * The line's fields no typed column holds as sent (migration 060), as a JSON object;
   * `[object, [names]]` when a column was filled in for a field the line lacked.
   * Rebuild the line with transactionLine(), never by reading this alone.
   */
  extra_json: string;
}

export interface SyncRunTable {
  id: string;
  integration_id: string | null;
  kind: string;
  status: 'running' | 'succeeded' | 'failed';
  started_at: string;
  finished_at: string | null;
  summary_json: string | null;
  error: string | null;
}

export interface EventTable {
  id: Generated<number>;
  integration_id: string | null;
  at: string;
  actor: string;
  kind: string;
  message: string;
  data_json: string | null;
}

export interface AdminUserTable {
  id: string;
  username: string;
  password_hash: string;
  created_at: string;
  updated_at: string;
}

export interface AdminSessionTable {
  id_hash: string;
  user_id: string;
  csrf_token: string;
  created_at: string;
  last_seen_at: string;
  expires_at: string;
  ip: string | null;
  user_agent: string | null;
}

export interface ApiTokenTable {
  id: string;
  name: string;
  token_hash: string;
  hint: string;
  created_by: string;
  created_at: string;
  last_used_at: string | null;
  revoked_at: string | null;
}

export interface Database {
  integrations: IntegrationTable;
  connections: ConnectionTable;
  klarna_payouts: KlarnaPayoutTable;
  klarna_transactions: KlarnaTransactionTable;
  sync_runs: SyncRunTable;
  events: EventTable;
  admin_users: AdminUserTable;
  admin_sessions: AdminSessionTable;
  api_tokens: ApiTokenTable;
  voucher_intents: VoucherIntentTable;
  sync_leases: SyncLeaseTable;
  rate_buckets: RateBucketTable;
  connection_leases: ConnectionLeaseTable;
}
