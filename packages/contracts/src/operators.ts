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

export const OperatorLocale = Type.Union([Type.Literal('es'), Type.Literal('en')], {
  description: 'the language of the e-mails the operator gets (Spanish by default)',
});
export type OperatorLocale = Static<typeof OperatorLocale>;

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
  locale: OperatorLocale,
  secondFactorEnabled: Type.Boolean({ description: 'a TOTP second factor is enrolled and confirmed' }),
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
  scope: Type.Union([Type.Literal('full'), Type.Literal('enrolment')], {
    description:
      'enrolment: the hub requires a second factor that this operator has not enrolled; the session may only ' +
      'enrol one (/v1/auth/second-factor/*), read itself and sign out',
  }),
});
export type OperatorSession = Static<typeof OperatorSession>;

export const CreateOperator = Type.Object(
  {
    email: OperatorEmail,
    name: Type.String({ minLength: 1, maxLength: 200 }),
    role: OperatorRole,
    locale: Type.Optional(OperatorLocale),
    password: Type.Optional(
      Type.String({
        minLength: OPERATOR_PASSWORD_MIN_LENGTH,
        maxLength: 256,
        description:
          'omitted (and no `invite`): a random password is generated and returned once, in `generatedPassword`',
      }),
    ),
    invite: Type.Optional(
      Type.Boolean({
        description:
          'true: no password is set or shown; the operator is e-mailed a link to choose one (valid OPERATOR_INVITE_TTL). ' +
          'Needs account e-mail (ACCOUNT_SMTP_URL); not with `password`.',
      }),
    ),
  },
  { additionalProperties: false },
);
export type CreateOperator = Static<typeof CreateOperator>;

export const CreatedOperator = Type.Object({
  operator: Operator,
  generatedPassword: Type.Optional(Type.String({ description: 'shown once, when no password was given' })),
  invitation: Type.Optional(
    Type.Object({
      to: Type.String(),
      expiresAt: Type.String({ format: 'date-time' }),
      emailed: Type.Boolean({
        description: 'false: the SMTP server refused it; the operator can still ask for a link ("forgot password")',
      }),
    }),
  ),
});
export type CreatedOperator = Static<typeof CreatedOperator>;

export const UpdateOperator = Type.Object(
  {
    name: Type.Optional(Type.String({ minLength: 1, maxLength: 200 })),
    role: Type.Optional(OperatorRole),
    locale: Type.Optional(OperatorLocale),
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

/**
 * Signing in with a second factor is two steps: `POST /v1/auth/login` answers 202 with this
 * challenge instead of a session, and `POST /v1/auth/login/second-factor` trades it and a code for
 * the session. The challenge is good for one sign-in, for a few minutes.
 */
export const SecondFactorChallenge = Type.Object({
  secondFactorRequired: Type.Literal(true),
  challenge: Type.String({ description: 'send it back with the code; single use' }),
  expiresAt: DateTime,
  methods: Type.Array(Type.Union([Type.Literal('totp'), Type.Literal('recovery-code')])),
});
export type SecondFactorChallenge = Static<typeof SecondFactorChallenge>;

export const SecondFactorLogin = Type.Object(
  {
    challenge: Type.String({ minLength: 1, maxLength: 200 }),
    code: Type.Optional(Type.String({ pattern: '^[0-9]{6}$', description: 'the 6 digits of the authenticator app' })),
    recoveryCode: Type.Optional(
      Type.String({ minLength: 1, maxLength: 64, description: 'one of the recovery codes; it then stops working' }),
    ),
  },
  { additionalProperties: false },
);
export type SecondFactorLogin = Static<typeof SecondFactorLogin>;

export const SecondFactorStatus = Type.Object({
  enabled: Type.Boolean(),
  enabledAt: NullableDateTime,
  required: Type.Boolean({ description: "the hub requires a second factor of this operator's role" }),
  recoveryCodesLeft: Type.Integer({ minimum: 0 }),
});
export type SecondFactorStatus = Static<typeof SecondFactorStatus>;

export const TotpEnrolment = Type.Object({
  secret: Type.String({ description: 'base32, for typing into an authenticator app; shown at enrolment only' }),
  otpauthUrl: Type.String({ description: 'otpauth://totp/... (what the QR code holds)' }),
  qrCode: Type.String({ description: 'the otpauth URL as an SVG QR code, a data: URL for an <img>' }),
});
export type TotpEnrolment = Static<typeof TotpEnrolment>;

export const SecondFactorCode = Type.Object(
  { code: Type.String({ pattern: '^[0-9]{6}$' }) },
  { additionalProperties: false },
);
export type SecondFactorCode = Static<typeof SecondFactorCode>;

export const RecoveryCodes = Type.Object({
  recoveryCodes: Type.Array(Type.String(), { description: 'shown once: each works once in place of a code' }),
});
export type RecoveryCodes = Static<typeof RecoveryCodes>;

/** "Forgot password": always answered 202 with the same body, whether or not the address has an account. */
export const ForgotPassword = Type.Object(
  { email: Type.String({ minLength: 1, maxLength: 254 }) },
  { additionalProperties: false },
);
export type ForgotPassword = Static<typeof ForgotPassword>;

export const ForgotPasswordAccepted = Type.Object({
  message: Type.String({ description: 'the same text for every address' }),
});
export type ForgotPasswordAccepted = Static<typeof ForgotPasswordAccepted>;

export const ResetPassword = Type.Object(
  { token: Type.String({ minLength: 1, maxLength: 200 }), newPassword: OperatorPassword },
  { additionalProperties: false },
);
export type ResetPassword = Static<typeof ResetPassword>;
