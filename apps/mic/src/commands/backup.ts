import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import type { BackupList, KeysConfirmation, TakenBackup } from '@mic/contracts';
import {
  BackupKey,
  ConfigError,
  DataDirLockedError,
  InternalClient,
  PeerError,
  PlaneBackups,
  backupSettings,
  confirmKeys,
  formatBytes,
  keysPath,
  listManifests,
  lockHolder,
  openDatabase,
  peerTokenReader,
  planeBackupDir,
  planeSessions,
  readManifest,
  restoreBackup,
  systemClock,
  type BackupManifest,
  type BackupSettings,
  type DatabaseOptions,
  type RestoreTarget,
} from '@mic/platform';
import { CONTROL_VERSION, controlCli } from '@mic/control/cli';
import { ENGINE_VERSION, engineCli } from '@mic/engine/cli';
import { CommandError, run, withControl } from './admin.ts';

type Plane = 'control' | 'engine';
const PLANES: readonly Plane[] = ['control', 'engine'];

/** What the commands need of a plane: where its backups and database are, and how to reach it running. */
interface PlaneContext {
  plane: Plane;
  settings: BackupSettings;
  database: DatabaseOptions;
  version: string;
  /** The running plane's internal API, or undefined when no service token is at hand. */
  client: (timeoutMs: number) => InternalClient | undefined;
}

const say = (line: string) => process.stdout.write(`${line}\n`);

function loadConfig<C>(load: () => C): C {
  try {
    return load();
  } catch (error) {
    if (error instanceof ConfigError) throw new CommandError(`configuration error: ${error.problems.join('; ')}`);
    throw error;
  }
}

function loopback(host: string, port: number): string {
  const h = ['0.0.0.0', '::', ''].includes(host) ? '127.0.0.1' : host;
  return `http://${h.includes(':') ? `[${h}]` : h}:${port}`;
}

/** Where the engine's key-encryption keys are, as the engine's configuration says. */
function engineKeyring(): string {
  const config = loadConfig(() => engineCli.loadConfig());
  if (config.keyring) return "the engine's keyring: the ENGINE_KEYRING environment variable";
  return `the engine's keyring: ${config.keyringFile ?? keysPath(config.dataDir, 'engine-keyring.json') ?? 'memory'}`;
}

function planeContext(plane: Plane): PlaneContext {
  const control = loadConfig(() => controlCli.loadConfig());
  const tokensFile = keysPath(control.dataDir, 'service-tokens.json');
  const hasTokensFile = tokensFile !== undefined && existsSync(tokensFile);
  if (plane === 'control') {
    const settings = backupSettings(control, [engineKeyring()]);
    if (!settings) throw new CommandError('backups are off: MIC_DATA_DIR is in memory and BACKUP_DIR is unset');
    return {
      plane,
      settings,
      database: controlCli.databaseOptions(control),
      version: CONTROL_VERSION,
      // Control accepts the token the engine presents to it.
      client: (timeoutMs) =>
        hasTokensFile
          ? new InternalClient({
              baseUrl: loopback(control.host, control.port),
              token: peerTokenReader(tokensFile, 'engine'),
              timeoutMs,
              peer: 'control',
            })
          : undefined,
    };
  }
  const engine = loadConfig(() => engineCli.loadConfig());
  const settings = backupSettings(engine, [engineKeyring()]);
  if (!settings) throw new CommandError('backups are off: MIC_DATA_DIR is in memory and BACKUP_DIR is unset');
  return {
    plane,
    settings,
    database: engineCli.databaseOptions(engine),
    version: ENGINE_VERSION,
    // The engine accepts the token control presents to it (ENGINE_TOKEN, or the embedded token file).
    client: (timeoutMs) =>
      control.peerToken || hasTokensFile
        ? new InternalClient({
            baseUrl: control.engineUrl,
            token: control.peerToken ? () => control.peerToken! : peerTokenReader(tokensFile!, 'control'),
            timeoutMs,
            peer: 'engine',
          })
        : undefined,
  };
}

function describePeerError(context: PlaneContext, error: PeerError): CommandError {
  return new CommandError(`${context.plane}: ${error.problem?.detail ?? error.problem?.title ?? error.message}`);
}

/** Whether the plane is running: PGlite by its folder's lock, Postgres by whether it answers. */
async function runningPlane(context: PlaneContext): Promise<{ pid: number | null } | null> {
  if (!context.database.url) {
    const pid = lockHolder(context.database.dataDir);
    return pid === null ? null : { pid };
  }
  const client = context.client(5_000);
  if (!client) return null;
  try {
    await client.request<BackupList>('GET', '/internal/v1/backups');
    return { pid: null };
  } catch (error) {
    if (error instanceof PeerError && error.isUnreachable) return null;
    throw error;
  }
}

const BACKUP_TIMEOUT_MS = 6 * 3_600_000;

