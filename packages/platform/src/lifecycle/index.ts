import type { Logger } from 'pino';
import { ConfigError } from '../config/index.ts';
import { DataDirLockedError } from '../db/lock.ts';
import { EXIT_CONFIG, isSupervised, notifySupervisor, type PlaneName } from '../supervision/index.ts';
import type { HttpServer } from '../http/index.ts';

export interface RunningService {
  /** Stops accepting work, finishes or releases what is in flight, closes the database. */
  stop(): Promise<void>;
}

/** An error whose one line is all an operator needs; the process exits without a stack trace. */
export class StartupError extends Error {
  readonly isConfig: boolean;
  constructor(message: string, isConfig: boolean) {
    super(message);
    this.name = 'StartupError';
    this.isConfig = isConfig;
  }
}

/** Listens on `port`, turning "address in use" into a one-line configuration error. */
export async function listen(app: HttpServer, host: string, port: number, portEnv: string): Promise<string> {
  try {
    return await app.listen({ host, port });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'EADDRINUSE') throw new StartupError(`${portEnv}=${port} is already in use by another process`, true);
    if (code === 'EACCES')
      throw new StartupError(`${portEnv}=${port} needs privileges this process does not have`, true);
    throw error;
  }
}

function describeStartupFailure(error: unknown): { line: string; isConfig: boolean } {
  if (error instanceof ConfigError)
    return { line: `configuration error: ${error.problems.join('; ')}`, isConfig: true };
  if (error instanceof StartupError) return { line: error.message, isConfig: error.isConfig };
  if (error instanceof DataDirLockedError) return { line: error.message, isConfig: true };
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'ETIMEDOUT') {
    return {
      line: `cannot reach the database (${code}); check the *_DATABASE_URL setting and that the server runs`,
      isConfig: false,
    };
  }
  if (code === '28P01' || code === '28000')
    return { line: 'the database refused the credentials in *_DATABASE_URL', isConfig: true };
  if (code === '3D000')
    return { line: `the database named in *_DATABASE_URL does not exist: ${(error as Error).message}`, isConfig: true };
  return { line: `failed to start: ${(error as Error)?.message ?? String(error)}`, isConfig: false };
}

/**
 * Runs a plane as a process: starts it, reports readiness to the supervisor, stops gracefully on
 * SIGTERM/SIGINT (a second signal forces the exit), and exits 78 on a configuration error so the
 * supervisor does not restart a plane that can never start.
 */
export async function runProcess(
  plane: PlaneName,
  logger: Logger,
  start: () => Promise<{ service: RunningService; url: string; shutdownTimeoutMs: number }>,
): Promise<void> {
  let service: RunningService | undefined;
  let shutdownTimeoutMs = 10_000;
  let stopping = false;

  const shutdown = async (signal: string) => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(1);
    }
    stopping = true;
    logger.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      logger.error({ timeoutMs: shutdownTimeoutMs }, 'graceful shutdown timed out; exiting');
      process.exit(1);
    }, shutdownTimeoutMs + 2_000);
    force.unref();
    try {
      await service?.stop();
      logger.info('stopped');
      process.exit(0);
    } catch (error) {
      logger.error({ err: error }, 'error while stopping');
      process.exit(1);
    }
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // The supervisor is our parent; if it dies without a signal, do not linger as an orphan.
  process.on('disconnect', () => void shutdown('supervisor gone'));
  process.on('uncaughtException', (error) => {
    logger.fatal({ err: error }, 'uncaught exception');
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    logger.fatal({ err: error }, 'unhandled promise rejection');
    process.exit(1);
  });

  try {
    const started = await start();
    service = started.service;
    shutdownTimeoutMs = started.shutdownTimeoutMs;
    await notifySupervisor({ type: 'ready', plane, url: started.url });
  } catch (error) {
    const { line, isConfig } = describeStartupFailure(error);
    if (!isConfig) logger.error({ err: error }, 'startup failed');
    // Under `mic start` the supervisor prints the one line for the whole hub.
    if (isConfig && isSupervised()) await notifySupervisor({ type: 'config-error', line });
    else process.stderr.write(`mic ${plane}: ${line}\n`);
    process.exit(isConfig ? EXIT_CONFIG : 1);
  }
}
