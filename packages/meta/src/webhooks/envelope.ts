import { isRecord, type JsonRecord } from './json.ts';

/**
 * Where an event sat in Meta's webhook body, beside its `raw` fragment: the body's `object`, its
 * entry's `id` and `time`, the list that carried it (`changes`, `messaging` or `standby`), and,
 * when `raw` is a change's value, that change's `field`. With `raw` it gives back the item Meta
 * sent (a WhatsApp value that carried several messages narrowed to this event's, as `raw` is).
 */
export interface MetaEnvelope {
  object: string;
  entry: { id: string; time: number | null };
  list: 'changes' | 'messaging' | 'standby';
  /** Set when `raw` is the value of a change with this field. */
  field?: string;
}

const LISTS = ['changes', 'messaging', 'standby'] as const;

/**
 * Finds `raw` (an event's fragment, as the parser took it from `body`) in `body`: the item itself,
 * a change's value, or a WhatsApp value narrowed from one (which keeps its `metadata` object).
 * Null when the event is the whole body or not found.
 */
export function metaEnvelopeOf(body: unknown, raw: unknown): MetaEnvelope | null {
  if (!isRecord(body) || typeof body.object !== 'string' || !Array.isArray(body.entry)) return null;
  for (const entry of body.entry) {
    if (!isRecord(entry)) continue;
    const id = typeof entry.id === 'string' || typeof entry.id === 'number' ? String(entry.id) : '';
    const time = typeof entry.time === 'number' ? entry.time : null;
    for (const list of LISTS) {
      const items: unknown[] = Array.isArray(entry[list]) ? (entry[list] as unknown[]) : [];
      for (const item of items) {
        if (item === raw) return { object: body.object, entry: { id, time }, list };
        if (isRecord(item) && typeof item.field === 'string' && isValueOf(item, raw)) {
          return { object: body.object, entry: { id, time }, list, field: item.field };
        }
      }
    }
  }
  return null;
}

function isValueOf(change: JsonRecord, raw: unknown): boolean {
  const value = change.value;
  if (value === raw) return true;
  return isRecord(value) && isRecord(raw) && raw.metadata !== undefined && raw.metadata === value.metadata;
}

/** The webhook body Meta would have sent with this one event alone. */
export function metaWebhookBodyOf(envelope: MetaEnvelope, raw: unknown): JsonRecord {
  const { object, entry, list, field } = envelope;
  const item = field === undefined ? raw : { field, value: raw };
  return { object, entry: [{ id: entry.id, ...(entry.time === null ? {} : { time: entry.time }), [list]: [item] }] };
}
