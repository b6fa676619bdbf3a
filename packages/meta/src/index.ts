/**
 * @mic/meta: Meta's formats. Webhook signatures, Meta webhook bodies parsed into normalized events,
 * a Graph API client with Meta's errors classified, and the Graph send bodies of the Send API.
 */
export { SIGNATURE_HEADER, signMetaBody, verifyMetaSignature, type SignedBody } from './signature.ts';
export * from './webhooks/index.ts';
export * from './graph/index.ts';
export * from './send/index.ts';
export * from './graph/media.ts';
