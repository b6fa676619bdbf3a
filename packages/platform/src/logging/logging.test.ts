import { describe, expect, it } from 'vitest';
import { Writable } from 'node:stream';
import { createLogger } from './index.ts';

function capture() {
  const lines: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, done) {
      lines.push(chunk.toString());
      done();
    },
  });
  return { lines, logger: createLogger({ name: 'test', level: 'info', destination }) };
}

describe('log redaction', () => {
  it('never writes credentials found in headers or well-known fields', () => {
    const { lines, logger } = capture();
    logger.info({
      req: {
        headers: {
          authorization: 'Bearer tok_SECRET1',
          cookie: 'sid=SECRET2',
          'x-hub-signature-256': 'sha256=SECRET3',
        },
      },
      channel: { accessToken: 'EAAG_SECRET4', name: 'visible' },
      instance: { signingSecret: 'whsec_SECRET5' },
      password: 'SECRET6',
    });
    const text = lines.join('');
    expect(text).not.toMatch(/SECRET\d/);
    expect(text).toContain('visible');
    expect(text).toContain('[redacted]');
  });
});
