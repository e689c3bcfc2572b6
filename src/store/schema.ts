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
  reconciled: number | null;
  reconciliation_json: string | null;
  state: string;
  state_reason: string | null;
  voucher_id: string | null;
  voucher_number: string | null;
  fetched_at: string;
  updated_at: string;
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
  raw_json: string;
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

export interface Database {
  integrations: IntegrationTable;
  connections: ConnectionTable;
  klarna_payouts: KlarnaPayoutTable;
  klarna_transactions: KlarnaTransactionTable;
  sync_runs: SyncRunTable;
  events: EventTable;
}
