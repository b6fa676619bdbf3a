import { Type, type Static, type TSchema } from 'typebox';

/**
 * The instance control protocol: commands from MIC's control plane to a tenant's Nexus instance
 * (`pause`, `resume`, `password-reset`, `backup`, `health`), and the result the instance answers.
 * Part of the product's public API (see docs/instance-control.md): fields are only ever added.
 *
 * Control POSTs one command per request to the instance's control URL, signed with control's own
 * ed25519 key: the instance verifies with control's public key, so control holds no per-instance
 * secret. The signature covers `<mic-command-id>.<mic-timestamp>.<raw body>`; every attempt is
 * signed anew (fresh timestamp, same id), and an instance answers a command id it has seen before
 * with the result it recorded, without running the command again.
 */

/** Header: the command id (a UUIDv7), identical on every attempt and equal to the body's `id`. */
export const CONTROL_COMMAND_ID_HEADER = 'mic-command-id';
/** Header: when this attempt was signed, in integer seconds since the Unix epoch. */
export const CONTROL_TIMESTAMP_HEADER = 'mic-timestamp';
/** Header: which of control's keys signed (see `controlKeyId`), so keys can rotate. */
export const CONTROL_KEY_ID_HEADER = 'mic-key-id';
/** Header: `v1,<base64 ed25519 signature>`; several space-separated are allowed, one must match. */
export const CONTROL_SIGNATURE_HEADER = 'mic-signature';
/** The version prefix of a signature in `mic-signature`. */
export const CONTROL_SIGNATURE_VERSION = 'v1';

export const CONTROL_HEADERS = {
  id: CONTROL_COMMAND_ID_HEADER,
  timestamp: CONTROL_TIMESTAMP_HEADER,
  keyId: CONTROL_KEY_ID_HEADER,
  signature: CONTROL_SIGNATURE_HEADER,
} as const;

/**
 * The exact string control signs and an instance verifies: `${id}.${timestamp}.${rawBody}`, the
 * body as the bytes sent (decoded as UTF-8), never re-serialized.
 */
export function controlSignedContent(id: string, timestamp: number | string, rawBody: string): string {
  return `${id}.${timestamp}.${rawBody}`;
}

/**
 * A key's id, as `mic-key-id` carries it: the first 12 bytes of the SHA-256 digest of the public
 * key in SPKI DER form, base64url (16 characters). The caller hashes (node:crypto, WebCrypto):
 * this package stays free of platform APIs.
 */
export function controlKeyId(spkiSha256: Uint8Array): string {
  let binary = '';
  for (const byte of spkiSha256.subarray(0, 12)) binary += String.fromCharCode(byte);
  return btoa(binary).replaceAll('+', '-').replaceAll('/', '_').replace(/=+$/, '');
}

export const ControlCommandName = Type.Union(
  [
    Type.Literal('pause'),
    Type.Literal('resume'),
    Type.Literal('password-reset'),
    Type.Literal('backup'),
    Type.Literal('health'),
  ],
  { description: 'The commands control sends.' },
);
export type ControlCommandName = Static<typeof ControlCommandName>;
export const CONTROL_COMMAND_NAMES: readonly ControlCommandName[] = [
  'pause',
  'resume',
  'password-reset',
  'backup',
  'health',
];

/**
 * The command envelope: the JSON body of every control request. `command` is read as any string so
 * an instance built before a new command appears answers it `unsupported-command` rather than 400.
 */
export const ControlCommand = Type.Object(
  {
    id: Type.String({
      format: 'uuid',
      description:
        'The command id (UUIDv7), the same on every attempt and equal to the mic-command-id header. An instance ' +
        'that has seen it answers the recorded result again and does not run the command twice.',
    }),
    instanceId: Type.String({ minLength: 1, description: 'The instance the command is for.' }),
    command: Type.String({
      minLength: 1,
      maxLength: 64,
      description: 'pause, resume, password-reset, backup or health; others may be added.',
    }),
    args: Type.Record(Type.String(), Type.Unknown(), {
      description: "The command's arguments (see each command); `{}` when it takes none.",
    }),
    issuedAt: Type.String({ format: 'date-time', description: 'When the operator or a module issued the command.' }),
  },
  { description: 'A signed command from control to an instance.' },
);
export type ControlCommand = Static<typeof ControlCommand>;

