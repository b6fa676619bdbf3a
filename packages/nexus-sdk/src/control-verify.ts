import { createHash, createPublicKey, verify, type KeyObject } from 'node:crypto';
import { Compile } from 'typebox/compile';
import {
  CONTROL_COMMAND_ID_HEADER,
  CONTROL_KEY_ID_HEADER,
  CONTROL_SIGNATURE_HEADER,
  CONTROL_SIGNATURE_VERSION,
  CONTROL_TIMESTAMP_HEADER,
  ControlCommand,
  controlKeyId,
  controlSignedContent,
} from '@mic/contracts';
import { DEFAULT_TOLERANCE_SECONDS, header, type DeliveryHeaders, type FieldError } from './verify.ts';

/** Why a control command was refused; each has its own problem type (`/problems/control-<reason>`). */
export type ControlRejectionReason =
  'missing-headers' | 'invalid-timestamp' | 'stale-timestamp' | 'bad-signature' | 'invalid-body' | 'wrong-instance';

/** A control command that must not be run. `status` is what to answer: 401, or 400 when the body is at fault. */
export class ControlVerificationError extends Error {
  readonly reason: ControlRejectionReason;
  readonly status: 400 | 401;
  /** The `mic-command-id` header, when there was one (not authenticated until the signature is). */
  readonly commandId: string | undefined;
  /** For `invalid-body`: the fields that do not match the contract. */
  readonly errors: readonly FieldError[];

  constructor(reason: ControlRejectionReason, message: string, commandId?: string, errors: readonly FieldError[] = []) {
    super(message);
    this.name = 'ControlVerificationError';
    this.reason = reason;
    this.status = reason === 'invalid-body' || reason === 'wrong-instance' ? 400 : 401;
    this.commandId = commandId;
    this.errors = errors;
  }
}

/** One of control's public keys, parsed, with the id `mic-key-id` names it by. */
export interface ControlKey {
  keyId: string;
  key: KeyObject;
}

// The DER prefix of an ed25519 SubjectPublicKeyInfo; the raw 32-byte key follows it.
const ED25519_SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function parseKey(text: string, index: number): ControlKey {
  const trimmed = text.trim();
  const position = `control public key #${index + 1}`;
  if (trimmed.includes('PRIVATE KEY')) {
    throw new TypeError(`${position} is a private key: an instance only ever holds control's public key`);
  }
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPublicKey(trimmed);
    else {
      const der = Buffer.from(trimmed, 'base64');
      key = createPublicKey({
        key: der.length === 32 ? Buffer.concat([ED25519_SPKI_PREFIX, der]) : der,
        format: 'der',
        type: 'spki',
      });
    }
  } catch {
    throw new TypeError(`${position} is not a public key (PEM, or base64 of the raw key or of its SPKI DER)`);
  }
  if (key.asymmetricKeyType !== 'ed25519') throw new TypeError(`${position} is not an ed25519 key`);
  return { keyId: controlKeyIdOf(key), key };
}

/** The `mic-key-id` of a public key (see `controlKeyId` in @mic/contracts). */
export function controlKeyIdOf(key: KeyObject): string {
  return controlKeyId(
    createHash('sha256')
      .update(key.export({ format: 'der', type: 'spki' }))
      .digest(),
  );
}

/**
 * Control's public keys, parsed: PEM (`-----BEGIN PUBLIC KEY-----`), or base64 of the raw 32-byte
 * key or of its SPKI DER. Several while control rotates its key. Throws a TypeError, naming the
 * position, for one that is not an ed25519 public key: a configuration mistake, not a bad command.
 */
export function controlKeys(publicKeys: readonly string[]): ControlKey[] {
  if (publicKeys.length === 0) throw new TypeError("at least one of control's public keys is required");
  return publicKeys.map(parseKey);
}

export interface VerifyControlOptions {
  /** How far `mic-timestamp` may be from now, either way, in seconds. Default 300. */
  toleranceSeconds?: number;
  /** The time to check the timestamp against; the system clock by default. */
  now?: Date;
  /** This instance's id: a command for another instance is refused (`wrong-instance`, 400). */
  instanceId?: string;
}

/** A verified command with the attempt's metadata. */
export interface VerifiedControlCommand {
  command: ControlCommand;
  /** When control signed this attempt (`mic-timestamp`). */
  signedAt: Date;
  /** Which key's signature matched. */
  keyId: string;
}

const controlCommand = Compile(ControlCommand);
const TIMESTAMP_FORMAT = /^\d{1,15}$/;
const ED25519_SIGNATURE_BYTES = 64;

function matchingKey(keys: readonly ControlKey[], signatures: readonly string[], content: Buffer, keyId: string) {
  const given = signatures
    .filter((s) => s.startsWith(`${CONTROL_SIGNATURE_VERSION},`))
    .map((s) => Buffer.from(s.slice(CONTROL_SIGNATURE_VERSION.length + 1), 'base64'))
    .filter((s) => s.length === ED25519_SIGNATURE_BYTES);
  // The named key first; the others still count, so a mislabelled key id is not fatal.
  const ordered = [...keys].sort((a, b) => Number(b.keyId === keyId) - Number(a.keyId === keyId));
  for (const { key, keyId: id } of ordered) {
    for (const signature of given) if (verify(null, content, key, signature)) return id;
  }
  return null;
}

