import { describe, expect, it } from 'vitest';
import { keywordOf } from './keywords.ts';

describe('opt-out keywords', () => {
  it('compares the whole message without case, accents, or the punctuation and emoji around it', () => {
    expect(keywordOf('  ¡Baja! ')).toBe('BAJA');
    expect(keywordOf('stop.')).toBe('STOP');
    expect(keywordOf('🛑 STOP 🛑')).toBe('STOP');
    expect(keywordOf('Cancelar   suscripción')).toBe(keywordOf('CANCELAR SUSCRIPCION'));
  });

  it('leaves a longer message as it is, so a keyword inside it does not match', () => {
    expect(keywordOf('no me des de baja')).toBe('NO ME DES DE BAJA');
    expect(keywordOf('¿baja?')).toBe('BAJA');
    expect(keywordOf('')).toBe('');
  });
});
