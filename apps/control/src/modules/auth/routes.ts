import { Type } from 'typebox';
import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  ChangePassword,
  CreatedOperator,
  CreateOperator,
  ForgotPassword,
  ForgotPasswordAccepted,
  Login,
  Operator,
  OperatorParams,
  OperatorSession,
  RecoveryCodes,
  ResetPassword,
  SecondFactorChallenge,
  SecondFactorCode,
  SecondFactorLogin,
  SecondFactorStatus,
  TotpEnrolment,
  UpdateOperator,
} from '@mic/contracts';
import { Problem, problems, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import { describeOperator, SESSION_COOKIE, type Acting, type OperatorRow, type SignedInOperator } from './service.ts';

export interface CookieSettings {
  /** Mark the cookie Secure even when the request came over plain HTTP (TLS ends at a proxy). */
  cookieSecure: boolean;
  sessionMaxMs: number;
}

const noStore = { 'cache-control': 'no-store' };

function sessionOf(row: OperatorRow, operator: SignedInOperator) {
  return {
    operator: describeOperator(row),
    permissions: [...operator.permissions].sort(),
    csrfToken: operator.session.csrfToken,
    expiresAt: operator.session.expiresAt.toISOString(),
    scope: operator.session.scope,
  };
}

/** A 429 problem carries its wait in Retry-After too. */
function withRetryAfter(error: unknown, reply: FastifyReply): never {
  if (error instanceof Problem && error.status === 429) {
    void reply.header('retry-after', String(error.extensions.retryAfterSeconds));
  }
  throw error;
}

const FORGOT_PASSWORD_ANSWER = {
  message: 'If the address has an active account, a link to reset its password is on its way.',
};

/** The operator behind a request that passed the access hook (every non-public `/v1/` route). */
function signedIn(req: FastifyRequest): SignedInOperator {
  if (!req.operator) throw new Error(`${req.method} ${req.url} reached its handler without an operator`);
  return req.operator;
}

const acting = (req: FastifyRequest): Acting => ({ actor: actorOf(req), role: signedIn(req).role });

function clientOf(req: FastifyRequest) {
  return { ip: req.ip, userAgent: req.headers['user-agent'], requestId: req.id };
}

export function registerAuthRoutes(app: HttpServer, settings: CookieSettings): void {
  const tags = ['operators'];
  const cookieOptions = (req: FastifyRequest) =>
    ({
      httpOnly: true,
      sameSite: 'strict',
      path: '/',
      secure: settings.cookieSecure || req.protocol === 'https',
      maxAge: Math.floor(settings.sessionMaxMs / 1000),
    }) as const;

  app.post(
    '/v1/auth/login',
    {
      config: { public: true },
      schema: {
        tags,
        summary:
          'Sign in: sets the session cookie and returns the CSRF token; with a second factor, 202 and a challenge',
        body: Login,
        response: { 200: OperatorSession, 202: SecondFactorChallenge },
      },
    },
    async (req, reply) => {
      try {
        const outcome = await app.operators.login(req.body.email, req.body.password, clientOf(req));
        void reply.headers(noStore);
        if (outcome.kind === 'challenge') {
          void reply.status(202);
          return {
            secondFactorRequired: true as const,
            challenge: outcome.challenge,
            expiresAt: outcome.expiresAt.toISOString(),
            methods: ['totp' as const, 'recovery-code' as const],
          };
        }
        void reply.setCookie(SESSION_COOKIE, outcome.token, cookieOptions(req));
        return sessionOf(outcome.row, outcome.operator);
      } catch (error) {
        return withRetryAfter(error, reply);
      }
    },
  );
  app.post(
    '/v1/auth/login/second-factor',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Sign in, step two: the challenge and a code of the authenticator app (or a recovery code)',
        body: SecondFactorLogin,
        response: { 200: OperatorSession },
      },
    },
    async (req, reply) => {
      try {
        const { token, row, operator } = await app.operators.completeLogin(
          req.body.challenge,
          { code: req.body.code, recoveryCode: req.body.recoveryCode },
          clientOf(req),
        );
        void reply.headers(noStore).setCookie(SESSION_COOKIE, token, cookieOptions(req));
        return sessionOf(row, operator);
      } catch (error) {
        return withRetryAfter(error, reply);
      }
    },
  );
  app.post(
    '/v1/auth/password-reset/request',
    {
      config: { public: true },
      schema: {
        tags,
        summary: 'Forgot password: e-mails a single-use link (the same answer for every address)',
        body: ForgotPassword,
        response: { 202: ForgotPasswordAccepted },
      },
    },
    async (req, reply) => {
      try {
        await app.passwordRecovery.request(req.body.email, clientOf(req));
      } catch (error) {
        return withRetryAfter(error, reply);
      }
      void reply.status(202);
      return FORGOT_PASSWORD_ANSWER;
    },
  );
  app.post(
    '/v1/auth/password-reset',
    {
      config: { public: true },
      schema: {
        tags,
        summary: "Set a new password with the e-mailed link's token (once; signs the account out everywhere)",
        body: ResetPassword,
      },
    },
    async (req, reply) => {
      await app.passwordRecovery.reset(req.body.token, req.body.newPassword, clientOf(req));
      void reply.status(204);
    },
  );
  app.post(
    '/v1/auth/logout',
    {
      config: { authenticated: true, duringEnrolment: true },
      schema: { tags, summary: 'Sign out: ends this session' },
    },
    async (req, reply) => {
      await app.operators.logout(signedIn(req), actorOf(req));
      void reply.clearCookie(SESSION_COOKIE, { path: '/' }).status(204);
    },
  );
  app.get(
    '/v1/auth/session',
    {
      config: { authenticated: true, duringEnrolment: true },
      schema: {
        tags,
        summary: 'The signed-in operator, their permissions and the CSRF token',
        response: { 200: OperatorSession },
      },
    },
    async (req, reply) => {
      const operator = signedIn(req);
      const row = await app.operators.get(operator.id);
      if (!row) throw problems.notFound(`no operator ${operator.id}`);
      void reply.headers(noStore);
      return sessionOf(row, operator);
    },
  );
  app.post(
    '/v1/auth/password',
    {
      config: { authenticated: true },
      schema: {
        tags,
        summary: 'Change your own password (ends your other sessions)',
        body: ChangePassword,
      },
    },
    async (req, reply) => {
      await app.operators.changePassword(signedIn(req), req.body.currentPassword, req.body.newPassword, {
        ...clientOf(req),
        actor: actorOf(req),
      });
      void reply.status(204);
    },
  );

  app.get(
    '/v1/auth/second-factor',
    {
      config: { authenticated: true, duringEnrolment: true },
      schema: {
        tags,
        summary: 'Your second factor: enabled or not, required or not, recovery codes left',
        response: { 200: SecondFactorStatus },
      },
    },
    async (req) => app.operators.secondFactorStatus(signedIn(req).id),
  );
  app.post(
    '/v1/auth/second-factor/enrolment',
    {
      config: { authenticated: true, duringEnrolment: true },
      schema: {
        tags,
        summary: 'Start enrolling a TOTP second factor: the secret and its QR code (active once confirmed)',
        response: { 200: TotpEnrolment },
      },
    },
    async (req, reply) => {
      void reply.headers(noStore);
      return app.operators.startEnrolment(signedIn(req), actorOf(req));
    },
  );
  app.post(
    '/v1/auth/second-factor/confirm',
    {
      config: { authenticated: true, duringEnrolment: true },
      schema: {
        tags,
        summary: 'Confirm the enrolment with a code: the second factor is on; the recovery codes are shown once',
        body: SecondFactorCode,
        response: { 200: RecoveryCodes },
      },
    },
    async (req, reply) => {
      try {
        const recoveryCodes = await app.operators.confirmEnrolment(signedIn(req), req.body.code, {
          ...clientOf(req),
          actor: actorOf(req),
        });
        void reply.headers(noStore);
        return { recoveryCodes };
      } catch (error) {
        return withRetryAfter(error, reply);
      }
    },
  );
  app.post(
    '/v1/auth/second-factor/recovery-codes',
    {
      config: { authenticated: true },
      schema: {
        tags,
        summary: 'New recovery codes for a code of your authenticator app (the old ones stop working)',
        body: SecondFactorCode,
        response: { 200: RecoveryCodes },
      },
    },
    async (req, reply) => {
      try {
        const recoveryCodes = await app.operators.regenerateRecoveryCodes(signedIn(req), req.body.code, {
          ...clientOf(req),
          actor: actorOf(req),
        });
        void reply.headers(noStore);
        return { recoveryCodes };
      } catch (error) {
        return withRetryAfter(error, reply);
      }
    },
  );
  app.delete(
    '/v1/operators/:id/second-factor',
    {
      config: { permission: 'operators.second-factor' },
      schema: {
        tags,
        summary: "Reset another operator's second factor (a lost device): signs them out; audited",
        params: OperatorParams,
        response: { 200: Operator },
      },
    },
    async (req) => describeOperator(await app.operators.resetSecondFactor(req.params.id, acting(req))),
  );

  app.get(
    '/v1/operators',
    {
      config: { permission: 'operators.read' },
      schema: { tags, summary: 'Operator accounts', response: { 200: Type.Array(Operator) } },
    },
    async () => (await app.operators.list()).map(describeOperator),
  );
  app.post(
    '/v1/operators',
    {
      config: { permission: 'operators.manage' },
      schema: {
        tags,
        summary:
          'Create an operator: invited by e-mail to choose their password, or with one given or generated (shown once)',
        body: CreateOperator,
        response: { 201: CreatedOperator },
      },
    },
    async (req, reply) => {
      const { invite, ...input } = req.body;
      if (invite && input.password !== undefined) {
        throw problems.validation([
          { field: 'body.invite', message: 'an invited operator chooses their own password' },
        ]);
      }
      const by = acting(req);
      let invitation: Awaited<ReturnType<typeof app.passwordRecovery.invitation>> | undefined;
      const created = await app.operators.create(
        input,
        by,
        invite
          ? async (tx, operator) => {
              invitation = await app.passwordRecovery.invitation(tx, operator, by.actor);
            }
          : undefined,
      );
      void reply.status(201).headers(noStore);
      const operator = describeOperator(created.operator);
      if (!invitation) return { ...created, operator };
      const emailed = await app.passwordRecovery.sendInvitation(invitation.mail);
      return {
        operator,
        invitation: { to: invitation.mail.to, expiresAt: invitation.expiresAt.toISOString(), emailed },
      };
    },
  );
  app.patch(
    '/v1/operators/:id',
    {
      config: { permission: 'operators.manage' },
      schema: {
        tags,
        summary: "Change an operator's name or role, or disable them (signs them out)",
        params: OperatorParams,
        body: UpdateOperator,
        response: { 200: Operator },
      },
    },
    async (req) => describeOperator(await app.operators.update(req.params.id, req.body, acting(req))),
  );

  app.post(
    '/internal/v1/operators',
    {
      schema: {
        tags,
        summary: 'Create an operator with a service token (`mic admin create` while control runs)',
        body: CreateOperator,
        response: { 201: CreatedOperator },
      },
    },
    async (req, reply) => {
      const caller = req.serviceCaller;
      const actor = {
        type: 'cli' as const,
        id: caller?.id ?? null,
        label: `mic admin create (service token of ${caller?.caller ?? 'unknown'})`,
        requestId: req.id,
        ip: req.ip,
      };
      const created = await app.operators.create(req.body, { actor });
      void reply.status(201).headers(noStore);
      return { ...created, operator: describeOperator(created.operator) };
    },
  );
}
