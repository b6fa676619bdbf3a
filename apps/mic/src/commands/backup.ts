import { existsSync } from 'node:fs';
import { userInfo } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { createInterface } from 'node:readline/promises';
import { parseArgs, type ParseArgsOptionsConfig } from 'node:util';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BackupList, KeysConfirmation, LiveRestore, TakenBackup } from '@mic/contracts';
import {
  BackupBucket,
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
  latestLiveRestore,
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

function copyState(m: BackupManifest): string {
  if (!m.copy) return '';
  return m.copy.state === 'uploaded' ? '  copied to the bucket' : `  NOT copied to the bucket: ${m.copy.error}`;
}

/** `mic backup list [control|engine|all] [--bucket]`: read from the backup folder (or the bucket), running planes or not. */
export function backupList(args: string[]): Promise<number> {
  return run('backup list', async () => {
    const { values, positionals } = parse(args, { bucket: { type: 'boolean', default: false } });
    for (const plane of planesOf(positionals[0])) {
      const context = planeContext(plane);
      let manifests: BackupManifest[];
      let where = planeBackupDir(context.settings.dir, plane);
      if (values.bucket) {
        const bucket = bucketOf(context);
        if (!bucket) throw new CommandError('no bucket is configured (BACKUP_S3_BUCKET)');
        where = bucket.location;
        try {
          manifests = await bucket.list(plane);
        } catch (error) {
          throw new CommandError(`${plane}: cannot list ${where}: ${bucket.describe(error)}`);
        } finally {
          bucket.close();
        }
      } else {
        manifests = await listManifests(where);
      }
      say(`${plane}: ${manifests.length} backup(s) in ${where}`);
      for (const m of manifests) {
        const rows = Object.values(m.rowCounts).reduce((a, b) => a + b, 0);
        say(
          `  ${m.id}  ${m.state.padEnd(8)}  ${m.trigger.padEnd(9)}  ${ago(m.createdAt).padStart(10)}  ` +
            (m.state === 'verified' ? `${formatBytes(m.sizeBytes ?? 0)}, ${rows} rows` : `${m.error}`) +
            (m.label ? `  "${m.label}"` : '') +
            (values.bucket ? '' : copyState(m)),
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

function bucketOf(context: PlaneContext): BackupBucket | null {
  return context.settings.bucket ? new BackupBucket(context.settings.bucket) : null;
}

/**
 * The manifest named by a backup id (`control-…`) or a manifest path, and the folder it is in. A
 * backup that is not in the folder (or any backup, with `fromBucket`) is downloaded from the bucket
 * into it first, its checksum checked on the way.
 */
async function findBackup(
  reference: string,
  fromBucket: boolean,
): Promise<{ manifest: BackupManifest; folder: string; context: PlaneContext }> {
  if (!fromBucket && reference.endsWith('.json') && existsSync(reference)) {
    const manifest = await readManifest(reference);
    return { manifest, folder: dirname(reference), context: planeContext(manifest.plane as Plane) };
  }
  const id = basename(reference).replace(/\.json$/, '');
  const plane = PLANES.find((p) => id.startsWith(`${p}-`));
  if (!plane) throw new CommandError(`${reference} is neither a backup id (control-… or engine-…) nor a manifest file`);
  const context = planeContext(plane);
  const folder = planeBackupDir(context.settings.dir, plane);
  const path = join(folder, `${id}.json`);
  if (!fromBucket && existsSync(path)) return { manifest: await readManifest(path), folder, context };
  const bucket = bucketOf(context);
  if (!bucket) {
    throw new CommandError(
      fromBucket
        ? 'no bucket is configured (BACKUP_S3_BUCKET)'
        : `no backup ${id} in ${folder}, and no bucket is configured (mic backup list shows them)`,
    );
  }
  say(`${plane}: fetching ${id} from ${bucket.location}`);
  try {
    const manifest = await bucket.download(plane, id, folder);
    say(`${plane}: fetched ${manifest.file} (${formatBytes(manifest.sizeBytes ?? 0)}), checksum OK`);
    return { manifest, folder, context };
  } catch (error) {
    throw new CommandError(`${plane}: ${(error as Error).message}`);
  } finally {
    bucket.close();
  }
}

const LIVE_RESTORE_WAIT_MS = 30 * 60_000;

/**
 * Restores into the running plane: it answers, stops (HTTP, then its workers), restores as it
 * starts again and resumes; this waits for the outcome, which the plane reports once it is back.
 */
async function restoreRunningPlane(context: PlaneContext, manifest: BackupManifest, by: string): Promise<LiveRestore> {
  const client = context.client(120_000);
  if (!client) throw new CommandError(`${context.plane} runs, but there is no service token to ask it with`);
  let restore: LiveRestore;
  try {
    restore = await client.request<LiveRestore>(
      'POST',
      `/internal/v1/backups/${encodeURIComponent(manifest.id)}/restore`,
      { by, actor: { type: 'cli', id: null, label: by } },
    );
  } catch (error) {
    if (error instanceof PeerError) throw describePeerError(context, error);
    throw error;
  }
  say(
    `${context.plane}: checksum OK; it stops its work (HTTP, then its workers) and restores as it starts again; waiting`,
  );
  const poll = context.client(5_000)!;
  const deadline = Date.now() + LIVE_RESTORE_WAIT_MS;
  while (Date.now() < deadline) {
    await sleep(500);
    try {
      const last = (await poll.request<BackupList>('GET', '/internal/v1/backups')).lastRestore;
      if (last?.requestId === restore.requestId && last.state !== 'pending') return last;
    } catch (error) {
      if (!(error instanceof PeerError && (error.isUnreachable || error.status >= 500))) throw error;
    }
  }
  throw new CommandError(
    `${context.plane} did not come back within ${LIVE_RESTORE_WAIT_MS / 60_000} min: is it run by mic start or a process manager?`,
  );
}

async function confirmLive(plane: string, yes: boolean): Promise<void> {
  if (yes) return;
  if (!process.stdin.isTTY) throw new CommandError('restoring into the live database needs --yes outside a terminal');
  const answer = await ask(
    `This replaces ${plane}'s live database with the backup (the current one is kept aside). Type ${plane} to go on: `,
  );
  if (answer !== plane) throw new CommandError('cancelled');
}

/** Writes the restore to control's audit log (after it: restoring control replaces that log). */
async function auditRestore(manifest: BackupManifest, keptAs: string[], by: string): Promise<void> {
  const report = { plane: manifest.plane, backupId: manifest.id, backupCreatedAt: manifest.createdAt, keptAs, by };
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
}

/** `mic restore <backup id | manifest> [--into <postgres URL | folder>] [--from-bucket] [--yes]` */
export function restoreCommand(args: string[]): Promise<number> {
  return run('restore', async () => {
    const { values, positionals } = parse(args, {
      into: { type: 'string' },
      yes: { type: 'boolean', default: false },
      'from-bucket': { type: 'boolean', default: false },
    });
    if (!positionals[0]) throw new CommandError('which backup? mic restore <backup id> (mic backup list shows them)');
    const { manifest, folder, context } = await findBackup(positionals[0], values['from-bucket'] === true);
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
        await confirmLive(manifest.plane, values.yes === true);
        const by = `mic restore (${userInfo().username})`;
        const outcome = await restoreRunningPlane(context, manifest, by);
        if (outcome.state === 'failed') {
          throw new CommandError(`${manifest.plane}: restore failed, the live data is unchanged: ${outcome.error}`);
        }
        // Control records its own restore once it is back; the engine's goes to control's log from here.
        if (manifest.plane !== 'control') await auditRestore(manifest, outcome.keptAs, by);
        say(`${manifest.plane}: restored while it ran, and recorded in the audit log; it is running again`);
        if (outcome.keptAs.length)
          say(`${manifest.plane}: once all is well, delete the previous copy: ${outcome.keptAs.join(', ')}`);
        return 0;
      }
      const pending = await latestLiveRestore(folder);
      if (pending?.state === 'pending') {
        throw new CommandError(
          `${manifest.plane} has a restore of ${pending.backupId} pending (asked by ${pending.requestedBy}), applied when it starts: start it, or delete ${join(folder, 'restore-pending.json')} to cancel it`,
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
      await confirmLive(manifest.plane, values.yes === true);
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
      await auditRestore(manifest, result.keptAs, `mic restore (${userInfo().username})`);
      say(`${manifest.plane}: restored and recorded in the audit log; start MIC again (mic start)`);
      if (result.keptAs.length)
        say(`${manifest.plane}: once all is well, delete the previous copy: ${result.keptAs.join(', ')}`);
    } else {
      say(`${manifest.plane}: restored into ${into}`);
    }
    return 0;
  });
}
