export { BackupKey } from './key.ts';
export { BackupBucket, BackupBucketError, type BucketSettings } from './bucket.ts';
export {
  applyPendingRestore,
  latestLiveRestore,
  markLiveRestoreAudited,
  RestorePendingError,
  scheduleLiveRestore,
  type LiveRestore,
  type RestoreActor,
} from './live-restore.ts';
export {
  BackupNotFoundError,
  listManifests,
  readManifest,
  type BackupCopy,
  type BackupManifest,
  type BackupTrigger,
  type BackupVerification,
} from './manifest.ts';
export { DEFAULT_RETENTION, retainedBackups, type RetentionPolicy } from './retention.ts';
export { countRowsAt, planeSessions, withScratchDatabase, type PgTools } from './postgres.ts';
export {
  BackupChecksumError,
  PlaneBackups,
  confirmKeys,
  formatBytes,
  planeBackupDir,
  restoreBackup,
  verifyChecksum,
  type BackupSettings,
  type KeysConfirmation,
  type RestoreTarget,
  type StepReporter,
} from './service.ts';
export {
  BACKUP_QUEUE,
  backupList,
  requestLiveRestore,
  restartedBy,
  setUpPlaneBackups,
  verifyBackup,
  type PlaneBackupOptions,
} from './plane.ts';
export { backupFields, backupSettings, bucketSettings } from './settings.ts';
