import { Type, type Static } from 'typebox';

/**
 * A plane's backup, as its manifest describes it: a compressed, encrypted dump of the plane's
 * database, checksummed and verified by restoring it into a scratch database.
 */
export const BackupVerification = Type.Object({
  ok: Type.Boolean(),
  target: Type.String({ description: 'Where the copy was restored: a scratch database or a scratch PGlite.' }),
  tables: Type.Integer({ minimum: 0 }),
  rows: Type.Integer({ minimum: 0 }),
  problems: Type.Array(Type.String(), {
    description: "Tables whose row counts differ from the dump's own, or the restore's error.",
  }),
  durationMs: Type.Integer({ minimum: 0 }),
});

/** The backup's copy in the S3-compatible bucket (BACKUP_S3_BUCKET), when one is configured. */
export const BackupCopy = Type.Object({
  state: Type.Union([Type.Literal('uploaded'), Type.Literal('failed')]),
  bucket: Type.String(),
  key: Type.String({ description: 'The object key of the backup file; its manifest is beside it (`.json`).' }),
  sha256: Type.Union([Type.String(), Type.Null()], {
    description: "SHA-256 of the bytes uploaded (equal to the backup file's), checked again on download.",
  }),
  etag: Type.Union([Type.String(), Type.Null()]),
  uploadedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  durationMs: Type.Integer({ minimum: 0 }),
  error: Type.Union([Type.String(), Type.Null()], {
    description: 'Why the upload failed; the local copy still counts.',
  }),
});
export type BackupCopy = Static<typeof BackupCopy>;

export const Backup = Type.Object({
  format: Type.Literal('mic-backup/1'),
  id: Type.String(),
  plane: Type.String(),
  state: Type.Union([Type.Literal('verified'), Type.Literal('failed')]),
  trigger: Type.Union([Type.Literal('scheduled'), Type.Literal('manual')]),
  label: Type.Union([Type.String(), Type.Null()]),
  createdAt: Type.String({ format: 'date-time' }),
  kind: Type.Union([Type.Literal('postgres'), Type.Literal('pglite')]),
  schemas: Type.Array(Type.String()),
  file: Type.Union([Type.String(), Type.Null()]),
  sizeBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  dumpBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  sha256: Type.Union([Type.String(), Type.Null()]),
  compression: Type.Literal('gzip'),
  encryption: Type.Literal('aes-256-gcm'),
  keyId: Type.String({ description: 'Names the backup key it was encrypted with (never the key).' }),
  rowCounts: Type.Record(Type.String(), Type.Integer({ minimum: 0 }), {
    description: 'Rows per schema.table, counted in the snapshot the dump was taken from.',
  }),
  verification: Type.Union([BackupVerification, Type.Null()]),
  copy: Type.Union([BackupCopy, Type.Null()], { description: 'Null when no bucket is configured.' }),
  durationMs: Type.Integer({ minimum: 0 }),
  error: Type.Union([Type.String(), Type.Null()]),
  version: Type.String({ description: 'The version of the plane that took it.' }),
});
export type Backup = Static<typeof Backup>;

/** A restore into the live plane: asked for, applied as the plane starts again, and its outcome. */
export const LiveRestore = Type.Object({
  requestId: Type.String(),
  plane: Type.String(),
  backupId: Type.String(),
  backupCreatedAt: Type.String({ format: 'date-time' }),
  requestedBy: Type.String(),
  requestedAt: Type.String({ format: 'date-time' }),
  state: Type.Union([Type.Literal('pending'), Type.Literal('restored'), Type.Literal('failed')]),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  keptAs: Type.Array(Type.String(), {
    description: 'Where the data that was live is kept (renamed schemas, or a folder).',
  }),
  error: Type.Union([Type.String(), Type.Null()]),
});
export type LiveRestore = Static<typeof LiveRestore>;

