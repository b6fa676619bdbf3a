import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ManualClock } from '../clock/index.ts';
import type { Database } from '../db/index.ts';
import { DEFAULT_RETENTION, retainedBackups } from './retention.ts';
import { PlaneBackups } from './service.ts';

const day = (iso: string) => `${iso}T03:00:00.000Z`;

describe('retainedBackups', () => {
  it('a year of daily backups, pruned every day by the clock, leaves 7 daily, 4 weekly and 12 monthly', () => {
    const clock = new ManualClock(day('2025-01-01'));
    let stored: { id: string; createdAt: Date }[] = [];
    while (clock.now() <= new Date(day('2025-12-31'))) {
      stored.push({ id: clock.now().toISOString().slice(0, 10), createdAt: clock.now() });
      const keep = retainedBackups(stored, clock.now(), DEFAULT_RETENTION);
      stored = stored.filter((b) => keep.has(b.id));
      clock.advance(86_400_000);
    }
    expect(stored.map((b) => b.id).sort()).toEqual([
      // the newest of each of the last 12 months
      '2025-01-31',
      '2025-02-28',
      '2025-03-31',
      '2025-04-30',
      '2025-05-31',
      '2025-06-30',
      '2025-07-31',
      '2025-08-31',
      '2025-09-30',
      '2025-10-31',
      '2025-11-30',
      // the Sundays that end the 3 weeks before this one (2025-12-31 is a Wednesday; the third is also a daily)
      '2025-12-14',
      '2025-12-21',
      // the last 7 days, December's newest among them
      ...['25', '26', '27', '28', '29', '30', '31'].map((d) => `2025-12-${d}`),
    ]);
  });

  it('keeps only the newest backup of a day', () => {
    const at = (time: string) => ({ id: time, createdAt: new Date(`2025-06-10T${time}Z`) });
    const keep = retainedBackups([at('01:00:00'), at('13:00:00'), at('09:00:00')], new Date('2025-06-10T14:00:00Z'), {
      daily: 7,
      weekly: 0,
      monthly: 0,
    });
    expect([...keep]).toEqual(['13:00:00']);
  });

  it('follows a configured policy and keeps backups from a clock that ran ahead', () => {
    const backups = ['2025-03-01', '2025-03-02', '2025-03-03', '2025-03-09'].map((d) => ({
      id: d,
      createdAt: new Date(day(d)),
    }));
    const keep = retainedBackups(backups, new Date(day('2025-03-03')), { daily: 2, weekly: 0, monthly: 0 });
    expect([...keep].sort()).toEqual(['2025-03-02', '2025-03-03', '2025-03-09']);
  });
});

describe('PlaneBackups.prune', () => {
  it('a year of daily backup files, pruned after each by the clock, leaves the 20 the policy keeps', async () => {
    const root = mkdtempSync(join(tmpdir(), 'mic-retention-'));
    try {
      const clock = new ManualClock(day('2025-01-01'));
      const backups = new PlaneBackups({
        plane: 'control',
        // prune() reads and deletes files only; it never touches the database.
        database: { schema: 'control' } as Database,
        settings: {
          dir: root,
          keyFile: join(root, 'backup.key'),
          retention: DEFAULT_RETENTION,
          isScheduled: true,
          overdueAfterMs: 0,
          pgTools: {},
          keyLocations: [],
        },
        clock,
        version: '1.0.0',
      });
      mkdirSync(backups.folder, { recursive: true });
      while (clock.now() <= new Date(day('2025-12-31'))) {
        const id = `control-${clock.now().toISOString().slice(0, 10).replaceAll('-', '')}T030000Z-000000`;
        writeFileSync(join(backups.folder, `${id}.mic-backup`), 'x');
        writeFileSync(
          join(backups.folder, `${id}.json`),
          JSON.stringify({
            format: 'mic-backup/1',
            id,
            plane: 'control',
            state: 'verified',
            trigger: 'scheduled',
            createdAt: clock.now().toISOString(),
            file: `${id}.mic-backup`,
          }),
        );
        await backups.prune();
        clock.advance(86_400_000);
      }
      const left = readdirSync(backups.folder).sort();
      expect(left.filter((f) => f.endsWith('.json'))).toHaveLength(20);
      expect(left.filter((f) => f.endsWith('.mic-backup'))).toHaveLength(20);
      expect(left).toContain('control-20250131T030000Z-000000.json');
      expect(left).toContain('control-20251214T030000Z-000000.json');
      expect(left).toContain('control-20251231T030000Z-000000.mic-backup');
      expect(left).not.toContain('control-20251213T030000Z-000000.json');
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
