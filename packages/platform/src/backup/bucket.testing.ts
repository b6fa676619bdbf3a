import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';
import type { BucketSettings } from './bucket.ts';

/** A real S3-compatible server (s3rver) over HTTP on 127.0.0.1, for tests; its credentials are S3RVER/S3RVER. */
export interface TestBucketServer {
  endpoint: string;
  /** Settings for `bucket` on this server, path-style, with the right credentials. */
  settings(bucket: string, overrides?: Partial<BucketSettings>): BucketSettings;
  stop(): Promise<void>;
}

export async function startTestBucketServer(buckets: string[]): Promise<TestBucketServer> {
  const dir = mkdtempSync(join(tmpdir(), 'mic-s3-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory: dir,
    configureBuckets: buckets.map((name) => ({ name, configs: [] })),
  });
  const { port } = await server.run();
  const endpoint = `http://127.0.0.1:${port}`;
  return {
    endpoint,
    settings: (bucket, overrides = {}) => ({
      bucket,
      endpoint,
      region: 'us-east-1',
      prefix: 'mic/',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      forcePathStyle: true,
      partSize: 5 * 1024 * 1024,
      ...overrides,
    }),
    async stop() {
      await server.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
