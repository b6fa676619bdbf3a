import { pino, type DestinationStream, type Logger } from 'pino';

export type { Logger };

/**
 * Fields that may carry a credential anywhere in a log object. Redaction is by path, so every
 * secret-bearing field must be listed here; the secret-store issue's test greps all log lines for
 * known test secrets to prove it.
 */
export const REDACTED_PATHS: readonly string[] = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-hub-signature-256"]',
  'req.headers["x-mic-service-token"]',
  'req.headers["webhook-signature"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  '*.password',
  '*.token',
  '*.accessToken',
  '*.access_token',
  '*.secret',
  '*.appSecret',
  '*.signingSecret',
  '*.apiKey',
  '*.connectionString',
  'password',
  'token',
  'secret',
  'connectionString',
];

export interface LoggerOptions {
  name: string;
  level?: string;
  /** Where lines go; standard output by default. */
  destination?: DestinationStream;
}

export function createLogger({ name, level = process.env.LOG_LEVEL ?? 'info', destination }: LoggerOptions): Logger {
  const options = {
    name,
    level,
    redact: { paths: [...REDACTED_PATHS], censor: '[redacted]' },
    base: { service: name, pid: process.pid },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination ? pino(options, destination) : pino(options);
}
