import { sql, type SQL } from 'drizzle-orm';

/** Lower case, without accents: what the `simple` text search configuration should see. */
export function normalizeText(value: string): string {
  return value.normalize('NFD').replace(/\p{M}/gu, '').toLowerCase();
}

/**
 * The text a record is found by. E-mail addresses and domains go in whole and in parts, so `luna`
 * finds `ana@luna.mx`; phone numbers go in as digits, so `5215` finds `+5215550199`.
 */
export function searchText(parts: { words?: (string | null | undefined)[]; emails?: string[]; phones?: string[] }) {
  const words: string[] = [];
  for (const word of parts.words ?? []) if (word) words.push(word);
  for (const email of parts.emails ?? []) words.push(email, email.replace(/[^\p{L}\p{N}]+/gu, ' '));
  for (const phone of parts.phones ?? []) words.push(phone.replace(/\D/g, ''));
  return normalizeText(words.join(' '));
}

/**
 * A `websearch_to_tsquery` (quotes, `or`, `-word`) whose every term also matches as a prefix, so a
 * search box finds `panadería` from `pana`. Apostrophes are dropped first: they delimit lexemes in
 * the query's text form, which is rewritten here.
 */
export function searchQuery(q: string): SQL {
  const text = normalizeText(q).replaceAll("'", ' ');
  return sql`to_tsquery('simple', regexp_replace(websearch_to_tsquery('simple', ${text})::text, ${"'([^']*)'"}, ${"'\\1':*"}, 'g'))`;
}
