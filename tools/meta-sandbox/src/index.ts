/**
 * @mic/meta-sandbox: a local stand-in for Meta. Its webhook side: Meta webhook bodies (WhatsApp,
 * Messenger, Instagram) and `sendWebhooks`, which posts them signed, at a chosen rate, with
 * duplicates and retries. Its Graph API side: `startGraphSandbox`, which answers the
 * `subscribed_apps` calls and the message sends as Meta does (rate cap, pair rate, status
 * webhooks), records them and fails on demand.
 */
export * from './webhooks/bodies.ts';
export {
  sendWebhooks,
  summarize,
  type SendReport,
  type SendSummary,
  type SendWebhooksOptions,
  type WebhookSendResult,
} from './webhooks/send.ts';
export {
  GRAPH_FAILURES,
  GRAPH_OBJECT_KINDS,
  GraphSandbox,
  startGraphSandbox,
  type GraphCall,
  type GraphEdge,
  type GraphFailure,
  type GraphFailureName,
  type GraphRead,
  type GraphObjectKind,
  type GraphSandboxObject,
  type GraphSandboxOptions,
  type SendRate,
} from './graph/server.ts';
export { DEFAULT_PAIR_RATE, DEFAULT_RATE_PER_SECOND, type GraphSend, type PairRate } from './graph/sends.ts';
export {
  DELIVERY_FAILURES,
  statusWebhookBody,
  type DeliveryFailure,
  type DeliveryFailureName,
  type StatusWebhook,
  type StatusWebhooksConfig,
} from './graph/statuses.ts';
export {
  BusinessAccounts,
  MESSAGING_TIERS,
  seededTemplates,
  type MessagingTier,
  type SandboxTemplate,
  type TemplateCategory,
  type TemplateStatus,
} from './graph/accounts.ts';
export { MEDIA_DOWNLOAD_PATH, MEDIA_URL_TTL_MS, type SandboxMediaInfo } from './graph/media.ts';
export {
  DEFAULT_PUBLISHING_LIMIT,
  GraphPublishing,
  PUBLISHING_EDGES,
  type ContainerStatus,
  type PublishingEdge,
  type PublishingOptions,
  type SandboxContainer,
  type SandboxPost,
} from './graph/publishing.ts';
