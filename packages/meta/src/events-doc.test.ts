import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EVENT_TYPES, parseMetaWebhook } from './index.ts';
import { fixtureNames, loadFixture } from './webhooks/fixtures.ts';

/**
 * docs/events.md documents every event type the parser can emit, with examples that must be what
 * the parser makes of the named fixture. After a deliberate change to the output, rewrite the
 * examples with `UPDATE_EVENTS_DOC=1 vitest run packages/meta`, then run prettier on the file.
 */
const DOC_PATH = join(import.meta.dirname, '..', 'docs', 'events.md');
/** The `receivedAt` of the examples, for the events Meta gives no time for. */
const DOC_RECEIVED_AT = new Date('2025-01-01T00:00:00.000Z');
const EXAMPLE = /<!-- example: ([\w.-]+\.json)(?:#(\d+))? -->\n(?:\n```json\n([\s\S]*?)\n```\n)?/g;

const exampleEvent = (fixture: string, index: number) =>
  parseMetaWebhook(loadFixture(fixture), { receivedAt: DOC_RECEIVED_AT })[index];

if (process.env.UPDATE_EVENTS_DOC === '1') {
  const doc = readFileSync(DOC_PATH, 'utf8').replace(EXAMPLE, (_match, fixture: string, index?: string) => {
    const event = exampleEvent(fixture, Number(index ?? 0));
    const marker = `<!-- example: ${fixture}${index === undefined ? '' : `#${index}`} -->`;
    return `${marker}\n\n\`\`\`json\n${JSON.stringify(event, null, 2)}\n\`\`\`\n`;
  });
  writeFileSync(DOC_PATH, doc);
}

const doc = readFileSync(DOC_PATH, 'utf8');
const sections = doc.split(/^## /m).slice(1);
const sectionType = (section: string) => /^`([^`]+)`\n/.exec(section)?.[1];

describe('docs/events.md', () => {
  it('has one section per event type the parser can emit, in the order of EVENT_TYPES', () => {
    const documented = sections.map(sectionType).filter((type) => type !== undefined);
    expect(documented).toEqual([...EVENT_TYPES]);
  });

  it.each(sections.filter((s) => sectionType(s) !== undefined).map((s) => [sectionType(s)!, s] as const))(
    '%s: says what triggers it, its dedup key, and has examples the parser really produces',
    (type, section) => {
      expect(section).toContain('**Trigger.**');
      expect(section).toContain('**Dedup key.**');
      const examples = [...section.matchAll(EXAMPLE)];
      expect(examples.length).toBeGreaterThan(0);
      for (const [, fixture, index, json] of examples) {
        expect(json, `example ${fixture} has no json block`).toBeDefined();
        const event = exampleEvent(fixture!, Number(index ?? 0));
        expect(event?.type).toBe(type);
        expect(JSON.parse(json!)).toEqual(JSON.parse(JSON.stringify(event)));
      }
    },
  );

  it('every event type is produced by at least one fixture', () => {
    const produced = new Set(fixtureNames().flatMap((name) => parseMetaWebhook(loadFixture(name)).map((e) => e.type)));
    expect([...EVENT_TYPES].filter((type) => !produced.has(type))).toEqual([]);
  });
});
