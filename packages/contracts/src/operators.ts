import { Type, type Static } from 'typebox';

/**
 * Operator accounts and their sessions (`/v1/auth`, `/v1/operators` on control). A session is a
 * cookie (`mic_session`, HttpOnly, SameSite=Strict); every unsafe request made with it also sends
 * the session's CSRF token in `x-csrf-token`.
 */
const DateTime = Type.String({ format: 'date-time' });
const NullableDateTime = Type.Union([DateTime, Type.Null()]);

export const OperatorRole = Type.Union(
  [
    Type.Literal('owner'),
    Type.Literal('admin'),
    Type.Literal('support'),
    Type.Literal('billing'),
    Type.Literal('read-only'),
  ],
  { description: 'owner: everything; admin: everything but managing owners; see docs/security.md' },
);
export type OperatorRole = Static<typeof OperatorRole>;

export const OPERATOR_PASSWORD_MIN_LENGTH = 12;
export const OperatorPassword = Type.String({ minLength: OPERATOR_PASSWORD_MIN_LENGTH, maxLength: 256 });
export const OperatorEmail = Type.String({ format: 'email', minLength: 3, maxLength: 254 });

export const Operator = Type.Object({
  id: Type.String(),
  email: Type.String(),
  name: Type.String(),
  role: OperatorRole,
  disabledAt: NullableDateTime,
  createdAt: DateTime,
  updatedAt: DateTime,
  lastLoginAt: NullableDateTime,
  passwordChangedAt: DateTime,
});
export type Operator = Static<typeof Operator>;

export const OperatorParams = Type.Object({ id: Type.String({ pattern: '^op_[A-Za-z0-9]+$', maxLength: 64 }) });

export const Login = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }), password: Type.String({ minLength: 1, maxLength: 256 }) },
  { additionalProperties: false },
);
export type Login = Static<typeof Login>;

export const OperatorSession = Type.Object({
  operator: Operator,
  permissions: Type.Array(Type.String(), { description: 'what this operator may do' }),
  csrfToken: Type.String({ description: 'send it as x-csrf-token on every POST, PUT, PATCH and DELETE' }),
  expiresAt: DateTime,
});
export type OperatorSession = Static<typeof OperatorSession>;

export const CreateOperator = Type.Object(
  {
    email: OperatorEmail,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: OperatorRole,
    password: Type.Optional(
      Type.String({
        minLength: OPERATOR_PASSWORD_MIN_LENGTH,
        maxLength: 256,
        description: 'omitted: a random password is generated and returned once, in `generatedPassword`',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateOperator = Static<typeof CreateOperator>;

export const CreatedOperator = Type.Object({
  operator: Operator,
  generatedPassword: Type.Optional(Type.String({ description: 'shown once, when no password was given' })),
});
export type CreatedOperator = Static<typeof CreatedOperator>;

export const UpdateOperator = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(OperatorRole),
    disabled: Type.Optional(Type.Boolean({ description: 'true signs the operator out everywhere' })),
  },
  { additionalProperties: false },
);
export type UpdateOperator = Static<typeof UpdateOperator>;

export const ChangePassword = Type.Object(
  { currentPassword: Type.String({ minLength: 1, maxLength: 256 }), newPassword: OperatorPassword },
  { additionalProperties: false },
);
export type ChangePassword = Static<typeof ChangePassword>;
