import { createHash } from 'node:crypto';

/** The prev_hash of the first row. */
export const GENESIS_HASH = '0'.repeat(64);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/**
 * RFC 8785 (JCS) for the JSON values an audit row holds: object keys sorted by UTF-16 code units,
 * no whitespace, strings and numbers as ECMAScript's JSON.stringify writes them.
 */
export function canonicalJson(value: Json): string {
  if (value === null || typeof value !== 'object') {
    if (typeof value === 'number' && !Number.isFinite(value)) throw new Error('a non-finite number is not JSON');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(value[k]!)}`).join(',')}}`;
}

/** The fields of a row that its hash covers (everything but prev_hash and hash themselves). */
export interface ChainedFields {
  id: string;
  seq: number;
  at: Date;
  actorType: string;
  actorId: string | null;
  actorLabel: string | null;
  action: string;
  targetType: string | null;
  targetId: string | null;
  before: Json;
  after: Json;
  requestId: string | null;
  ip: string | null;
}

/** hash = hex(SHA-256(prev_hash ‖ canonical JSON of the row's fields, `at` as ISO 8601 with ms)). */
export function chainHash(prevHash: string, row: ChainedFields): string {
  const fields: Json = {
    id: row.id,
    seq: row.seq,
    at: row.at.toISOString(),
    actorType: row.actorType,
    actorId: row.actorId,
    actorLabel: row.actorLabel,
    action: row.action,
    targetType: row.targetType,
    targetId: row.targetId,
    before: row.before,
    after: row.after,
    requestId: row.requestId,
    ip: row.ip,
  };
  return createHash('sha256').update(prevHash, 'utf8').update(canonicalJson(fields), 'utf8').digest('hex');
}

const SECRET_KEY = /password|passphrase|secret|token|authorization|cookie|api[-_]?key|private[-_]?key/i;
export const REDACTED = '[redacted]';

/**
 * A JSON copy of `value` (what jsonb will hold: dates as ISO strings, undefined dropped) with the
 * value of every secret-looking key replaced. Timestamps named after a secret (`passwordChangedAt`)
 * are kept.
 */
export function redact(value: unknown): Json {
  if (value === undefined) return null;
  const json = JSON.parse(JSON.stringify(value) ?? 'null') as Json;
  const walk = (v: Json): Json => {
    if (v === null || typeof v !== 'object') return v;
    if (Array.isArray(v)) return v.map(walk);
    return Object.fromEntries(
      Object.entries(v).map(([k, inner]) => [k, SECRET_KEY.test(k) && !/At$/.test(k) ? REDACTED : walk(inner)]),
    );
  };
  return walk(json);
}
