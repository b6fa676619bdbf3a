export { parseMetaWebhook, type ParseOptions } from './parse.ts';
export {
  EVENT_TYPES,
  PLATFORMS,
  type EventDataByType,
  type EventType,
  type MetaWebhookEvent,
  type MetaWebhookEventOf,
  type Platform,
  type UnknownEventData,
} from './events.ts';
export { canonicalJson, contentHash } from './dedup.ts';
export { conversationKeyOf } from './build-event.ts';
export { metaEnvelopeOf, metaWebhookBodyOf, type MetaEnvelope } from './envelope.ts';
export type * from './whatsapp/data.ts';
export type * from './messaging/data.ts';
export type * from './instagram/data.ts';
