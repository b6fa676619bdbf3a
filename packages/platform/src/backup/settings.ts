import { dirname, join, resolve } from 'node:path';
import { fields } from '../config/index.ts';
import type { BackupSettings } from './service.ts';

/** Backup settings both planes share (spread into each plane's configuration). */
export const backupFields = {
  backupDir: fields.optionalString('BACKUP_DIR', 'folder backups are written to; default $MIC_DATA_DIR/backups'),
  backupKeyFile: fields.optionalString(
    'BACKUP_KEY_FILE',
    'the key backups are encrypted with (generated on first use, mode 0600); default $MIC_DATA_DIR/keys/backup.key',
  ),
  backupSchedule: fields.string(
    'BACKUP_SCHEDULE',
    'when each plane backs up its database: a cron expression in UTC, or off',
    '0 3 * * *',
  ),
  backupKeepDaily: fields.integer('BACKUP_KEEP_DAILY', 'backups kept: the newest of each of this many days', 7),
  backupKeepWeekly: fields.integer('BACKUP_KEEP_WEEKLY', 'backups kept: the newest of each of this many weeks', 4),
  backupKeepMonthly: fields.integer('BACKUP_KEEP_MONTHLY', 'backups kept: the newest of each of this many months', 12),
  backupOverdueAfter: fields.duration(
    'BACKUP_OVERDUE_AFTER',
    'health warns when the latest backup is older than this (scheduled backups only)',
    26 * 3_600_000,
  ),
  backupPgBinDir: fields.optionalString(
    'BACKUP_PG_BIN_DIR',
    'folder of pg_dump and pg_restore (same major version as the server); default: the PATH',
  ),
};

interface BackupConfig {
  dataDir: string;
  backupDir: string | undefined;
  backupKeyFile: string | undefined;
  backupSchedule: string;
  backupKeepDaily: number;
  backupKeepWeekly: number;
  backupKeepMonthly: number;
  backupOverdueAfter: number;
  backupPgBinDir: string | undefined;
}

/** Backup settings from a plane's configuration; undefined when there is nowhere to write (in-memory test planes without BACKUP_DIR). */
export function backupSettings(config: BackupConfig, keyLocations: string[] = []): BackupSettings | undefined {
  const inMemory = config.dataDir.startsWith('memory://');
  if (!config.backupDir && inMemory) return undefined;
  const dir = resolve(config.backupDir ?? join(config.dataDir, 'backups'));
  const keyFile = resolve(
    config.backupKeyFile ?? (inMemory ? join(dirname(dir), 'backup.key') : join(config.dataDir, 'keys', 'backup.key')),
  );
  return {
    dir,
    keyFile,
    retention: { daily: config.backupKeepDaily, weekly: config.backupKeepWeekly, monthly: config.backupKeepMonthly },
    isScheduled: config.backupSchedule.trim().toLowerCase() !== 'off',
    overdueAfterMs: config.backupOverdueAfter,
    pgTools: { binDir: config.backupPgBinDir },
    keyLocations: [`the backup key: ${keyFile}`, ...keyLocations],
  };
}
