import { Type, type Static } from 'typebox';

/** Service tokens: how the planes (and operators' tools) authenticate on `/internal` routes. */
export const ServiceTokenInfo = Type.Object({
  id: Type.String({ format: 'uuid' }),
  caller: Type.String({ description: 'who presents it: control, engine, or an operator tool' }),
  last4: Type.String(),
  createdAt: Type.String({ format: 'date-time' }),
  expiresAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  revokedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type ServiceTokenInfo = Static<typeof ServiceTokenInfo>;

export const IssueServiceToken = Type.Object(
  {
    caller: Type.String({ minLength: 1, maxLength: 64, pattern: '^[a-z][a-z0-9-]*$' }),
    retireCurrent: Type.Optional(
      Type.Boolean({ description: 'expire the token this request is made with after graceSeconds' }),
    ),
    graceSeconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 30 * 86_400, default: 3_600 })),
  },
  { additionalProperties: false },
);
export type IssueServiceToken = Static<typeof IssueServiceToken>;

export const IssuedServiceToken = Type.Intersect([
  ServiceTokenInfo,
  Type.Object({ token: Type.String({ description: 'shown once; only its hash is kept' }) }),
]);

export const ServiceTokenParams = Type.Object({ id: Type.String({ format: 'uuid' }) });

/** The header a plane sends on every internal call. */
export const SERVICE_AUTH_HEADER = 'authorization';