function fieldErrors(value: unknown): FieldError[] {
  return [...controlCommand.Errors(value)].map((error) => {
    const base = error.instancePath.replace(/^\//, '').replaceAll('/', '.');
    if (error.keyword === 'required') {
      const missing = error.params.requiredProperties.join(', ');
      return { field: [base, missing].filter(Boolean).join('.'), message: 'is required' };
    }
    return { field: base || '(body)', message: error.message };
  });
}

/** What `verifyControlCommand` does, with keys parsed once. */
export function verifyControlCommandWithKeys(
  rawBody: string | Uint8Array,
  headers: DeliveryHeaders,
  keys: readonly ControlKey[],
  options: VerifyControlOptions = {},
): VerifiedControlCommand {
  const id = header(headers, CONTROL_COMMAND_ID_HEADER)?.trim();
  const timestamp = header(headers, CONTROL_TIMESTAMP_HEADER)?.trim();
  const keyId = header(headers, CONTROL_KEY_ID_HEADER)?.trim();
  const signature = header(headers, CONTROL_SIGNATURE_HEADER)?.trim();
  if (!id || !timestamp || !keyId || !signature) {
    const missing = [
      id ? null : CONTROL_COMMAND_ID_HEADER,
      timestamp ? null : CONTROL_TIMESTAMP_HEADER,
      keyId ? null : CONTROL_KEY_ID_HEADER,
      signature ? null : CONTROL_SIGNATURE_HEADER,
    ].filter((name) => name !== null);
    throw new ControlVerificationError('missing-headers', `missing ${missing.join(', ')}`, id || undefined);
  }
  if (!TIMESTAMP_FORMAT.test(timestamp)) {
    throw new ControlVerificationError('invalid-timestamp', `${CONTROL_TIMESTAMP_HEADER} is not Unix seconds`, id);
  }
  const seconds = Number(timestamp);
  const tolerance = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  if (Math.abs(nowSeconds - seconds) > tolerance) {
    const direction = seconds < nowSeconds ? 'old' : 'far in the future';
    throw new ControlVerificationError(
      'stale-timestamp',
      `${CONTROL_TIMESTAMP_HEADER} is ${Math.abs(nowSeconds - seconds)} s ${direction} (tolerance ${tolerance} s)`,
      id,
    );
  }
  const body = typeof rawBody === 'string' ? rawBody : Buffer.from(rawBody).toString('utf8');
  const content = Buffer.from(controlSignedContent(id, timestamp, body), 'utf8');
  const matched = matchingKey(keys, signature.split(' '), content, keyId);
  if (matched === null) {
    const isKnown = keys.some((k) => k.keyId === keyId);
    throw new ControlVerificationError(
      'bad-signature',
      isKnown
        ? "no signature matches control's public key"
        : `no signature matches a configured key (the command names key ${keyId}, which is not configured)`,
      id,
    );
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new ControlVerificationError('invalid-body', 'the body is not JSON', id);
  }
  if (!controlCommand.Check(parsed)) {
    const errors = fieldErrors(parsed);
    const detail = errors.map((e) => `${e.field}: ${e.message}`).join('; ');
    throw new ControlVerificationError('invalid-body', `the body is not a control command: ${detail}`, id, errors);
  }
  if (parsed.id !== id) {
    throw new ControlVerificationError('invalid-body', `the body's id is not the ${CONTROL_COMMAND_ID_HEADER}`, id, [
      { field: 'id', message: `must equal the ${CONTROL_COMMAND_ID_HEADER} header` },
    ]);
  }
  if (options.instanceId !== undefined && parsed.instanceId !== options.instanceId) {
    throw new ControlVerificationError(
      'wrong-instance',
      `the command is for instance ${parsed.instanceId}, this is ${options.instanceId}`,
      id,
    );
  }
  return { command: parsed, signedAt: new Date(seconds * 1000), keyId: matched };
}

/**
 * Checks one command from control, for instances with their own router: the four `mic-*` headers
 * are there, the timestamp is within `toleranceSeconds` of now, one `v1,` signature in
 * `mic-signature` is control's ed25519 signature of `<id>.<timestamp>.<body>` by one of
 * `publicKeys`, and the body is a command (for `instanceId`, when given). Otherwise it throws a
 * ControlVerificationError saying why. Replays are not detected here: record each command id and
 * answer a repeated one with its recorded result (`createControlHandler` does).
 *
 * Pass the body exactly as received (the bytes or their string), never a re-serialized object.
 */
export function verifyControlCommand(
  rawBody: string | Uint8Array,
  headers: DeliveryHeaders,
  publicKeys: readonly string[],
  options: VerifyControlOptions = {},
): VerifiedControlCommand {
  return verifyControlCommandWithKeys(rawBody, headers, controlKeys(publicKeys), options);
}
