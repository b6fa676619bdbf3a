import { Type, type Static } from 'typebox';

/**
 * The engine's secret store, as control and operators see it: write-only. A value goes in and
 * never comes back out; what comes back is a fingerprint (HMAC of the value) and its last 4
 * characters, enough to tell which value is stored.
 */
export const SecretKind = Type.Union([
  Type.Literal('meta-access-token'),
  Type.Literal('meta-app-secret'),
  Type.Literal('meta-verify-token'),
  Type.Literal('instance-signing-secret'),
]);
export type SecretKind = Static<typeof SecretKind>;

export const SECRET_REF_PATTERN = '^[a-z0-9][a-z0-9._:/-]{0,199}$';
/** The secret name at the end of a `…/secrets/*` path, or null when it is not a valid name. */
export function secretRefFromPath(params: unknown): string | null {
  const ref = (params as { '*'?: unknown } | undefined)?.['*'];
  return typeof ref === 'string' && new RegExp(SECRET_REF_PATTERN).test(ref) ? ref : null;
}

export const SecretRef = Type.String({
  pattern: SECRET_REF_PATTERN,
  description: 'name of the secret, e.g. channel/<channel id>/access-token',
});

export const SecretVersionInfo = Type.Object({
  version: Type.Integer(),
  fingerprint: Type.String(),
  last4: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});

export const SecretInfo = Type.Object({
  ref: Type.String(),
  kind: SecretKind,
  current: SecretVersionInfo,
  /** A previous value still accepted during a rotation's grace period. */
  previous: Type.Union([SecretVersionInfo, Type.Null()]),
  updatedAt: Type.String({ format: 'date-time' }),
});
export type SecretInfo = Static<typeof SecretInfo>;

export const PutSecret = Type.Object(
  {
    kind: SecretKind,
    value: Type.String({ minLength: 1, maxLength: 8192 }),
    graceSeconds: Type.Optional(
      Type.Integer({ minimum: 0, maximum: 30 * 86_400, description: 'how long the previous value stays valid' }),
    ),
  },
  { additionalProperties: false },
);
export type PutSecret = Static<typeof PutSecret>;

export const KeyRotationResult = Type.Object({
  kekVersion: Type.Integer({ description: 'the key-encryption key version now active' }),
  rewrapped: Type.Integer({ description: 'secret versions whose data key was re-wrapped' }),
  keyring: Type.String({ description: 'where the keyring is kept (never its content)' }),
});

export const MetaAppParams = Type.Object({ app: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }) });
export const PutMetaApp = Type.Object(
  {
    appSecret: Type.String({ minLength: 8, maxLength: 256 }),
    verifyToken: Type.String({ minLength: 8, maxLength: 256 }),
  },
  { additionalProperties: false },
);
export const MetaAppInfo = Type.Object({
  app: Type.String(),
  appSecret: SecretInfo,
  verifyToken: SecretInfo,
});
