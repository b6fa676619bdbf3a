import type { DeliveredEvent } from '@mic/contracts';
import type { EventDataByType, EventType } from '@mic/meta';

/**
 * A delivered event of one known type, its `data` typed as the engine's normalizer (@mic/meta)
 * makes it. The engine may deliver types this version of the SDK does not know yet: narrow with
 * `isEventType` and let the others through.
 */
export type DeliveredEventOf<T extends EventType> = DeliveredEvent & { type: T; data: EventDataByType[T] };

/** Narrows an event to one type, e.g. `if (isEventType(event, 'whatsapp.message.received')) event.data.text`. */
export function isEventType<T extends EventType>(event: DeliveredEvent, type: T): event is DeliveredEventOf<T> {
  return event.type === type;
}
