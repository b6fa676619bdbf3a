import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, resolveConfig } from 'prettier';
import { describe, expect, it } from 'vitest';
import { configReference } from '../apps/mic/src/commands/config-reference.ts';

const DOC = join(import.meta.dirname, '..', 'docs', 'configuration.md');

describe('the configuration reference', () => {
  it('is what `mic config` prints today (run `node apps/mic/src/main.ts config > docs/configuration.md` after a change)', async () => {
    const options = { ...(await resolveConfig(DOC)), parser: 'markdown' };
    expect(await format(readFileSync(DOC, 'utf8'), options)).toBe(await format(configReference(), options));
  });

  it('names every variable once per section, with a default and a meaning', () => {
    for (const section of configReference().split('\n## ').slice(1)) {
      const names = [...section.matchAll(/^\| `([A-Z0-9_]+)` \| `([^`]*)` \| (.+) \|$/gm)];
      expect(names.length).toBeGreaterThan(3);
      expect(new Set(names.map((m) => m[1])).size).toBe(names.length);
      for (const [, , fallback, meaning] of names) {
        expect(fallback).not.toBe('');
        expect(meaning!.length).toBeGreaterThan(5);
      }
    }
  });
});