/** pause, resume: args. */
export const InstanceStateArgs = Type.Object(
  { reason: Type.Optional(Type.String({ maxLength: 500, description: 'Why, for the instance log and its users.' })) },
  { description: 'pause and resume: stop or restart serving the tenant.' },
);
/** pause, resume: result. */
export const InstanceStateResult = Type.Object({
  state: Type.Union([Type.Literal('paused'), Type.Literal('active')], {
    description: 'The state the instance is in now (pausing a paused instance succeeds too).',
  }),
});

/** health: args (none). */
export const HealthArgs = Type.Object(
  {},
  { description: 'health: how the instance is doing; control probes with it.' },
);
/** health: result. */
export const HealthResult = Type.Object({
  status: Type.Union([Type.Literal('pass'), Type.Literal('warn'), Type.Literal('fail')], {
    description: 'As in draft-inadarei-api-health-check.',
  }),
  version: Type.String({ description: 'The Nexus version the instance runs.' }),
  uptimeSeconds: Type.Integer({ minimum: 0, description: 'Seconds since the instance process started.' }),
});

/** backup: args. */
export const BackupArgs = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: 200, description: 'Kept with the backup, e.g. "before upgrade".' })),
  },
  { description: 'backup: take a backup of the instance now.' },
);
/** backup: result. */
export const BackupResult = Type.Object({
  backupId: Type.String({ minLength: 1 }),
  sizeBytes: Type.Optional(Type.Integer({ minimum: 0 })),
  createdAt: Type.String({ format: 'date-time' }),
});

/** password-reset: args. */
export const PasswordResetArgs = Type.Object(
  {
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "Whose password; the instance's admin by default." }),
    ),
  },
  { description: 'password-reset: a single-use link to set a new password. Never a plain password.' },
);
/** password-reset: result. */
export const PasswordResetResult = Type.Object({
  resetUrl: Type.String({ format: 'uri', description: 'Single-use link that lets the user choose a new password.' }),
  expiresAt: Type.String({ format: 'date-time' }),
});

/** Each command's args and result, to validate either side. */
export const CONTROL_COMMAND_SCHEMAS = {
  pause: { args: InstanceStateArgs, result: InstanceStateResult },
  resume: { args: InstanceStateArgs, result: InstanceStateResult },
  'password-reset': { args: PasswordResetArgs, result: PasswordResetResult },
  backup: { args: BackupArgs, result: BackupResult },
  health: { args: HealthArgs, result: HealthResult },
} as const satisfies Record<ControlCommandName, { args: TSchema; result: TSchema }>;

export interface ControlCommandTypes {
  pause: { args: Static<typeof InstanceStateArgs>; result: Static<typeof InstanceStateResult> };
  resume: { args: Static<typeof InstanceStateArgs>; result: Static<typeof InstanceStateResult> };
  'password-reset': { args: Static<typeof PasswordResetArgs>; result: Static<typeof PasswordResetResult> };
  backup: { args: Static<typeof BackupArgs>; result: Static<typeof BackupResult> };
  health: { args: Static<typeof HealthArgs>; result: Static<typeof HealthResult> };
}
export type ControlArgs<C extends ControlCommandName> = ControlCommandTypes[C]['args'];
export type ControlResultOf<C extends ControlCommandName> = ControlCommandTypes[C]['result'];

/**
 * Codes of a failed result that the protocol itself defines; an instance may use its own for the
 * rest (e.g. `backup-storage-full`).
 */
export const CONTROL_ERROR_CODES = {
  /** The instance does not know the command or has no handler for it. */
  unsupportedCommand: 'unsupported-command',
  /** The args do not match the command's schema. */
  invalidArgs: 'invalid-args',
} as const;

export const ControlError = Type.Object({
  code: Type.String({ minLength: 1, description: 'Machine-readable, e.g. unsupported-command.' }),
  message: Type.String({ description: 'For a person; never a secret.' }),
});
export type ControlError = Static<typeof ControlError>;

/**
 * What the instance answers (HTTP 200) to a verified command, the first time and on every replay:
 * `succeeded` with the command's result, or `failed` with an error. Transport-level refusals are
 * problem details instead: 401 (signature, key, timestamp), 400 (malformed), 5xx (try again).
 */
export const ControlResult = Type.Object({
  id: Type.String({ description: 'The command id.' }),
  command: Type.String(),
  status: Type.Union([Type.Literal('succeeded'), Type.Literal('failed')]),
  result: Type.Optional(Type.Record(Type.String(), Type.Unknown(), { description: 'When succeeded.' })),
  error: Type.Optional(ControlError),
});
export type ControlResult = Static<typeof ControlResult>;

