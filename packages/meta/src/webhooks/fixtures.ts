import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** The sample webhook bodies in fixtures/ (see fixtures/SOURCES.md), for tests and test tools. */
export const FIXTURES_DIR = join(import.meta.dirname, 'fixtures');

export const fixtureNames = (): string[] =>
  readdirSync(FIXTURES_DIR)
    .filter((name) => name.endsWith('.json'))
    .sort();

export const loadFixture = (name: string): unknown =>
  JSON.parse(readFileSync(join(FIXTURES_DIR, name), 'utf8')) as unknown;

/** The raw bytes of a fixture, as Meta would send them (for signature tests). */
export const fixtureBytes = (name: string): Buffer => readFileSync(join(FIXTURES_DIR, name));

/** The object at a path inside a parsed body, for tests that edit a fixture; throws when there is none. */
export function recordAt(body: unknown, ...path: (string | number)[]): Record<string, unknown> {
  let node: unknown = body;
  for (const key of path) {
    node = Array.isArray(node) ? (node as unknown[])[Number(key)] : (node as Record<string, unknown> | null)?.[key];
  }
  if (typeof node !== 'object' || node === null || Array.isArray(node)) {
    throw new Error(`no object at ${path.join('.')}`);
  }
  return node as Record<string, unknown>;
}
