import { describe, expect, it } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
/* eslint-disable @typescript-eslint/no-unsafe-assignment, @typescript-eslint/no-unsafe-argument, @typescript-eslint/no-unsafe-member-access --
   drizzle-kit's API types refer to zod types it does not ship, so ESLint sees them as unresolved. */
import { generateDrizzleJson, generateMigration } from 'drizzle-kit/api';

type Snapshot = Parameters<typeof generateMigration>[0];

const ROOT = join(import.meta.dirname, '..');

async function schemaModules(plane: string): Promise<Record<string, unknown>> {
  const modules = join(ROOT, 'apps', plane, 'src', 'modules');
  const imports: Record<string, unknown> = {};
  for (const module of readdirSync(modules)) {
    const file = join(modules, module, 'schema.ts');
    try {
      readFileSync(file);
    } catch {
      continue;
    }
    Object.assign(imports, (await import(file)) as Record<string, unknown>);
  }
  return imports;
}

describe.each(['control', 'engine'])('%s migrations', (plane) => {
  const folder = join(ROOT, 'apps', plane, 'migrations');

  it('match the schema: generating now would add nothing (run npm run db:generate after a schema change)', async () => {
    const snapshots = readdirSync(join(folder, 'meta'))
      .filter((f) => f.endsWith('_snapshot.json'))
      .sort();
    const last = JSON.parse(readFileSync(join(folder, 'meta', snapshots.at(-1)!), 'utf8')) as Snapshot;
    const current = generateDrizzleJson(await schemaModules(plane), last.id);
    expect(await generateMigration(last, current)).toEqual([]);
  });

  it('never name the public schema: the connection search_path places the tables', () => {
    for (const file of readdirSync(folder).filter((f) => f.endsWith('.sql'))) {
      expect({ file, hasPublic: readFileSync(join(folder, file), 'utf8').includes('"public".') }).toEqual({
        file,
        hasPublic: false,
      });
    }
  });

  it('are listed in the journal, one entry per file, in order', () => {
    const journal = JSON.parse(readFileSync(join(folder, 'meta', '_journal.json'), 'utf8')) as {
      entries: { tag: string }[];
    };
    const files = readdirSync(folder)
      .filter((f) => f.endsWith('.sql'))
      .map((f) => f.replace(/\.sql$/, ''))
      .sort();
    expect(journal.entries.map((e) => e.tag)).toEqual(files);
  });
});
