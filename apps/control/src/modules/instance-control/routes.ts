import { Type } from 'typebox';
import {
  ControlPublicKey,
  InstanceCommand,
  InstanceCommandParams,
  InstanceCommandQuery,
  InstanceParams,
  InstancePasswordReset,
  InstancePasswordResetAnswer,
  InstanceUptime,
  IssueInstanceCommand,
} from '@mic/contracts';
import { Problem, problems, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import { instancePasswordResetMail } from '../auth/index.ts';
import type { InstanceUptimeInfo } from './availability.ts';
import type { InstanceCommandRow } from './service.ts';

const iso = (date: Date | null) => date?.toISOString() ?? null;

export function serializeCommand(row: InstanceCommandRow): InstanceCommand {
  return {
    id: row.id,
    instanceId: row.instanceId,
    command: row.command as InstanceCommand['command'],
    args: row.args,
    state: row.state as InstanceCommand['state'],
    attempts: row.attempts,
    result: row.result ?? null,
    error: row.error ?? null,
    requestedBy: row.requestedBy,
    createdAt: row.createdAt.toISOString(),
    sentAt: iso(row.sentAt),
    completedAt: iso(row.completedAt),
  };
}

const serializeUptime = (u: InstanceUptimeInfo): InstanceUptime => ({
  ...u,
  since: iso(u.since),
  lastOkAt: iso(u.lastOkAt),
});

const notControllable = (instanceId: string) =>
  new Problem({
    status: 404,
    type: 'instance-not-controllable',
    title: 'No control URL is known for this instance',
    detail: `instance ${instanceId} is unknown or has no control URL`,
  });

const noAdminContact = (instanceId: string) =>
  new Problem({
    status: 409,
    type: 'no-admin-contact',
    title: "The instance's tenant has no admin contact to e-mail",
    detail: `no admin contact is known for instance ${instanceId}: ask for the link to be shown instead`,
  });

const commandFailed = (error: { code: string; message: string }, answered: boolean) =>
  new Problem({
    status: 502,
    type: 'instance-command-failed',
    title: answered ? 'The instance could not reset the password' : 'The instance did not answer',
    detail: `${error.code}: ${error.message}`,
    code: error.code,
  });

/**
 * The operator's view of instance control. Health and backup are sent from here in the background;
 * a password reset is run within the request, since only the operator waiting for it may see its
 * link. Pause and resume are issued by the flows that own them, through the service.
 */
export function registerInstanceControlRoutes(app: HttpServer): void {
  const tags = ['instance control'];
  app.get(
    '/v1/instance-control/public-key',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags,
        summary: "Control's public key, to configure instances with (commands are signed with it)",
        response: { 200: ControlPublicKey },
      },
    },
    async () => app.instanceControl.publicKey(),
  );
  app.get(
    '/v1/instances/:instanceId/commands',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags,
        summary: "An instance's commands, newest first",
        params: InstanceParams,
        querystring: InstanceCommandQuery,
        response: { 200: Type.Array(InstanceCommand) },
      },
    },
    async (req) =>
      (await app.instanceControl.list(req.params.instanceId, { limit: req.query.limit ?? 50 })).map(serializeCommand),
  );
  app.get(
    '/v1/instances/:instanceId/commands/:commandId',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags,
        summary: 'One command: its state, attempts and result',
        params: InstanceCommandParams,
        response: { 200: InstanceCommand },
      },
    },
    async (req) => {
      const row = await app.instanceControl.get(req.params.commandId);
      if (!row || row.instanceId !== req.params.instanceId) throw problems.notFound('no such command');
      return serializeCommand(row);
    },
  );
  app.post(
    '/v1/instances/:instanceId/commands',
    {
      config: { permission: 'instances.command' },
      schema: {
        tags,
        summary: 'Send health or backup to an instance (202: sent in the background, retried until it expires)',
        params: InstanceParams,
        body: IssueInstanceCommand,
        response: { 202: InstanceCommand },
      },
    },
    async (req, reply) => {
      const { instanceId } = req.params;
      if (!(await app.instanceControl.directory().controlTarget(instanceId))) throw notControllable(instanceId);
      const row = await app.db.orm.transaction(async (tx) => {
        const issued = await app.instanceControl.issue(
          { instanceId, command: req.body.command, args: req.body.args ?? {}, requestedBy: req.operator?.id ?? null },
          tx,
        );
        await app.audit.record(
          {
            actor: actorOf(req),
            action: `instance.${req.body.command}`,
            target: { type: 'instance', id: instanceId },
            after: { commandId: issued.id, command: issued.command, args: issued.args },
          },
          tx,
        );
        return issued;
      });
      void reply.status(202);
      return serializeCommand(row);
    },
  );
  app.post(
    '/v1/instances/:instanceId/password-reset',
    {
      config: { permission: 'instances.password-reset' },
      schema: {
        tags,
        summary:
          "A single-use password reset link for an instance's user: shown once in this answer, or e-mailed to the " +
          "tenant's admin contact; control keeps no copy",
        params: InstanceParams,
        body: InstancePasswordReset,
        response: { 200: InstancePasswordResetAnswer },
      },
    },
    async (req, reply) => {
      const { instanceId } = req.params;
      const delivery = req.body.delivery ?? 'show';
      const directory = app.instanceControl.directory();
      if (!(await directory.controlTarget(instanceId))) throw notControllable(instanceId);
      const contact = delivery === 'email' ? ((await directory.adminContact?.(instanceId)) ?? null) : null;
      if (delivery === 'email' && !contact) throw noAdminContact(instanceId);
      const username = req.body.username ?? null;
      const actor = actorOf(req);
      const row = await app.db.orm.transaction(async (tx) => {
        const issued = await app.instanceControl.issueDirect(
          {
            instanceId,
            command: 'password-reset',
            args: username ? { username } : {},
            requestedBy: req.operator?.id ?? null,
          },
          tx,
        );
        await app.audit.record(
          {
            actor,
            action: 'instance.password-reset',
            target: { type: 'instance', id: instanceId },
            after: { commandId: issued.id, username, delivery, ...(contact ? { sentTo: contact.email } : {}) },
          },
          tx,
        );
        return issued;
      });
      const outcome = await app.instanceControl.runNow(row.id);
      if (!outcome.ok) throw commandFailed(outcome.error, outcome.answered);
      // The sender checked the result against the password-reset schema.
      const { resetUrl, expiresAt } = outcome.result as { resetUrl: string; expiresAt: string };
      if (contact) {
        await app.accountMail
          .send(
            instancePasswordResetMail(contact.locale ?? 'es', {
              to: contact.email,
              instanceName: contact.instanceName ?? instanceId,
              username,
              link: resetUrl,
              expiresAt: new Date(expiresAt),
            }),
          )
          .catch((error: unknown) => {
            req.log.error({ err: error, commandId: row.id }, 'instance password reset e-mail not sent');
            throw commandFailed({ code: 'email-not-sent', message: 'the reset link could not be e-mailed' }, true);
          });
      }
      await app.audit.record({
        actor,
        action: 'instance.password-reset-link',
        target: { type: 'instance', id: instanceId },
        after: { commandId: row.id, delivery, expiresAt, ...(contact ? { sentTo: contact.email } : {}) },
      });
      void reply.headers({ 'cache-control': 'no-store' });
      return {
        commandId: row.id,
        delivery,
        expiresAt,
        ...(contact ? { sentTo: contact.email } : { resetUrl }),
      };
    },
  );
  app.get(
    '/v1/instances/:instanceId/uptime',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags,
        summary: 'Whether the instance answers its health probes, and its uptime over 24 h and 30 d',
        params: InstanceParams,
        response: { 200: InstanceUptime },
      },
    },
    async (req) => serializeUptime(await app.instanceControl.uptime(req.params.instanceId)),
  );
}
