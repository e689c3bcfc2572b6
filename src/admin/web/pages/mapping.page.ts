import type { FastifyRequest } from 'fastify';
import {
  BOOKED_TOTALS,
  type BookingMapping,
  DEFAULT_BOOKING_MAPPING,
  FEE_GROUP_TEXT,
  FEE_GROUPS,
  TOTAL_RULES,
} from '../../../booking/mapping.ts';
import { InvalidSettingsError, parseIntegrationSettings } from '../../../sync/integration-settings.ts';
import { html, path, type SafeHtml } from '../html.ts';
import { csrfInput } from '../layout.ts';
import type { IntegrationSection } from '../sections.ts';
import { checkboxField, field, notice, noticeFromQuery, selectField } from '../views.ts';

// The account mapping: which account each part of a payout is booked to, with the
// account's name from the company's chart beside it (and a list to pick from). Only
// what differs from the default BAS mapping is stored.

/** Currencies offered for a foreign bank account; any already mapped are added. */
const FOREIGN_CURRENCIES = ['EUR', 'NOK', 'DKK', 'USD', 'GBP'];

export interface MappingState {
  error: string;
  /** Mapping path (accounts.fee_amount) → message. */
  fieldErrors: Record<string, string>;
  /** What was submitted, to show again. */
  submitted: Record<string, string>;
}

type Form = Record<string, string>;

const inputId = (key: string) => `map-${key.replace(/[^A-Za-z0-9]+/g, '-')}`;

/** The submitted form as a mapping document for BookingMappingSchema; blank means "the default". */
export function mappingFromForm(form: Form): Record<string, unknown> {
  const v = (k: string) => (form[k] ?? '').trim();
  const accounts: Record<string, string> = {};
  for (const total of BOOKED_TOTALS) if (v(`accounts.${total}`)) accounts[total] = v(`accounts.${total}`);
  const foreign: Record<string, string> = {};
  for (const [k, value] of Object.entries(form)) {
    const m = /^foreign\.([A-Z]{3})$/.exec(k);
    if (m && value.trim()) foreign[m[1]!] = value.trim();
  }
  const feeSplit: Record<string, unknown> = { enabled: v('feeSplit.enabled') === 'yes' };
  for (const g of FEE_GROUPS) if (v(`feeSplit.${g}`)) feeSplit[g] = v(`feeSplit.${g}`);
  const countries: Record<string, unknown> = {};
  for (let i = 0; i < 20; i++) {
    const country = v(`cash.${i}.country`).toUpperCase();
    if (!country) continue;
    countries[country] = {
      vatRatePercent: v(`cash.${i}.vatRatePercent`),
      revenueAccount: v(`cash.${i}.revenueAccount`),
      vatAccount: v(`cash.${i}.vatAccount`),
    };
  }
  const limit = v('fxRoundingLimitMinor');
  return {
    postingMode: v('postingMode') || 'clearing',
    ...(v('bankAccount') ? { bankAccount: v('bankAccount') } : {}),
    foreignBankAccounts: foreign,
    accounts,
    ...(v('fxRoundingAccount') ? { fxRoundingAccount: v('fxRoundingAccount') } : {}),
    ...(limit ? { fxRoundingLimitMinor: /^\d+$/.test(limit) ? Number(limit) : limit } : {}),
    feeSplit,
    cashMethod: { countries },
  };
}

function accountField(
  request: FastifyRequest,
  o: {
    key: string;
    label: string;
    hint?: string;
    value: string | undefined;
    names: Record<string, string>;
    error?: string;
  },
): SafeHtml {
  const t = request.t;
  const id = inputId(o.key);
  const name = o.value ? o.names[o.value] : undefined;
  const known = Object.keys(o.names).length > 0;
  return field({
    id,
    name: o.key,
    label: o.label,
    hint: o.hint,
    value: o.value ?? '',
    error: o.error,
    maxlength: 10,
    describedBy: [`${id}-name`],
    className: 'field-account',
    attrs: html`inputmode="numeric" autocomplete="off" list="chart-accounts" data-account-input`,
    after: html`<span class="account-name ${o.value && known && !name ? 'account-unknown' : ''}" id="${id}-name" aria-live="polite">${
      name ?? (o.value && known ? t('mapping.unknownAccount') : '')
    }</span>`,
  });
}

