import { timingSafeEqual } from 'node:crypto';
import { Webhook } from 'standardwebhooks';
import { Compile } from 'typebox/compile';
import { DeliveredEvent, WEBHOOK_ID_HEADER, WEBHOOK_SIGNATURE_HEADER, WEBHOOK_TIMESTAMP_HEADER } from '@mic/contracts';

/** Why a delivery was refused; each has its own problem type (`/problems/delivery-<reason>`). */
export type DeliveryRejectionReason =
  'missing-headers' | 'invalid-timestamp' | 'stale-timestamp' | 'bad-signature' | 'invalid-body';

/** Headers as node:http gives them (`req.headers`), as a plain record, or a fetch `Headers`. */
export type DeliveryHeaders =
  { get(name: string): string | null } | Readonly<Record<string, string | readonly string[] | undefined>>;

export interface VerifyDeliveryOptions {
  /** How far the `webhook-timestamp` may be from now, either way, in seconds (replay protection). Default 300. */
  toleranceSeconds?: number;
  /** The time to check the timestamp against; the system clock by default. */
  now?: Date;
}

export const DEFAULT_TOLERANCE_SECONDS = 300;

/** One invalid field of a delivery body that does not match the DeliveredEvent contract. */
export interface FieldError {
  field: string;
  message: string;
}

/** A delivery that must not be processed. `status` is what to answer: 401 unless the body is at fault (400). */
export class DeliveryVerificationError extends Error {
  readonly reason: DeliveryRejectionReason;
  readonly status: 400 | 401;
  /** The `webhook-id` header, when there was one (it is not authenticated until the signature is). */
  readonly webhookId: string | undefined;
  /** For `invalid-body`: the fields that do not match the contract. */
  readonly errors: readonly FieldError[];

  constructor(
    reason: DeliveryRejectionReason,
    message: string,
    webhookId?: string,
    errors: readonly FieldError[] = [],
  ) {
    super(message);
    this.name = 'DeliveryVerificationError';
    this.reason = reason;
    this.status = reason === 'invalid-body' ? 400 : 401;
    this.webhookId = webhookId;
    this.errors = errors;
  }
}

/** A verified delivery with the attempt's metadata; `verifyDelivery` returns only the event. */
export interface VerifiedDelivery {
  event: DeliveredEvent;
  /** The `webhook-id` header: the delivery id, the same on every attempt. */
  webhookId: string;
  /** When the engine signed this attempt (`webhook-timestamp`). */
  signedAt: Date;
}

const deliveredEvent = Compile(DeliveredEvent);
const TIMESTAMP_FORMAT = /^\d{1,15}$/;

export function header(headers: DeliveryHeaders, name: string): string | undefined {
  if (typeof headers.get === 'function')
    return (headers as { get(name: string): string | null }).get(name) ?? undefined;
  const record = headers as Readonly<Record<string, string | readonly string[] | undefined>>;
  let value = record[name];
  if (value === undefined) {
    const key = Object.keys(record).find((k) => k.toLowerCase() === name);
    value = key === undefined ? undefined : record[key];
  }
  // Repeated signature headers are as good as one with the signatures space-separated.
  return typeof value === 'string' ? value : value?.join(' ');
}

/**
 * The Standard Webhooks keys for a list of signing secrets (`whsec_<base64>`). Throws a TypeError,
 * naming the position but never the value, for one that is not a signing secret: that is a
 * configuration mistake, not a bad delivery.
 */
export function signingKeys(secrets: readonly string[]): Webhook[] {
  if (secrets.length === 0) throw new TypeError('at least one delivery signing secret is required');
  return secrets.map((secret, index) => {
    try {
      return new Webhook(secret);
    } catch {
      throw new TypeError(`delivery signing secret #${index + 1} is not a signing secret (whsec_ followed by base64)`);
    }
  });
}

function matchesAny(keys: readonly Webhook[], signatures: readonly string[], id: string, at: Date, body: string) {
  const given = signatures.filter((s) => s.startsWith('v1,')).map((s) => Buffer.from(s.slice('v1,'.length), 'utf8'));
  let valid = false;
  for (const key of keys) {
    const expected = Buffer.from(key.sign(id, at, body).slice('v1,'.length), 'utf8');
    for (const signature of given) {
      if (signature.length === expected.length && timingSafeEqual(signature, expected)) valid = true;
    }
  }
  return valid;
}

