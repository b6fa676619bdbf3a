#!/usr/bin/env node
import { ConfigError, EXIT_CONFIG, createLogger, runMigrateCommand, runPlaneCli } from '@mic/platform';
import { controlCli } from '@mic/control/cli';
import { engineCli } from '@mic/engine/cli';
import { Supervisor, loadSupervisorConfig } from './supervisor/index.ts';
import { rotateKey } from './commands/rotate-key.ts';
import { adminCreate, auditVerify } from './commands/admin.ts';
import { configReference } from './commands/config-reference.ts';
import { backupCommand, backupList, confirmKeysCommand, restoreCommand } from './commands/backup.ts';

const USAGE = `usage: mic <command>

  start              run control and engine as two supervised processes (npm start)
  control            run the control plane alone
  engine             run the engine alone (ENGINE_ROLES=ingress,worker)
  migrate [plane]    apply pending migrations (both planes, or control / engine)
  secrets rotate-key make a new key-encryption key active and re-wrap every secret (engine running)
  admin create --email E --name N [--role owner] [--password-stdin]
                     create an operator account (password from stdin, or prompted in a terminal)
  audit verify       check the audit log's hash chain (exit 1 when it is broken)
  backup [control|engine] [--label L]
                     take a verified backup of each plane's database now (by the running plane if it runs)
  backup list [control|engine] [--bucket]
                     the backups, newest first, with their state (--bucket: the copies in the S3 bucket)
  backup confirm-keys [--yes]
                     record that the backup key and the engine keyring have a copy outside this machine
  restore <backup id> [--into <postgres URL | folder>] [--from-bucket] [--yes]
                     restore a backup into the plane's live database (asks first; a running plane stops
                     its workers, restores and starts again), or elsewhere; from the bucket when not here
  config             every environment variable, its default and meaning (Markdown)
  help               this text

Configuration comes from environment variables; see the README.`;

async function start(): Promise<number> {
  let config;
  try {
    config = loadSupervisorConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`mic: configuration error: ${error.problems.join('; ')}\n`);
      return EXIT_CONFIG;
    }
    throw error;
  }
  const logger = createLogger({ name: 'supervisor' });
  const supervisor = new Supervisor({
    config,
    logger,
    say: (line) => process.stderr.write(`${line}\n`),
    onReady: (urls) => {
      const console = urls.control.replace('127.0.0.1', 'localhost');
      process.stdout.write(
        `\nMIC is running.\n  console and control API: ${console}/\n  engine:                  ${urls.engine}\n  health:                  ${console}/health/api  ${console}/health/engine\nPress Ctrl+C to stop.\n\n`,
      );
    },
  });
  for (const signal of ['SIGTERM', 'SIGINT', 'SIGHUP'] as const) {
    process.on(signal, () => void supervisor.stop(0));
  }
  return supervisor.run();
}

const [command = 'help', ...rest] = process.argv.slice(2);
switch (command) {
  case 'start':
    process.exitCode = await start();
    break;
  case 'control':
    await runPlaneCli(controlCli, rest[0] ?? 'serve');
    break;
  case 'engine':
    await runPlaneCli(engineCli, rest[0] ?? 'serve');
    break;
  case 'migrate': {
    const planes = rest[0] ? [rest[0]] : ['control', 'engine'];
    for (const plane of planes) {
      if (plane === 'control')
        await runMigrateCommand('control', () => controlCli.databaseOptions(controlCli.loadConfig()));
      else if (plane === 'engine')
        await runMigrateCommand('engine', () => engineCli.databaseOptions(engineCli.loadConfig()));
      else {
        process.stderr.write(`mic migrate: unknown plane ${JSON.stringify(plane)} (expected control or engine)\n`);
        process.exitCode = 2;
      }
    }
    break;
  }
  case 'secrets':
    if (rest[0] === 'rotate-key') {
      process.exitCode = await rotateKey();
    } else {
      process.stderr.write(`mic secrets: unknown subcommand ${JSON.stringify(rest[0] ?? '')} (expected rotate-key)\n`);
      process.exitCode = 2;
    }
    break;
  case 'admin':
    if (rest[0] === 'create') {
      process.exitCode = await adminCreate(rest.slice(1));
    } else {
      process.stderr.write(`mic admin: unknown subcommand ${JSON.stringify(rest[0] ?? '')} (expected create)\n`);
      process.exitCode = 2;
    }
    break;
  case 'audit':
    if (rest[0] === 'verify') {
      process.exitCode = await auditVerify();
    } else {
      process.stderr.write(`mic audit: unknown subcommand ${JSON.stringify(rest[0] ?? '')} (expected verify)\n`);
      process.exitCode = 2;
    }
    break;
  case 'backup':
    if (rest[0] === 'list') process.exitCode = await backupList(rest.slice(1));
    else if (rest[0] === 'confirm-keys') process.exitCode = await confirmKeysCommand(rest.slice(1));
    else process.exitCode = await backupCommand(rest);
    break;
  case 'restore':
    process.exitCode = await restoreCommand(rest);
    break;
  case 'config':
    process.stdout.write(configReference());
    break;
  case 'help':
  case '--help':
  case '-h':
    process.stdout.write(`${USAGE}\n`);
    break;
  default:
    process.stderr.write(`mic: unknown command ${JSON.stringify(command)}\n${USAGE}\n`);
    process.exitCode = 2;
}
