import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, type Server } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { pino } from 'pino';
import { loadConfig } from '../config/index.ts';
import { freePort } from '../testing/index.ts';
import { Notifier, NoticeFailedError, notifyFields, signNotice, type Notice } from './index.ts';

interface Mail {
  from: string;
  to: string[];
  user: string | undefined;
  raw: string;
}

const mails: Mail[] = [];
const hooks: { headers: Record<string, string | string[] | undefined>; body: string }[] = [];
let smtp: SMTPServer;
let smtpPort: number;
let receiver: Server;
let receiverUrl: string;
let hookStatus = 200;

beforeAll(async () => {
  smtpPort = await freePort();
  smtp = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth(auth, _session, callback) {
      if (auth.username === 'ops' && auth.password === 's3cret-pass') return callback(null, { user: auth.username });
      callback(new Error('bad credentials'));
    },
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          user: session.user as string | undefined,
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(smtpPort, '127.0.0.1', r));
  receiver = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      hooks.push({ headers: req.headers, body });
      res.writeHead(hookStatus).end();
    });
  });
  const port = await freePort();
  await new Promise<void>((r) => receiver.listen(port, '127.0.0.1', r));
  receiverUrl = `http://127.0.0.1:${port}/hooks/T000/B000/tokenpart`;
});

afterAll(async () => {
  await new Promise<void>((r) => smtp.close(() => r()));
  receiver.closeAllConnections();
  receiver.close();
});

const notice: Notice = {
  title: 'Control unreachable for 5 min',
  text: 'The engine cannot reach control.',
  severity: 'critical',
  source: 'engine',
  state: 'raised',
  key: 'control-unreachable',
  type: 'control-unreachable',
  at: new Date('2026-01-01T00:00:00Z'),
  fields: { since: '2026-01-01T00:00:00Z' },
};

function notifier(env: Record<string, string>, logs?: string[]) {
  const settings = loadConfig(notifyFields, env);
  const logger = pino({ level: 'info' }, {
    write: (line: string) => logs?.push(line),
  } as unknown as NodeJS.WritableStream);
  return new Notifier(settings, logger);
}

describe('notifier', () => {
  it('sends an e-mail through a real SMTP server, logging in with the URL credentials, never logging them', async () => {
    const logs: string[] = [];
    const n = notifier(
      {
        ALERT_SMTP_URL: `smtp://ops:s3cret-pass@127.0.0.1:${smtpPort}`,
        ALERT_EMAIL_FROM: 'mic@example.test',
        ALERT_EMAIL_TO: 'a@example.test, b@example.test',
      },
      logs,
    );
    expect(n.channels).toEqual(['email']);
    const before = mails.length;
    expect(await n.send(notice)).toEqual([{ channel: 'email', ok: true }]);
    const mail = mails[before]!;
    expect(mail).toMatchObject({ from: 'mic@example.test', to: ['a@example.test', 'b@example.test'], user: 'ops' });
    expect(mail.raw).toContain('Subject: [MIC critical] Control unreachable for 5 min');
    expect(mail.raw).toContain('The engine cannot reach control.');
    expect(logs.join('')).not.toContain('s3cret-pass');
    n.close();
  });

  it('posts a Slack-compatible body, signed with the configured secret', async () => {
    hookStatus = 200;
    const n = notifier({ ALERT_WEBHOOK_URL: receiverUrl, ALERT_WEBHOOK_SECRET: 'hook-secret' });
    const before = hooks.length;
    await n.send({ ...notice, state: 'resolved' });
    const hook = hooks[before]!;
    const body = JSON.parse(hook.body) as Record<string, unknown>;
    expect(body).toMatchObject({ state: 'resolved', severity: 'critical', key: 'control-unreachable' });
    expect(body.text).toContain('Resolved');
    expect(body.text).toContain('Control unreachable for 5 min');
    const timestamp = hook.headers['x-mic-timestamp'] as string;
    expect(hook.headers['x-mic-signature']).toBe(signNotice('hook-secret', timestamp, hook.body));
  });

  it('throws when every channel fails, with reasons that name no secret', async () => {
    hookStatus = 500;
    const logs: string[] = [];
    const n = notifier(
      {
        ALERT_WEBHOOK_URL: receiverUrl,
        ALERT_SMTP_URL: `smtp://ops:wrong-pass@127.0.0.1:${smtpPort}`,
        ALERT_EMAIL_TO: 'a@example.test',
      },
      logs,
    );
    const error = await n.send(notice).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NoticeFailedError);
    expect((error as Error).message).toContain('answered 500');
    expect((error as Error).message).not.toContain('tokenpart');
    expect(logs.join('')).not.toContain('wrong-pass');
    expect(logs.join('')).not.toContain('tokenpart');
    n.close();
  });

  it('keeps a malformed SMTP URL out of the configuration error', () => {
    expect(() => loadConfig(notifyFields, { ALERT_SMTP_URL: 'http://ops:pw-in-url@host' })).toThrow(
      /ALERT_SMTP_URL is not valid/,
    );
    expect(() => loadConfig(notifyFields, { ALERT_SMTP_URL: 'http://ops:pw-in-url@host' })).not.toThrow(/pw-in-url/);
  });

  it('only logs a notice when no channel is configured', async () => {
    expect(await notifier({}).send(notice)).toEqual([]);
  });
});
