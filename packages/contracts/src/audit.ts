import { Type, type Static } from 'typebox';

/**
 * The audit log (`/v1/audit` on control): every privileged action, append-only and hash-chained.
 * Row N's hash is SHA-256 (hex) of row N-1's hash followed by the RFC 8785 canonical JSON of row N's
 * fields (docs/security.md); the first row follows 64 zeros. `GET /v1/audit/verify` recomputes it.
 */
export const AuditActorType = Type.Union([
  Type.Literal('operator'),
  Type.Literal('system'),
  Type.Literal('engine'),
  Type.Literal('cli'),
]);
export type AuditActorType = Static<typeof AuditActorType>;

const NullableString = Type.Union([Type.String(), Type.Null()]);

export const AuditEntry = Type.Object({
  id: Type.String(),
  seq: Type.Integer({ description: 'position in the chain: 1, 2, 3… without gaps' }),
  at: Type.String({ format: 'date-time' }),
  actorType: AuditActorType,
  actorId: NullableString,
  actorLabel: NullableString,
  action: Type.String({ description: '<object>.<verb>, e.g. instance.pause, operator.login' }),
  targetType: NullableString,
  targetId: NullableString,
  before: Type.Unknown({ description: 'the target before the action (secrets redacted), or null' }),
  after: Type.Unknown({ description: 'the target after the action (secrets redacted), or null' }),
  requestId: NullableString,
  ip: NullableString,
  prevHash: Type.String(),
  hash: Type.String(),
});
export type AuditEntry = Static<typeof AuditEntry>;

export const AuditQuery = Type.Object(
  {
    actor: Type.Optional(Type.String({ maxLength: 254, description: "the actor's id or label (e.g. an email)" })),
    action: Type.Optional(
      Type.String({ maxLength: 100, description: 'an action, or a prefix ending in `.*` (e.g. `operator.*`)' }),
    ),
    target: Type.Optional(
      Type.String({
        maxLength: 4_000,
        pattern: '^[^,]+(,[^,]+){0,49}$',
        description:
          '`<type>` or `<type>:<id>`, e.g. `operator:op_…`; up to 50, comma-separated, for the entries about any of them',
      }),
    ),
    since: Type.Optional(Type.String({ format: 'date-time' })),
    until: Type.Optional(Type.String({ format: 'date-time', description: 'exclusive' })),
    cursor: Type.Optional(Type.String({ pattern: '^[0-9]{1,19}$', description: 'nextCursor of the previous page' })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 50 })),
  },
  { additionalProperties: false },
);
export type AuditQuery = Static<typeof AuditQuery>;

export const AuditPage = Type.Object({
  items: Type.Array(AuditEntry, { description: 'newest first' }),
  nextCursor: Type.Union([Type.String(), Type.Null()]),
});
export type AuditPage = Static<typeof AuditPage>;

export const AuditVerification = Type.Union([
  Type.Object({ ok: Type.Literal(true), rows: Type.Integer() }),
  Type.Object({
    ok: Type.Literal(false),
    brokenAt: Type.Integer({ description: 'seq of the first row that does not check out' }),
    reason: Type.String(),
  }),
]);
export type AuditVerification = Static<typeof AuditVerification>;
