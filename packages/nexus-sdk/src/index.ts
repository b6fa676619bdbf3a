/**
 * @mic/nexus-sdk: what a Nexus instance uses. Verify the engine's signed deliveries
 * (`verifyDelivery`, or `createDeliveryHandler` for node:http), call the engine's instance API
 * (`EngineClient`), and answer control's signed commands (`createControlHandler`, or
 * `verifyControlCommand` for an instance's own router). The contracts themselves are in
 * @mic/contracts; the most used are re-exported.
 */
export {
  DELIVERY_HEADERS,
  DeliveredEvent,
  WEBHOOK_ID_HEADER,
  WEBHOOK_SIGNATURE_HEADER,
  WEBHOOK_TIMESTAMP_HEADER,
  type ChannelKind,
  type EventChannel,
  type EventConversation,
} from '@mic/contracts';
export {
  DEFAULT_TOLERANCE_SECONDS,
  DeliveryVerificationError,
  verifyDelivery,
  type DeliveryHeaders,
  type DeliveryRejectionReason,
  type FieldError,
  type VerifyDeliveryOptions,
} from './verify.ts';
export {
  createDeliveryHandler,
  type DeliveryContext,
  type DeliveryHandler,
  type DeliveryHandlerOptions,
  type DeliveryListener,
  type DeliveryReply,
} from './handler.ts';
export {
  EngineClient,
  EngineError,
  type EngineClientOptions,
  type EngineErrorKind,
  type EngineRequest,
  type SendOptions,
  type SendRetryOptions,
} from './client.ts';
export type {
  MessageStatus,
  OutboundMessageEventData,
  OutboundEventType,
  SendAccepted,
  SendMessageRequest,
} from '@mic/contracts';
export { isEventType, type DeliveredEventOf } from './events.ts';
export {
  CONTROL_HEADERS,
  ControlCommand,
  ControlResult,
  type ControlCommandName,
  type ControlArgs,
  type ControlResultOf,
} from '@mic/contracts';
export {
  ControlVerificationError,
  controlKeyIdOf,
  controlKeys,
  verifyControlCommand,
  type ControlKey,
  type ControlRejectionReason,
  type VerifiedControlCommand,
  type VerifyControlOptions,
} from './control-verify.ts';
export {
  ControlCommandError,
  DEFAULT_CONTROL_RETENTION_SECONDS,
  MemoryControlCommandStore,
  createControlHandler,
  type ControlCommandContext,
  type ControlCommandHandler,
  type ControlCommandStore,
  type ControlHandler,
  type ControlHandlerOptions,
  type ControlHandlers,
} from './control-handler.ts';
export { PROBLEM_CONTENT_TYPE, isProblemDetails, type ProblemDetails } from '@mic/contracts';
/**
 * For an instance that takes Meta's format: the `X-Hub-Signature-256` check of Meta's own
 * webhooks, with the instance's signing secret(s) as the app secret (pass the previous one too
 * during a rotation).
 */
export { verifyMetaSignature as verifyMetaDelivery, SIGNATURE_HEADER as META_SIGNATURE_HEADER } from '@mic/meta';
