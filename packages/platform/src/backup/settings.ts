import { dirname, join, resolve } from 'node:path';
import { ConfigError, fields } from '../config/index.ts';
import type { BucketSettings } from './bucket.ts';
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
  backupS3Bucket: fields.optionalString(
    'BACKUP_S3_BUCKET',
    'an S3-compatible bucket every verified backup is also copied to; unset: local copies only',
  ),
  backupS3Endpoint: fields.optionalUrl(
    'BACKUP_S3_ENDPOINT',
    "the S3-compatible server's URL (MinIO, Ceph, R2…); unset: Amazon S3",
    { protocols: ['http:', 'https:'], example: 'https://s3.example.com' },
  ),
  backupS3Region: fields.string('BACKUP_S3_REGION', "the bucket's region", 'us-east-1'),
  backupS3Prefix: fields.string('BACKUP_S3_PREFIX', 'object keys start with this, then <plane>/', 'mic/'),
  backupS3AccessKeyId: fields.optionalString(
    'BACKUP_S3_ACCESS_KEY_ID',
    "the bucket's access key id; unset: the AWS SDK's default credentials (AWS_* variables, instance role)",
  ),
  backupS3SecretAccessKey: {
    ...fields.optionalString('BACKUP_S3_SECRET_ACCESS_KEY', 'the secret of BACKUP_S3_ACCESS_KEY_ID'),
    isSecret: true,
  },
  backupS3ForcePathStyle: fields.boolean(
    'BACKUP_S3_FORCE_PATH_STYLE',
    'address the bucket as <endpoint>/<bucket> rather than <bucket>.<endpoint> (MinIO and most self-hosted servers)',
    false,
  ),
  backupS3PartSize: fields.integer(
    'BACKUP_S3_PART_SIZE',
    'bytes per part of a multipart upload (at least 5 MiB)',
    16 * 1024 * 1024,
    5 * 1024 * 1024,
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
  backupS3Bucket?: string | undefined;
  backupS3Endpoint?: string | undefined;
  backupS3Region?: string;
  backupS3Prefix?: string;
  backupS3AccessKeyId?: string | undefined;
  backupS3SecretAccessKey?: string | undefined;
  backupS3ForcePathStyle?: boolean;
  backupS3PartSize?: number;
}

/** The bucket settings, or undefined when BACKUP_S3_BUCKET is unset. */
export function bucketSettings(config: BackupConfig): BucketSettings | undefined {
  if (!config.backupS3Bucket) return undefined;
  const hasKeyId = Boolean(config.backupS3AccessKeyId);
  if (hasKeyId !== Boolean(config.backupS3SecretAccessKey)) {
    throw new ConfigError([
      'BACKUP_S3_ACCESS_KEY_ID and BACKUP_S3_SECRET_ACCESS_KEY go together: set both, or neither',
    ]);
  }
  return {
    bucket: config.backupS3Bucket,
    endpoint: config.backupS3Endpoint?.replace(/\/+$/, ''),
    region: config.backupS3Region ?? 'us-east-1',
    prefix: config.backupS3Prefix ?? 'mic/',
    credentials: hasKeyId
      ? { accessKeyId: config.backupS3AccessKeyId!, secretAccessKey: config.backupS3SecretAccessKey! }
      : undefined,
    forcePathStyle: config.backupS3ForcePathStyle ?? false,
    partSize: config.backupS3PartSize ?? 16 * 1024 * 1024,
  };
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
    bucket: bucketSettings(config),
    keyLocations: [`the backup key: ${keyFile}`, ...keyLocations],
  };
}
