import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../config/index.ts';
import { backupFields, backupSettings } from './settings.ts';

const load = (env: Record<string, string>) => backupSettings({ dataDir: '/srv/mic', ...loadConfig(backupFields, env) });

describe('backup settings', () => {
  it('copies to no bucket unless BACKUP_S3_BUCKET is set', () => {
    expect(load({})!.bucket).toBeUndefined();
  });

  it('reads the bucket, path-style addressing and the credentials', () => {
    const settings = load({
      BACKUP_S3_BUCKET: 'backups',
      BACKUP_S3_ENDPOINT: 'http://minio.internal:9000/',
      BACKUP_S3_ACCESS_KEY_ID: 'AKIA1',
      BACKUP_S3_SECRET_ACCESS_KEY: 'shh',
      BACKUP_S3_FORCE_PATH_STYLE: 'true',
    })!;
    expect(settings.bucket).toEqual({
      bucket: 'backups',
      endpoint: 'http://minio.internal:9000',
      region: 'us-east-1',
      prefix: 'mic/',
      credentials: { accessKeyId: 'AKIA1', secretAccessKey: 'shh' },
      forcePathStyle: true,
      partSize: 16 * 1024 * 1024,
    });
  });

  it('refuses an access key without its secret, and a bad secret value is never shown', () => {
    expect(() => load({ BACKUP_S3_BUCKET: 'backups', BACKUP_S3_ACCESS_KEY_ID: 'AKIA1' })).toThrow(ConfigError);
    expect(backupFields.backupS3SecretAccessKey.isSecret).toBe(true);
    expect(() => load({ BACKUP_S3_BUCKET: 'backups', BACKUP_S3_PART_SIZE: '1024' })).toThrow(/BACKUP_S3_PART_SIZE/);
  });
});