export const mappingSection: IntegrationSection = {
  id: 'mapping',
  label: (t) => t('tab.mapping'),
  async render(sc) {
    const { request, integration, admin } = sc;
    const t = request.t;
    const state = sc.state as MappingState | undefined;
    let mapping: BookingMapping;
    let settingsProblem: string | null = null;
    try {
      mapping = parseIntegrationSettings(integration.name, integration.settings).mapping;
    } catch (err) {
      if (!(err instanceof InvalidSettingsError)) throw err;
      settingsProblem = err.message;
      mapping = DEFAULT_BOOKING_MAPPING;
    }
    const lookup = await admin.accountNames.lookup(integration);
    const names = lookup.names;
    const sub = state?.submitted;
    const value = (key: string, current: string | undefined) => (sub ? sub[key] : current);
    const err = (key: string) => state?.fieldErrors[key];
    const acc = (key: string, label: string, current: string | undefined, hint?: string) =>
      accountField(request, { key, label, hint, value: value(key, current), names, error: err(key) });
    const currencies = [...new Set([...FOREIGN_CURRENCIES, ...Object.keys(mapping.foreignBankAccounts)])];
    const cashRows = [...Object.entries(mapping.cashMethod.countries), ['', undefined] as const];
    const side = (s: 'debit' | 'credit') => t(s === 'debit' ? 'mapping.side.debit' : 'mapping.side.credit');

    return html`${noticeFromQuery(request, {
      saved: { key: 'mapping.notice.saved' },
      unchanged: { key: 'mapping.notice.unchanged', kind: 'info' },
    })}
      ${state ? notice('error', state.error) : ''}
      ${settingsProblem ? notice('error', settingsProblem) : ''}
      ${lookup.problem ? notice('info', t('mapping.noNames', { reason: lookup.problem })) : ''}
      <p class="lead">${t('mapping.intro')}</p>
      <datalist id="chart-accounts" data-unknown="${t('mapping.unknownAccount')}">${Object.entries(names)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(
          ([n, label]) => html`<option value="${n}" label="${label}" data-name="${label}"></option>`,
        )}</datalist>
      <form method="post" action="${path('/integrations', integration.id, 'mapping')}" class="mapping-form" novalidate>
        ${csrfInput(request)}
        <fieldset class="card">
          <legend>${t('mapping.mode.title')}</legend>
          ${selectField({
            id: 'map-postingMode',
            name: 'postingMode',
            label: t('mapping.mode.label'),
            hint: t('mapping.mode.hint'),
            value: value('postingMode', mapping.postingMode),
            error: err('postingMode'),
            options: [
              { value: 'clearing', label: t('mapping.mode.clearing') },
              { value: 'cash', label: t('mapping.mode.cash') },
            ],
          })}
          ${
            // Stronger once cash is the mode in effect: its limits then apply to real payouts.
            (value('postingMode', mapping.postingMode) ?? 'clearing') === 'cash'
              ? notice('info', t('mapping.mode.cashNote'))
              : html`<p class="hint" id="map-postingMode-cash">${t('mapping.mode.cashNote')}</p>`
          }
        </fieldset>
        <fieldset class="card">
          <legend>${t('mapping.bank.title')}</legend>
          <div class="account-grid">
            ${acc('bankAccount', t('mapping.bank.sek'), mapping.bankAccount, side('debit'))}
            ${currencies.map((c) =>
              acc(`foreign.${c}`, t('mapping.bank.foreign', { currency: c }), mapping.foreignBankAccounts[c]),
            )}
          </div>
          <p class="hint">${t('mapping.bank.foreignHint')}</p>
        </fieldset>
        <fieldset class="card">
          <legend>${t('mapping.totals.title')}</legend>
          <p class="hint">${t('mapping.totals.hint')}</p>
          <div class="account-grid">
            ${BOOKED_TOTALS.map((total) =>
              acc(
                `accounts.${total}`,
                TOTAL_RULES[total].text,
                mapping.accounts[total],
                `${total} · ${side(TOTAL_RULES[total].side)}`,
              ),
            )}
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>${t('mapping.fees.title')}</legend>
          ${checkboxField({
            id: 'map-feeSplit-enabled',
            name: 'feeSplit.enabled',
            label: t('mapping.fees.enabled'),
            hint: t('mapping.fees.hint'),
            checked: sub ? sub['feeSplit.enabled'] === 'yes' : mapping.feeSplit.enabled,
          })}
          <div class="account-grid">
            ${FEE_GROUPS.map((g) => acc(`feeSplit.${g}`, FEE_GROUP_TEXT[g], mapping.feeSplit[g]))}
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>${t('mapping.fx.title')}</legend>
          <div class="account-grid">
            ${acc('fxRoundingAccount', t('mapping.fx.account'), mapping.fxRoundingAccount)}
            ${field({
              id: 'map-fxRoundingLimitMinor',
              name: 'fxRoundingLimitMinor',
              label: t('mapping.fx.limit'),
              hint: t('mapping.fx.limitHint'),
              value: value('fxRoundingLimitMinor', String(mapping.fxRoundingLimitMinor)),
              error: err('fxRoundingLimitMinor'),
              maxlength: 4,
              attrs: html`inputmode="numeric"`,
            })}
          </div>
        </fieldset>
        <fieldset class="card">
          <legend>${t('mapping.cash.title')}</legend>
          <p class="hint">${t('mapping.cash.hint')}</p>
          <div class="table-wrap"><table class="cash-table">
            <caption class="visually-hidden">${t('mapping.cash.title')}</caption>
            <thead><tr>
              <th scope="col">${t('mapping.cash.country')}</th>
              <th scope="col">${t('mapping.cash.rate')}</th>
              <th scope="col">${t('mapping.cash.revenue')}</th>
              <th scope="col">${t('mapping.cash.vat')}</th>
            </tr></thead>
            <tbody>${cashRows.map(([country, c], i) => {
              const cell = (name: string, current: string | undefined, label: string, max: number) =>
                html`<td><input type="text" name="cash.${i}.${name}" aria-label="${label} ${country || t('mapping.cash.new')}"
                  value="${value(`cash.${i}.${name}`, current) ?? ''}" maxlength="${max}"
                  ${name === 'country' ? html`autocapitalize="characters"` : html`inputmode="decimal"`}></td>`;
              return html`<tr>
                ${cell('country', country || undefined, t('mapping.cash.country'), 2)}
                ${cell('vatRatePercent', c?.vatRatePercent, t('mapping.cash.rate'), 8)}
                ${cell('revenueAccount', c?.revenueAccount, t('mapping.cash.revenue'), 10)}
                ${cell('vatAccount', c?.vatAccount, t('mapping.cash.vat'), 10)}
              </tr>`;
            })}</tbody>
          </table></div>
        </fieldset>
        <p class="form-actions"><button type="submit" class="btn btn-primary">${t('mapping.save')}</button></p>
      </form>`;
  },
};
