import { ConfigError } from '../config/index.ts';
import { DataDirLockedError, openDatabase, type DatabaseOptions } from '../db/index.ts';
import { EXIT_CONFIG, listenToSupervisor, type PlaneName } from '../supervision/index.ts';
import { createLogger, type Logger } from '../logging/index.ts';
import { runProcess, type RunningService } from '../lifecycle/index.ts';

function fail(plane: PlaneName, line: string, code: number): never {
  process.stderr.write(`mic migrate ${plane}: ${line}\n`);
  process.exit(code);
}

/**
 * `mic migrate`: applies a plane's pending migrations. On PGlite only a folder that no running
 * plane holds can be migrated; a running plane has applied its migrations when it started.
 */
export async function runMigrateCommand(plane: PlaneName, options: () => DatabaseOptions): Promise<void> {
  let resolved: DatabaseOptions;
  try {
    resolved = options();
  } catch (error) {
    if (error instanceof ConfigError) fail(plane, `configuration error: ${error.problems.join('; ')}`, EXIT_CONFIG);
    throw error;
  }
  let db;
  try {
    db = await openDatabase(resolved);
  } catch (error) {
    if (error instanceof DataDirLockedError) {
      fail(
        plane,
        `refused: the running ${plane} plane (pid ${error.holderPid}) holds ${resolved.dataDir}; it applied its migrations when it started, so restart it to apply new ones`,
        EXIT_CONFIG,
      );
    }
    fail(plane, `cannot open the database: ${(error as Error).message}`, 1);
  }
  try {
    const applied = await db.migrate();
    process.stdout.write(
      applied.length
        ? `${plane}: applied ${applied.length} migration(s): ${applied.join(', ')}\n`
        : `${plane}: database is up to date\n`,
    );
  } finally {
    await db.close();
  }
}

export interface PlaneCli<C extends { logLevel: string; shutdownTimeout: number }> {
  plane: PlaneName;
  loadConfig(): C;
  start(config: C, logger: Logger): Promise<{ service: RunningService; url: string }>;
  databaseOptions(config: C): DatabaseOptions;
}

/** A plane's own command line: `serve` (default) or `migrate`. */
export async function runPlaneCli<C extends { logLevel: string; shutdownTimeout: number }>(
  cli: PlaneCli<C>,
  command = process.argv[2] ?? 'serve',
): Promise<void> {
  if (command === 'serve') {
    const logger = createLogger({ name: cli.plane });
    listenToSupervisor();
    await runProcess(cli.plane, logger, async () => {
      const config = cli.loadConfig();
      logger.level = config.logLevel;
      const started = await cli.start(config, logger);
      return { ...started, shutdownTimeoutMs: config.shutdownTimeout };
    });
  } else if (command === 'migrate') {
    await runMigrateCommand(cli.plane, () => cli.databaseOptions(cli.loadConfig()));
  } else {
    process.stderr.write(`mic ${cli.plane}: unknown command ${JSON.stringify(command)} (expected serve or migrate)\n`);
    process.exit(2);
  }
}
