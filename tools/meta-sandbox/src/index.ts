/**
 * @mic/meta-sandbox: a local stand-in for Meta. For now its webhook side: Meta webhook bodies
 * (WhatsApp, Messenger, Instagram) and `sendWebhooks`, which posts them signed, at a chosen rate,
 * with duplicates and retries. The Graph API side comes later.
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
