import { createHash } from 'node:crypto';
import { isRecord } from './json.ts';

/**
 * Dedup keys (DESIGN.md, resilience rule 1): Meta delivers at least once, so every event carries a
 * key made of Meta's id, the event kind and, where one id carries several events, the fields that
 * tell them apart. Keys are `<platform>:<kind>:<parts…>`; events without any id of Meta's are keyed
 * by a SHA-256 of their canonical JSON, which a redelivery of the same fragment reproduces.
 */
export const dedupKey = (...parts: readonly string[]): string => parts.join(':');

/** JSON with object keys sorted at every level, so equal content always serializes the same way. */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(canonicalize(value)) ?? 'null';
}

function canonicalize(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonicalize);
  if (isRecord(value)) {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = value[key];
      if (v !== undefined && typeof v !== 'function') out[key] = canonicalize(v);
    }
    return out;
  }
  if (typeof value === 'bigint') return value.toString();
  if (value === undefined || typeof value === 'function' || typeof value === 'symbol') return null;
  return value;
}

/** SHA-256 (hex) of the canonical JSON of a value. */
export const contentHash = (value: unknown): string => createHash('sha256').update(canonicalJson(value)).digest('hex');
