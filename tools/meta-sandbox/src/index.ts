/**
 * @mic/meta-sandbox: a local stand-in for Meta. Its webhook side: Meta webhook bodies (WhatsApp,
 * Messenger, Instagram) and `sendWebhooks`, which posts them signed, at a chosen rate, with
 * duplicates and retries. Its Graph API side: `startGraphSandbox`, which answers the
 * `subscribed_apps` calls as Meta does, records them and fails on demand.
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
  GraphSandbox,
  startGraphSandbox,
  type GraphCall,
  type GraphFailure,
  type GraphFailureName,
  type GraphObjectKind,
  type GraphSandboxObject,
  type GraphSandboxOptions,
} from './graph/server.ts';
