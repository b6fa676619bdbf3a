import { randomBytes } from 'node:crypto';
import { sql } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ControlPublicKey, InstanceCommand, InstancePasswordResetAnswer } from '@mic/contracts';
import { startNexusSim, type NexusSim } from '@mic/nexus-sim';
import { eventually, freePort, startTestMailbox, type TestMailbox } from '@mic/platform/testing';
import { mailText, startTestControl, type TestControl } from '../../testing.ts';

let control: TestControl;
let mailbox: TestMailbox;
let sim: NexusSim;
const targets = new Map<string, string>();

beforeAll(async () => {
  mailbox = await startTestMailbox();
  control = await startTestControl({
    ACCOUNT_SMTP_URL: mailbox.url,
    QUEUE_POLLING_INTERVAL: '500ms',
    INSTANCE_COMMAND_TIMEOUT: '1s',
    INSTANCE_COMMAND_RETRY_BASE: '100ms',
  });
  control.app.instanceControl.useDirectory({
    controlTarget: async (id) => (targets.has(id) ? { controlUrl: targets.get(id)! } : null),
    probeTargets: async () => [],
    adminContact: async (id) =>
      id === 'ins_reset' ? { email: 'it@acme.example', locale: 'en', instanceName: 'Acme Nexus' } : null,
  });
  const publicKey = (
    await control.app.inject({ method: 'GET', url: '/v1/instance-control/public-key', headers: control.operator })
  ).json<ControlPublicKey>();
  sim = await startNexusSim({
    secrets: [`whsec_${randomBytes(24).toString('base64')}`],
    controlPublicKey: publicKey.publicKeyPem,
    instanceId: 'ins_reset',
  });
  targets.set('ins_reset', `${sim.url}/control`);
});
afterAll(async () => {
  await sim?.stop();
  await control?.stop();
  await mailbox?.stop();
});

const resetPassword = (instanceId: string, payload: object, headers = control.operator) =>
  control.app.inject({ method: 'POST', url: `/v1/instances/${instanceId}/password-reset`, headers, payload });

/** Everything control keeps about commands and the audit log, as text. */
async function storedText(): Promise<string> {
  const commands = await control.app.db.orm.execute(sql`select * from instance_commands`);
  const audit = await control.app.db.orm.execute(sql`select * from audit_log`);
  return JSON.stringify([commands.rows, audit.rows]);
}

describe('instance password reset', () => {
  it('shows the instance’s single-use link once; control keeps no copy; audited', async () => {
    const res = await resetPassword('ins_reset', { username: 'maria' });
    expect(res.statusCode).toBe(200);
    expect(res.headers['cache-control']).toBe('no-store');
    const body = res.json<InstancePasswordResetAnswer>();
    const [made] = sim.instance().passwordResets;
    expect(made).toMatchObject({ username: 'maria' });
    expect(body).toEqual({
      commandId: expect.any(String) as string,
      delivery: 'show',
      resetUrl: made!.resetUrl,
      expiresAt: made!.expiresAt,
    });
    expect(sim.commands()).toEqual([
      expect.objectContaining({ id: body.commandId, command: 'password-reset', args: { username: 'maria' } }),
    ]);

    // Not in the database, nor in any later answer.
    expect(await storedText()).not.toContain(made!.resetUrl);
    const command = await control.app.inject({
      method: 'GET',
      url: `/v1/instances/ins_reset/commands/${body.commandId}`,
      headers: control.operator,
    });
    expect(command.json<InstanceCommand>()).toMatchObject({
      state: 'succeeded',
      result: { expiresAt: made!.expiresAt },
    });
    expect(command.body).not.toContain(made!.resetUrl);

    const rows = await control.app.audit.list({ filters: { action: 'instance.*', targetId: 'ins_reset' } });
    expect(rows.items.map((i) => [i.action, i.after])).toEqual(
      expect.arrayContaining([
        ['instance.password-reset', { commandId: body.commandId, username: 'maria', delivery: 'show' }],
        ['instance.password-reset-link', { commandId: body.commandId, delivery: 'show', expiresAt: made!.expiresAt }],
      ]),
    );
  });

  it("e-mails the link to the tenant's admin contact instead, when asked", async () => {
    const res = await resetPassword('ins_reset', { delivery: 'email' });
    const body = res.json<InstancePasswordResetAnswer>();
    expect(body).toMatchObject({ delivery: 'email', sentTo: 'it@acme.example' });
    expect(body.resetUrl).toBeUndefined();
    const made = sim.instance().passwordResets.at(-1)!;
    expect(made.username).toBe('admin');
    const mail = await eventually(async () => mailbox.mails.find((m) => m.to.includes('it@acme.example')));
    expect(mailText(mail)).toContain(`It works once, until 2026`);
    expect(mailText(mail)).toContain(made.resetUrl);
    expect(mailText(mail)).toContain('the administrator of Acme Nexus');
    expect(res.body).not.toContain(made.resetUrl);
    expect(await storedText()).not.toContain(made.resetUrl);
  });

  it('refuses e-mail without an admin contact, and reports an instance that does not answer', async () => {
    const port = await freePort();
    targets.set('ins_gone', `http://127.0.0.1:${port}/control`);
    const noContact = await resetPassword('ins_gone', { delivery: 'email' });
    expect(noContact.json()).toMatchObject({ status: 409, type: '/problems/no-admin-contact' });

    const gone = await resetPassword('ins_gone', {});
    expect(gone.json()).toMatchObject({ status: 502, type: '/problems/instance-command-failed', code: 'unreachable' });
    const [row] = await control.app.instanceControl.list('ins_gone');
    expect(row).toMatchObject({ command: 'password-reset', state: 'failed', attempts: 3 });
    expect((await resetPassword('ins_unknown', {})).statusCode).toBe(404);
  });

  it('keeps no link either when a password-reset goes through the background queue', async () => {
    const row = await control.app.instanceControl.issue({ instanceId: 'ins_reset', command: 'password-reset' });
    const done = await eventually(async () => {
      const current = await control.app.instanceControl.get(row.id);
      return current?.state === 'succeeded' ? current : undefined;
    });
    const made = sim.instance().passwordResets.at(-1)!;
    expect(done.result).toEqual({ expiresAt: made.expiresAt });
    expect(await storedText()).not.toContain(made.resetUrl);
  });

  it('is for roles with instances.password-reset', async () => {
    expect((await resetPassword('ins_reset', {}, await control.loginAs('support'))).statusCode).toBe(200);
    const readOnly = await resetPassword('ins_reset', {}, await control.loginAs('read-only'));
    expect(readOnly.json()).toMatchObject({ status: 403, permission: 'instances.password-reset' });
  });
});
