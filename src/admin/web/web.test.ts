import { describe, expect, it } from 'vitest';
import { formatDateTime, formatMoney } from './format.ts';
import { html, trusted } from './html.ts';
import { translator } from './i18n.ts';
import { defaultSections, mergeSections } from './sections.ts';

const NBSP = /[\u00a0\u202f]/g;

describe('html', () => {
  it('escapes every interpolated value unless it is already markup', () => {
    const name = `<script>alert("x")</script>&'`;
    const out = html`<p title="${name}">${name}${trusted('<b>ok</b>')}${[1, html`<i>${'<'}</i>`]}${null}</p>`;
    expect(out.toString()).toBe(
      '<p title="&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;">' +
        '&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;<b>ok</b>1<i>&lt;</i></p>',
    );
  });
});

describe('formatMoney', () => {
  it('formats minor units for sv-SE without floating point', () => {
    expect(formatMoney(123456, 'SEK').replace(NBSP, ' ')).toBe('1 234,56 kr');
    expect(formatMoney(-4250, 'SEK').replace(NBSP, ' ')).toBe('−42,50 kr');
    expect(formatMoney(5, 'EUR').replace(NBSP, ' ')).toBe('0,05 €');
    // 2^63-1 öre: far past 2^53, still exact.
    expect(formatMoney(9223372036854775807n, 'SEK').replace(NBSP, ' ')).toBe('92 233 720 368 547 758,07 kr');
  });

  it('respects currencies without minor units', () => {
    expect(formatMoney(1500, 'JPY').replace(NBSP, ' ')).toMatch(/^1 500 (JPY|¥|JP¥)$/);
  });
});

describe('formatDateTime', () => {
  it('shows Swedish local time', () => {
    expect(formatDateTime('2026-06-30T22:30:00Z')).toBe('2026-07-01 00:30');
    expect(formatDateTime(null)).toBe('—');
  });
});

describe('i18n', () => {
  it('translates with variables and falls back to Swedish', () => {
    expect(translator('en')('login.tooMany', { minutes: 15 })).toBe(
      'Too many failed login attempts. Wait 15 minutes and try again.',
    );
    expect(translator('sv')('nav.integrations')).toBe('Integrationer');
  });
});

describe('sections', () => {
  it('replaces a placeholder by id and appends new sections', () => {
    const mapping = { id: 'mapping', label: () => 'Mapping', render: () => html`real` };
    const extra = { id: 'vat', label: () => 'VAT', render: () => html`vat` };
    const merged = mergeSections(defaultSections(), [mapping, extra]);
    expect(merged.map((s) => s.id)).toEqual([
      'overview',
      'setup',
      'connections',
      'mapping',
      'preview',
      'go-live',
      'payouts',
      'runs',
      'events',
      'vat',
    ]);
    expect(merged[3]).toBe(mapping);
  });
});