/** Takes one plane's backup: the running plane does it when it runs, else this process does. */
async function backUpPlane(context: PlaneContext, label: string | null): Promise<BackupManifest> {
  const running = await runningPlane(context);
  if (running) {
    const client = context.client(BACKUP_TIMEOUT_MS);
    if (!client) {
      throw new CommandError(
        `${context.plane} runs${running.pid ? ` (pid ${running.pid})` : ''}, but there is no service token to ask it with`,
      );
    }
    say(`${context.plane}: running${running.pid ? ` (pid ${running.pid})` : ''}; it takes the backup`);
    try {
      const taken = await client.request<TakenBackup>('POST', '/internal/v1/backups', label ? { label } : {});
      taken.steps.forEach(say);
      return taken.backup;
    } catch (error) {
      if (error instanceof PeerError) throw describePeerError(context, error);
      throw error;
    }
  }
  let database;
  try {
    database = await openDatabase(context.database);
  } catch (error) {
    if (error instanceof DataDirLockedError) return backUpPlane(context, label); // it started meanwhile
    throw new CommandError(`${context.plane}: cannot open the database: ${(error as Error).message}`);
  }
  try {
    const backups = new PlaneBackups({
      plane: context.plane,
      database,
      settings: context.settings,
      clock: systemClock,
      version: context.version,
    });
    return await backups.take({ trigger: 'manual', label, onStep: say });
  } finally {
    await database.close();
  }
}

function planesOf(positional: string | undefined): readonly Plane[] {
  if (!positional || positional === 'all') return PLANES;
  if (!(PLANES as readonly string[]).includes(positional)) {
    throw new CommandError(`unknown plane ${JSON.stringify(positional)} (expected control, engine or all)`);
  }
  return [positional as Plane];
}

function parse<O extends ParseArgsOptionsConfig>(args: string[], options: O) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: true });
  } catch (error) {
    throw new CommandError((error as Error).message);
  }
}

/** `mic backup [control|engine|all] [--label L]` */
export function backupCommand(args: string[]): Promise<number> {
  return run('backup', async () => {
    const { values, positionals } = parse(args, { label: { type: 'string' } });
    const planes = planesOf(positionals[0]);
    let failed = 0;
    let locations: string[] = [];
    for (const plane of planes) {
      const context = planeContext(plane);
      locations = context.settings.keyLocations;
      const manifest = await backUpPlane(context, typeof values.label === 'string' ? values.label : null);
      if (manifest.state === 'verified') {
        say(`${plane}: backup ${manifest.id} is verified, in ${context.settings.dir}`);
      } else {
        failed++;
        process.stderr.write(`mic backup: ${plane}: backup ${manifest.id} failed: ${manifest.error}\n`);
      }
    }
    say(
      `No backup contains the keys needed to restore it. Keep a copy of each outside this machine:\n` +
        locations.map((l) => `  ${l}`).join('\n') +
        `\nthen run: mic backup confirm-keys`,
    );
    return failed ? 1 : 0;
  });
}

function ago(iso: string): string {
  const hours = (Date.now() - new Date(iso).getTime()) / 3_600_000;
  return hours < 48 ? `${hours.toFixed(1)} h ago` : `${(hours / 24).toFixed(0)} d ago`;
}

/** `mic backup list [control|engine|all]`: read from the backup folder, running planes or not. */
export function backupList(args: string[]): Promise<number> {
  return run('backup list', async () => {
    const { positionals } = parse(args, {});
    for (const plane of planesOf(positionals[0])) {
      const context = planeContext(plane);
      const manifests = await listManifests(planeBackupDir(context.settings.dir, plane));
      say(`${plane}: ${manifests.length} backup(s) in ${planeBackupDir(context.settings.dir, plane)}`);
      for (const m of manifests) {
        const rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0);
        say(
          `  ${m.id}  ${m.state.padEnd(8)}  ${m.trigger.padEnd(9)}  ${ago(m.createdAt).padStart(10)}  ` +
            (m.state === 'verified' ? `${formatBytes(m.sizeBytes ?? 0)}, ${rows} rows` : `${m.error}`) +
            (m.label ? `  "${m.label}"` : ''),
        );
      }
    }
    return 0;
  });
}

async function ask(question: string): Promise<string> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return (await rl.question(question)).trim();
  } finally {
    rl.close();
  }
}

/** `mic backup confirm-keys [--yes]`: records that the keys have a copy outside this machine. */
export function confirmKeysCommand(args: string[]): Promise<number> {
  return run('backup confirm-keys', async () => {
    const { values } = parse(args, { yes: { type: 'boolean', default: false } });
    const context = planeContext('control');
    say(`The keys a restore needs:\n${context.settings.keyLocations.map((l) => `  ${l}`).join('\n')}`);
    BackupKey.load(context.settings.keyFile);
    if (!values.yes) {
      if (!process.stdin.isTTY) throw new CommandError('not confirmed: run it in a terminal, or pass --yes');
      const answer = await ask('Is a copy of each of them kept outside this machine? [y/N] ');
      if (!/^y(es)?$/i.test(answer)) throw new CommandError('not confirmed');
    }
    const by = `mic backup confirm-keys (${userInfo().username})`;
    const confirmation = await withControl(
      async (admin) => {
        const done = await confirmKeys(context.settings.dir, context.settings.keyFile, by, new Date());
        await admin.audit.record({
          actor: { type: 'cli', id: null, label: by },
          action: 'backup.keys-confirmed',
          after: done,
        });
        return done;
      },
      (control) => control.request<KeysConfirmation>('POST', '/internal/v1/backups/keys-confirmation', { by }),
    );
    say(`confirmed at ${confirmation.confirmedAt} for backup key ${confirmation.backupKeyId}`);
    return 0;
  });
}

