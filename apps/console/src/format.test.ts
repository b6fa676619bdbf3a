import { describe, expect, it } from 'vitest';
import { formatters } from './format.ts';

describe('console formatting', () => {
  it('shows money from minor units in the currency and language of the page', () => {
    expect(formatters('es').money(174_058, 'MXN')).toBe('$1,740.58');
    expect(formatters('en').money(174_058, 'MXN')).toBe('MX$1,740.58');
    expect(formatters('en').money(1_500, 'JPY')).toBe('¥1,500');
    // es-MX names foreign currencies by code, with a no-break space.
    expect(formatters('es').money(-250, 'USD')).toBe('-USD\u00a02.50');
  });

  it('reads amounts as the operator types them, into minor units', () => {
    const es = formatters('es');
    expect(es.parseMoney('1,500.50', 'MXN')).toBe(150_050);
    expect(es.parseMoney(' 1500 ', 'MXN')).toBe(150_000);
    expect(es.parseMoney('1500', 'JPY')).toBe(1_500);
    expect(es.parseMoney('1.005', 'KWD')).toBe(1_005);
    expect(es.parseMoney('doce', 'MXN')).toBeNull();
    expect(es.parseMoney('', 'MXN')).toBeNull();
  });

  it('formats dates per language, and a missing one as a dash', () => {
    const at = '2026-11-26T15:00:00Z';
    expect(formatters('es').date(at)).toMatch(/26 nov 2026/);
    expect(formatters('en').date(at)).toBe('Nov 26, 2026');
    expect(formatters('en').date(null)).toBe('—');
    expect(formatters('en').dateTime('not a date')).toBe('—');
  });
});
