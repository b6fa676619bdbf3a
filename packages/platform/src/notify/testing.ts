import { createServer } from 'node:http';
import { SMTPServer } from 'smtp-server';
import { freePort } from '../testing/index.ts';

export interface ReceivedMail {
  from: string;
  to: string[];
  raw: string;
}

/** A real SMTP server on localhost that keeps what it receives (tests only). */
export interface TestMailbox {
  /** `smtp://user:password@127.0.0.1:<port>`, for ALERT_SMTP_URL. */
  url: string;
  mails: ReceivedMail[];
  stop(): Promise<void>;
}

export async function startTestMailbox(): Promise<TestMailbox> {
  const mails: ReceivedMail[] = [];
  const port = await freePort();
  const server = new SMTPServer({
    disabledCommands: ['STARTTLS'],
    allowInsecureAuth: true,
    onAuth: (auth, _session, callback) => callback(null, { user: auth.username }),
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (chunk: Buffer) => (raw += chunk.toString()));
      stream.on('end', () => {
        mails.push({
          from: session.envelope.mailFrom ? session.envelope.mailFrom.address : '',
          to: session.envelope.rcptTo.map((r) => r.address),
          raw,
        });
        callback();
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return {
    url: `smtp://alerts:test-password@127.0.0.1:${port}`,
    mails,
    stop: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** A real HTTP endpoint that keeps every request it receives and answers `status` (tests only). */
export interface TestReceiver {
  url: string;
  requests: { method: string; url: string; headers: Record<string, string | string[] | undefined>; body: string }[];
  status: number;
  stop(): Promise<void>;
}

export async function startTestReceiver(path = '/hook'): Promise<TestReceiver> {
  const port = await freePort();
  const receiver: TestReceiver = {
    url: `http://127.0.0.1:${port}${path}`,
    requests: [],
    status: 200,
    stop: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      receiver.requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body });
      res.writeHead(receiver.status, { 'content-type': 'application/json' }).end('{}');
    });
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
  return receiver;
}
