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
  durationMs: Type.Integer({ minimum: 0 }),
  error: Type.Union([Type.String(), Type.Null()]),
  version: Type.String({ description: 'The version of the plane that took it.' }),
});
export type Backup = Static<typeof Backup>;

export const BackupList = Type.Object({
  plane: Type.String(),
  folder: Type.String(),
  backups: Type.Array(Backup, { description: 'Newest first.' }),
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