// The operator's API (control plane).

export const InstanceCommandState = Type.Union(
  [
    Type.Literal('pending'),
    Type.Literal('sending'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('expired'),
  ],
  {
    description:
      'pending: waiting for its (next) attempt; sending: an attempt is in flight; succeeded or failed: what the ' +
      'instance answered; expired: no answer before INSTANCE_COMMAND_EXPIRY.',
  },
);
export type InstanceCommandState = Static<typeof InstanceCommandState>;

export const InstanceCommand = Type.Object({
  id: Type.String({ format: 'uuid' }),
  instanceId: Type.String(),
  command: ControlCommandName,
  args: Type.Record(Type.String(), Type.Unknown()),
  state: InstanceCommandState,
  attempts: Type.Integer({ minimum: 0 }),
  result: Type.Union([Type.Record(Type.String(), Type.Unknown()), Type.Null()]),
  error: Type.Union([ControlError, Type.Null()], {
    description: "A failed command's error, or the last attempt's while it is retried.",
  }),
  requestedBy: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  sentAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'The latest attempt.' }),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type InstanceCommand = Static<typeof InstanceCommand>;

/** The commands an operator sends directly; pause, resume and password-reset go through their own flows. */
export const IssueInstanceCommand = Type.Object(
  {
    command: Type.Union([Type.Literal('health'), Type.Literal('backup')]),
    args: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type IssueInstanceCommand = Static<typeof IssueInstanceCommand>;

/** `POST /v1/instances/{id}/password-reset`: a reset link for a user of the instance. */
export const InstancePasswordReset = Type.Object(
  {
    username: Type.Optional(
      Type.String({ minLength: 1, maxLength: 200, description: "whose password; the instance's admin by default" }),
    ),
    delivery: Type.Optional(
      Type.Union([Type.Literal('show'), Type.Literal('email')], {
        description: "show (default): the link is in this answer, once; email: sent to the tenant's admin contact",
      }),
    ),
  },
  { additionalProperties: false },
);
export type InstancePasswordReset = Static<typeof InstancePasswordReset>;

export const InstancePasswordResetAnswer = Type.Object({
  commandId: Type.String({ format: 'uuid' }),
  delivery: Type.Union([Type.Literal('show'), Type.Literal('email')]),
  resetUrl: Type.Optional(
    Type.String({ description: 'delivery show: the single-use link, shown this once (control keeps no copy)' }),
  ),
  sentTo: Type.Optional(Type.String({ description: 'delivery email: where it went' })),
  expiresAt: Type.String({ format: 'date-time' }),
});
export type InstancePasswordResetAnswer = Static<typeof InstancePasswordResetAnswer>;

export const InstanceCommandParams = Type.Object({
  instanceId: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
  commandId: Type.String({ format: 'uuid' }),
});

export const InstanceCommandQuery = Type.Object({
  limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
});

export const ControlPublicKey = Type.Object(
  {
    algorithm: Type.Literal('ed25519'),
    keyId: Type.String({ description: 'What mic-key-id carries for this key.' }),
    publicKeyPem: Type.String({ description: 'SPKI PEM, for the instance configuration.' }),
    publicKey: Type.String({ description: 'The raw 32-byte key, base64.' }),
  },
  { description: "Control's command signing key: configure instances with it." },
);
export type ControlPublicKey = Static<typeof ControlPublicKey>;

export const InstanceAvailabilityState = Type.Union([
  Type.Literal('up'),
  Type.Literal('down'),
  Type.Literal('unknown'),
]);

export const InstanceUptime = Type.Object({
  instanceId: Type.String(),
  state: InstanceAvailabilityState,
  since: Type.Union([Type.String({ format: 'date-time' }), Type.Null()], { description: 'When the state began.' }),
  lastOkAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  consecutiveFailures: Type.Integer({ minimum: 0 }),
  ratio24h: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()], {
    description: 'Answered probes over all probes in the last 24 h; null without probes.',
  }),
  ratio30d: Type.Union([Type.Number({ minimum: 0, maximum: 1 }), Type.Null()]),
  probes24h: Type.Integer({ minimum: 0 }),
  probes30d: Type.Integer({ minimum: 0 }),
});
export type InstanceUptime = Static<typeof InstanceUptime>;