export const BackupList = Type.Object({
  plane: Type.String(),
  folder: Type.String(),
  bucket: Type.Union([Type.String(), Type.Null()], { description: 'Where copies go (`s3://bucket/prefix`), or null.' }),
  backups: Type.Array(Backup, { description: 'Newest first.' }),
  lastRestore: Type.Union([LiveRestore, Type.Null()], { description: 'The latest restore into the live plane.' }),
});
export type BackupList = Static<typeof BackupList>;

export const TakeBackup = Type.Object(
  {
    label: Type.Optional(Type.String({ maxLength: 200, description: 'Kept with the backup, e.g. "before upgrade".' })),
  },
  { additionalProperties: false },
);
export type TakeBackup = Static<typeof TakeBackup>;

/** What a backup taken on request answers: the manifest and one line per step. */
export const TakenBackup = Type.Object({
  backup: Backup,
  steps: Type.Array(Type.String()),
  keyLocations: Type.Array(Type.String(), {
    description: 'Where the keys a restore needs are; none of them is inside any backup.',
  }),
});
export type TakenBackup = Static<typeof TakenBackup>;

export const KeysConfirmation = Type.Object({
  confirmedAt: Type.String({ format: 'date-time' }),
  confirmedBy: Type.String(),
  backupKeyId: Type.String(),
});
export type KeysConfirmation = Static<typeof KeysConfirmation>;

/** `mic restore` tells control what it restored, for the audit log (control may itself be the plane restored). */
export const RestoreReport = Type.Object(
  {
    plane: Type.String(),
    backupId: Type.String(),
    backupCreatedAt: Type.String({ format: 'date-time' }),
    keptAs: Type.Array(Type.String()),
    by: Type.String({ maxLength: 200 }),
  },
  { additionalProperties: false },
);
export type RestoreReport = Static<typeof RestoreReport>;

/**
 * Restore a backup into the live plane: it answers 202, stops (HTTP first, then its workers, which
 * finish or release their jobs), restores as it starts again and resumes its work.
 */
export const RestoreLive = Type.Object(
  {
    confirm: Type.String({ description: "The plane's name (`control` or `engine`), typed by the operator." }),
  },
  { additionalProperties: false },
);
export type RestoreLive = Static<typeof RestoreLive>;

/** What `mic restore` (or control, for the engine) sends the running plane. */
export const InternalRestoreLive = Type.Object(
  {
    by: Type.String({ maxLength: 200 }),
    actor: Type.Optional(
      Type.Object({
        type: Type.String(),
        id: Type.Union([Type.String(), Type.Null()]),
        label: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
  },
  { additionalProperties: false },
);
export type InternalRestoreLive = Static<typeof InternalRestoreLive>;

export const BackupParams = Type.Object({ backupId: Type.String({ pattern: '^[a-z]+-[0-9TZ]+-[0-9a-f]+$' }) });
export type BackupParams = Static<typeof BackupParams>;

/** An instance's backups: its `backup` commands and what the instance answered. */
export const InstanceBackup = Type.Object({
  commandId: Type.String({ format: 'uuid' }),
  state: Type.Union([
    Type.Literal('pending'),
    Type.Literal('sending'),
    Type.Literal('succeeded'),
    Type.Literal('failed'),
    Type.Literal('expired'),
  ]),
  label: Type.Union([Type.String(), Type.Null()]),
  backupId: Type.Union([Type.String(), Type.Null()], {
    description: "The instance's id for the backup, once it succeeded.",
  }),
  sizeBytes: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()]),
  takenAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
  error: Type.Union([Type.Object({ code: Type.String(), message: Type.String() }), Type.Null()]),
  requestedBy: Type.Union([Type.String(), Type.Null()]),
  requestedAt: Type.String({ format: 'date-time' }),
  completedAt: Type.Union([Type.String({ format: 'date-time' }), Type.Null()]),
});
export type InstanceBackup = Static<typeof InstanceBackup>;