/** The manifest named by a backup id (`control-…`) or a manifest path, and the folder it is in. */
async function findBackup(
  reference: string,
): Promise<{ manifest: BackupManifest; folder: string; context: PlaneContext }> {
  if (reference.endsWith('.json') && existsSync(reference)) {
    const manifest = await readManifest(reference);
    return { manifest, folder: dirname(reference), context: planeContext(manifest.plane as Plane) };
  }
  const plane = PLANES.find((p) => reference.startsWith(`${p}-`));
  if (!plane) throw new CommandError(`${reference} is neither a backup id (control-… or engine-…) nor a manifest file`);
  const context = planeContext(plane);
  const folder = planeBackupDir(context.settings.dir, plane);
  const path = join(folder, `${basename(reference)}.json`);
  if (!existsSync(path)) throw new CommandError(`no backup ${reference} in ${folder} (mic backup list shows them)`);
  return { manifest: await readManifest(path), folder, context };
}

/** `mic restore <backup id | manifest> [--into <postgres URL | folder>] [--yes]` */
export function restoreCommand(args: string[]): Promise<number> {
  return run('restore', async () => {
    const { values, positionals } = parse(args, { into: { type: 'string' }, yes: { type: 'boolean', default: false } });
    if (!positionals[0]) throw new CommandError('which backup? mic restore <backup id> (mic backup list shows them)');
    const { manifest, folder, context } = await findBackup(positionals[0]);
    const rows = Object.values(manifest.rowCounts).reduce((a, b) => a + b, 0);
    say(
      `${manifest.plane}: backup ${manifest.id} taken ${manifest.createdAt} (${manifest.kind}, ` +
        `${Object.keys(manifest.rowCounts).length} tables, ${rows} rows${manifest.label ? `, "${manifest.label}"` : ''})`,
    );
    const into = typeof values.into === 'string' ? values.into : undefined;
    let target: RestoreTarget;
    if (into) {
      target = /^postgres(ql)?:\/\//.test(into)
        ? { kind: 'postgres', url: into, replace: false }
        : { kind: 'pglite', dir: into, replace: false };
    } else {
      const running = await runningPlane(context);
      if (running) {
        throw new CommandError(
          `${manifest.plane} runs${running.pid ? ` (pid ${running.pid})` : ''}: stop it (and every replica) first, so that no worker runs during the restore`,
        );
      }
      const sessions = context.database.url ? await planeSessions(context.database.url, context.database.schema) : 0;
      if (sessions > 0) {
        throw new CommandError(
          `${manifest.plane} has ${sessions} open database session(s) (mic-${context.database.schema}): stop every replica first, so that no worker runs during the restore`,
        );
      }
      target = context.database.url
        ? { kind: 'postgres', url: context.database.url, replace: true }
        : { kind: 'pglite', dir: context.database.dataDir, replace: true };
      if (!values.yes) {
        if (!process.stdin.isTTY)
          throw new CommandError('restoring into the live database needs --yes outside a terminal');
        const answer = await ask(
          `This replaces ${manifest.plane}'s live database with the backup (the current one is kept aside). Type ${manifest.plane} to go on: `,
        );
        if (answer !== manifest.plane) throw new CommandError('cancelled');
      }
    }
    let result;
    try {
      result = await restoreBackup({
        folder,
        manifest,
        key: BackupKey.load(context.settings.keyFile),
        target,
        pgTools: context.settings.pgTools,
        now: new Date(),
        onStep: say,
      });
    } catch (error) {
      throw new CommandError(`${manifest.plane}: restore failed, nothing was changed: ${(error as Error).message}`);
    }
    if (!into) {
      const by = `mic restore (${userInfo().username})`;
      const report = {
        plane: manifest.plane,
        backupId: manifest.id,
        backupCreatedAt: manifest.createdAt,
        keptAs: result.keptAs,
        by,
      };
      await withControl(
        (admin) =>
          admin.audit.record({
            actor: { type: 'cli', id: null, label: by },
            action: 'backup.restore',
            target: { type: 'plane', id: manifest.plane },
            after: report,
          }),
        (control) => control.request('POST', '/internal/v1/backups/restores', report),
      );
      say(`${manifest.plane}: restored and recorded in the audit log; start MIC again (mic start)`);
      if (result.keptAs.length)
        say(`${manifest.plane}: once all is well, delete the previous copy: ${result.keptAs.join(', ')}`);
    } else {
      say(`${manifest.plane}: restored into ${into}`);
    }
    return 0;
  });
}