/** One entry per invalid field; a union of literals (`channel.kind`) reads as "must be one of …". */
function fieldErrors(value: unknown): FieldError[] {
  const byField = new Map<string, { allowed: unknown[]; messages: string[] }>();
  for (const error of deliveredEvent.Errors(value)) {
    const base = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
    if (error.keyword === 'required') {
      for (const name of error.params.requiredProperties) {
        byField.set([base, name].filter(Boolean).join('.'), { allowed: [], messages: ['is required'] });
      }
      continue;
    }
    const field = base || '(body)';
    const entry = byField.get(field) ?? { allowed: [], messages: [] };
    if (error.keyword === 'const') entry.allowed.push(error.params.allowedValue);
    else if (error.keyword !== 'anyOf') entry.messages.push(error.message);
    byField.set(field, entry);
  }
  return [...byField].map(([field, { allowed, messages }]) => ({
    field,
    message: messages[0] ?? (allowed.length ? `must be one of ${allowed.join(', ')}` : 'is not valid'),
  }));
}

/** What `verifyDelivery` does, with the attempt's id and signing time too, and with keys made once. */
export function verifyDeliveryWithKeys(
  rawBody: string | Uint8Array,
  headers: DeliveryHeaders,
  keys: readonly Webhook[],
  options: VerifyDeliveryOptions = {},
): VerifiedDelivery {
  const id = header(headers, WEBHOOK_ID_HEADER)?.trim();
  const timestamp = header(headers, WEBHOOK_TIMESTAMP_HEADER)?.trim();
  const signature = header(headers, WEBHOOK_SIGNATURE_HEADER)?.trim();
  if (!id || !timestamp || !signature) {
    const missing = [
      id ? null : WEBHOOK_ID_HEADER,
      timestamp ? null : WEBHOOK_TIMESTAMP_HEADER,
      signature ? null : WEBHOOK_SIGNATURE_HEADER,
    ].filter((name) => name !== null);
    throw new DeliveryVerificationError('missing-headers', `missing ${missing.join(', ')}`, id || undefined);
  }
  if (!TIMESTAMP_FORMAT.test(timestamp)) {
    throw new DeliveryVerificationError('invalid-timestamp', `${WEBHOOK_TIMESTAMP_HEADER} is not Unix seconds`, id);
  }
  const seconds = Number(timestamp);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - seconds) > tolerance) {
    const direction = seconds < nowSeconds ? 'old' : 'far in the future';
    throw new DeliveryVerificationError(
      'stale-timestamp',
      `${WEBHOOK_TIMESTAMP_HEADER} is ${Math.abs(nowSeconds - seconds)} s ${direction} (tolerance ${tolerance} s)`,
      id,
    );
  }
  // Standard Webhooks signs `<id>.<timestamp>.<body>`, the body as the bytes received: decode
  // them once and never re-serialize what was parsed.
  const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  const signedAt = new Date(seconds * 1000);
  if (!matchesAny(keys, signature.split(' '), id, signedAt, body)) {
    throw new DeliveryVerificationError('bad-signature', 'no signature matches a signing secret', id);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new DeliveryVerificationError('invalid-body', 'the body is not JSON', id);
  }
  if (!deliveredEvent.Check(parsed)) {
    const errors = fieldErrors(parsed);
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw new DeliveryVerificationError('invalid-body', `the body is not a delivered event: ${detail}`, id, errors);
  }
  return { event: parsed, webhookId: id, signedAt };
}

/**
 * Checks one delivery from the engine and returns its event: the Standard Webhooks headers are
 * there, the timestamp is within `toleranceSeconds` of now, one of the `v1,` signatures in the
 * header matches one of `secrets` (several while a secret is being rotated), and the body is a
 * DeliveredEvent. Otherwise it throws a DeliveryVerificationError saying why.
 *
 * Pass the body exactly as received (the bytes or their string), never a re-serialized object.
 */
export function verifyDelivery(
  rawBody: string | Uint8Array,
  headers: DeliveryHeaders,
  secrets: readonly string[],
  options: VerifyDeliveryOptions = {},
): DeliveredEvent {
  return verifyDeliveryWithKeys(rawBody, headers, signingKeys(secrets), options).event;
}
