export { BackupKey } from './key.ts';
export {
  listManifests,
  readManifest,
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
export { BACKUP_QUEUE, setUpPlaneBackups, type PlaneBackupOptions } from './plane.ts';
export { backupFields, backupSettings } from './settings.ts';
