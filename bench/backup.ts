/**
 * `npm run bench:backup`: how long a backup (dump, compress, encrypt, checksum, verify by a
 * restore into a scratch database) and a restore take for an engine database holding 100,000
 * outbound messages, on PGlite (a data folder, as embedded MIC runs) and on Postgres.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import {
  BackupKey,
  PlaneBackups,
  formatBytes,
  openDatabase,
  restoreBackup,
  systemClock,
  withScratchDatabase,
  type BackupSettings,
  type Database,
  type RestoreTarget,
} from '@mic/platform';
import { uniqueName } from '@mic/platform/testing';
import { ENGINE_MIGRATIONS } from '../apps/engine/src/server.ts';
import { BENCH_DATABASE_URL, dropSchemas, isPostgresUp } from './processes.ts';

const MESSAGES = Number(process.env.BENCH_BACKUP_MESSAGES ?? 100_000);

async function fill(db: Database): Promise<void> {
  // Sent messages as the send API stores them: a text request and Meta's answer.
  await db.orm.execute(sql`
    insert into outbound_messages (id, instance_id, tenant_id, channel, recipient, priority, request, state,
      meta_message_id, attempts, request_hash, created_at, updated_at, sent_at)
    select gen_random_uuid(), 'ins_bench' || (i % 20), 'ten_bench' || (i % 10), 'whatsapp:1000' || (i % 5),
      '3460000' || lpad(i::text, 6, '0'), 'conversation',
      jsonb_build_object('channel', jsonb_build_object('kind', 'whatsapp', 'id', '1000' || (i % 5)),
        'to', '3460000' || lpad(i::text, 6, '0'), 'type', 'text',
        'text', jsonb_build_object('body', 'Hola, su pedido ' || i || ' ha salido del almacén y llegará mañana.')),
      'delivered', 'wamid.HBgL' || md5(i::text), 1, md5('r' || i), now() - (i || ' seconds')::interval, now(), now()
    from generate_series(1, ${MESSAGES}) as i`);
}

interface Row {
  backend: string;
  dumpBytes: string;
  fileBytes: string;
  backupS: string;
  verifyS: string;
  restoreS: string;
  stallS: string;
}

async function measure(backend: 'PGlite' | 'Postgres'): Promise<Row> {
  const root = mkdtempSync(join(tmpdir(), 'mic-bench-backup-'));
  const schema = uniqueName('bench_engine');
  const db = await openDatabase({
    ...(backend === 'Postgres' ? { url: BENCH_DATABASE_URL } : {}),
    dataDir: join(root, 'engine'),
    schema,
    migrationsFolder: ENGINE_MIGRATIONS,
  });
  try {
    await db.migrate();
    await fill(db);
    const settings: BackupSettings = {
      dir: join(root, 'backups'),
      keyFile: join(root, 'keys', 'backup.key'),
      retention: { daily: 7, weekly: 4, monthly: 12 },
      isScheduled: false,
      overdueAfterMs: 86_400_000,
      pgTools: {},
      keyLocations: [],
    };
    // On PGlite nothing else runs while the data folder is dumped: the plane stalls that long.
    let stallMs: number | null = null;
    if (db.snapshotDataDir) {
      const started = performance.now();
      await db.snapshotDataDir(async () => null);
      stallMs = performance.now() - started;
    }
    const backups = new PlaneBackups({ plane: 'engine', database: db, settings, clock: systemClock, version: 'bench' });
    const manifest = await backups.take({ trigger: 'manual' });
    if (manifest.state !== 'verified') throw new Error(`backup failed: ${manifest.error}`);
    if (manifest.rowCounts[`${schema}.outbound_messages`] !== MESSAGES) throw new Error('the dump misses messages');

    const restore = async (target: RestoreTarget) => {
      const started = performance.now();
      await restoreBackup({
        folder: backups.folder,
        manifest,
        key: BackupKey.load(settings.keyFile),
        target,
        pgTools: {},
        now: new Date(),
      });
      return performance.now() - started;
    };
    const restoreMs =
      backend === 'Postgres'
        ? await withScratchDatabase(BENCH_DATABASE_URL, (url) => restore({ kind: 'postgres', url, replace: false }))
        : await restore({ kind: 'pglite', dir: join(root, 'restored'), replace: false });
    const s = (ms: number) => (ms / 1000).toFixed(1);
    return {
      backend,
      dumpBytes: formatBytes(manifest.dumpBytes ?? 0),
      fileBytes: formatBytes(manifest.sizeBytes ?? 0),
      backupS: s(manifest.durationMs),
      verifyS: s(manifest.verification?.durationMs ?? 0),
      restoreS: s(restoreMs),
      stallS: stallMs === null ? '-' : s(stallMs),
    };
  } finally {
    await db.close();
    if (backend === 'Postgres') await dropSchemas([schema, `${schema}_queue`]);
    rmSync(root, { recursive: true, force: true });
  }
}

const rows = [await measure('PGlite')];
if (await isPostgresUp()) rows.push(await measure('Postgres'));
else process.stderr.write(`Postgres at ${BENCH_DATABASE_URL} is not up: measured PGlite only\n`);

console.log(`\nBackup and restore of an engine database with ${MESSAGES.toLocaleString('en')} outbound messages`);
console.log(
  '(backup = dump + compress + encrypt + checksum + verify; verify = restore into a scratch database and count rows)\n',
);
console.log('| backend  | dump      | file      | backup s | of which verify s | plane stalled s | restore s |');
console.log('| -------- | --------- | --------- | -------- | ----------------- | --------------- | --------- |');
for (const r of rows) {
  console.log(
    `| ${r.backend.padEnd(8)} | ${r.dumpBytes.padEnd(9)} | ${r.fileBytes.padEnd(9)} | ${r.backupS.padStart(8)} | ${r.verifyS.padStart(17)} | ${r.stallS.padStart(15)} | ${r.restoreS.padStart(9)} |`,
  );
}
