import { describe, expect, it } from 'vitest';
import { tabAfterKey } from './tabs.tsx';

const TABS = ['invoices', 'payments', 'plans', 'reports'] as const;

describe('arrow keys in a tab list', () => {
  it('moves to the next and previous tab, wrapping at both ends', () => {
    expect(tabAfterKey(TABS, 'invoices', 'ArrowRight')).toBe('payments');
    expect(tabAfterKey(TABS, 'reports', 'ArrowRight')).toBe('invoices');
    expect(tabAfterKey(TABS, 'payments', 'ArrowLeft')).toBe('invoices');
    expect(tabAfterKey(TABS, 'invoices', 'ArrowLeft')).toBe('reports');
  });

  it('jumps to the first and last tab with Home and End', () => {
    expect(tabAfterKey(TABS, 'plans', 'Home')).toBe('invoices');
    expect(tabAfterKey(TABS, 'payments', 'End')).toBe('reports');
  });

  it('leaves other keys to the browser', () => {
    expect(tabAfterKey(TABS, 'plans', 'Enter')).toBeUndefined();
    expect(tabAfterKey(TABS, 'plans', 'ArrowDown')).toBeUndefined();
  });
});
