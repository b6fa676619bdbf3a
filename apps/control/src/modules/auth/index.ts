import fp from 'fastify-plugin';
import cookie from '@fastify/cookie';
import type { HttpServer, Logger } from '@mic/platform';
import { Operators, type AuditRecorder, type AuthSettings } from './service.ts';
import { registerAccessControl, type RouteAccess } from './access.ts';
import { registerAuthRoutes } from './routes.ts';
import { Mailer, type MailerSettings } from '@mic/platform';
import { PasswordRecovery, type PasswordRecoverySettings } from './recovery.ts';
import { SecondFactorKey, type SecondFactorKeySource } from './second-factor.ts';

export { Operators, SESSION_COOKIE, type AuthSettings, type SignedInOperator } from './service.ts';
export { accessOf, type Access, type RouteAccess } from './access.ts';
export { PERMISSIONS, ROLES, ROLE_PERMISSIONS, roleHas, type Permission, type Role } from './permissions.ts';
export { instancePasswordResetMail, type AccountMail } from './mail.ts';
export { secondFactorKeySource, totpCode, type SecondFactorKeySource } from './second-factor.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** Operator accounts, sign-in, sessions and second factors. */
    operators: Operators;
    /** "Forgot password" links by e-mail. */
    passwordRecovery: PasswordRecovery;
    /** Account e-mails to one person (password recovery, an instance's reset link). */
    accountMail: Mailer;
    /** Every `/v1/` route with the access it declared. */
    routeAccess: readonly RouteAccess[];
  }
}

export type AuthOptions = AuthSettings & {
  cookieSecure: boolean;
  secondFactorKey: SecondFactorKeySource;
  mail: MailerSettings;
  recovery: PasswordRecoverySettings;
};

/**
 * Operators and access control. Registered before every other module: its onRoute hook checks that
 * each `/v1/` route declares its permission, and only sees routes registered after it.
 */
export default fp(
  async (app: HttpServer, options: AuthOptions) => {
    await app.register(cookie);
    // The audit module registers after this one (its routes need the access hook), so it is looked
    // up when a row is written.
    const audit: AuditRecorder = { record: (entry, tx) => app.audit.record(entry, tx) };
    const logger = app.log.child({ module: 'auth' }) as Logger;
    const key = SecondFactorKey.load(options.secondFactorKey);
    const mailer = new Mailer(options.mail, logger);
    app.decorate('operators', new Operators(app.db.orm, app.clock, audit, options, key));
    app.decorate('accountMail', mailer);
    app.decorate(
      'passwordRecovery',
      new PasswordRecovery({ db: app.db.orm, clock: app.clock, audit, mailer, logger, settings: options.recovery }),
    );
    app.decorate('routeAccess', registerAccessControl(app));
    registerAuthRoutes(app, options);
    app.addHook('onReady', async () => {
      if (!app.hasDecorator('audit')) throw new Error('the auth module needs the audit module, registered after it');
    });
    app.addHook('onClose', async () => mailer.close());
  },
  { name: 'auth' },
);
