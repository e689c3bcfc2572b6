import { describe, expect, it } from 'vitest';
import { GUIDE_LOCALES, renderGuideText, SETUP_GUIDE } from './guide.ts';

describe('the setup guide', () => {
  it('has the five Klarna and five Spiris steps of the issue, then going live', () => {
    expect(SETUP_GUIDE.map((s) => s.id)).toEqual(['klarna', 'spiris', 'go-live']);
    expect(SETUP_GUIDE[0]!.steps.map((s) => s.id)).toEqual([
      'klarna.get-credentials',
      'klarna.find-key',
      'klarna.save-securely',
      'klarna.confirm-environment',
      'klarna.paste-key',
    ]);
    expect(SETUP_GUIDE[1]!.steps.map((s) => s.id)).toEqual([
      'spiris.confirm-setup',
      'spiris.confirm-auth',
      'spiris.credentials',
      'spiris.add-credentials',
      'spiris.verify-non-production',
    ]);
  });

  it('says every title and body in English and in Swedish', () => {
    const texts = SETUP_GUIDE.flatMap((s) => [
      s.title,
      s.intro,
      ...s.steps.flatMap((st) => [st.title, st.body]),
    ]);
    for (const t of texts) {
      for (const locale of GUIDE_LOCALES) expect(t[locale].trim().length).toBeGreaterThan(3);
      expect(t.sv).not.toBe(t.en);
    }
    const ids = SETUP_GUIDE.flatMap((s) => s.steps.map((st) => st.id));
    expect(new Set(ids).size).toBe(ids.length);
  });

  it('names the key format, the UUID username, test before live, and the commands', () => {
    const en = renderGuideText('en');
    expect(en).toContain('klarna_live_api_');
    expect(en).toContain('klarna_test_api_');
    expect(en).toMatch(/UUID/);
    expect(en).toContain('$ klarna-spiris klarna connect');
    expect(en).toContain('$ klarna-spiris test');
    expect(en).toContain('$ klarna-spiris mode live --confirm');
    expect(renderGuideText('sv')).toMatch(/^1\. Anslut Klarna/);
  });

  it('tells what cash mode assumes before anyone picks it', () => {
    const step = SETUP_GUIDE[2]!.steps.find((s) => s.id === 'go-live.posting-mode')!;
    expect(step.command).toBe('klarna-spiris mapping set postingMode cash');
    expect(step.body.en).toMatch(/one VAT rate per purchase country/);
    expect(step.body.en).toMatch(/mixed rates \(food 12 %, books 6 %\) should keep clearing/);
    expect(step.body.sv).toMatch(/en momssats per köpland/);
    const steps = SETUP_GUIDE[2]!.steps.map((s) => s.id);
    expect(steps.indexOf('go-live.posting-mode')).toBeLessThan(steps.indexOf('go-live.preview'));
  });

  it('is frozen, so a renderer cannot change it for everyone', () => {
    expect(Object.isFrozen(SETUP_GUIDE[0]!.steps[0]!.title)).toBe(true);
  });
});
