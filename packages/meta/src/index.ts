/** @mic/meta: Meta's formats. Webhook signatures, and Meta webhook bodies parsed into normalized events. */
export { SIGNATURE_HEADER, signMetaBody, verifyMetaSignature, type SignedBody } from './signature.ts';
export * from './webhooks/index.ts';
