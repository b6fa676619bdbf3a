import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from 'drizzle-orm';
import type { AuditPage } from '@mic/contracts';
import { startTestControl, type TestControl } from '../../testing.ts';
import type { AuditActor } from './service.ts';

let control: TestControl;
beforeAll(async () => {
  control = await startTestControl();
});
afterAll(() => control?.stop());

const actor: AuditActor = { type: 'system', id: null, label: 'test' };
const exec = (query: ReturnType<typeof sql>) => control.app.db.orm.execute(query);
/** The database's own message (Drizzle wraps it in a "Failed query" error). */
const refusal = (query: ReturnType<typeof sql>) =>
  exec(query).then(
    () => 'accepted',
    (error: Error) => String((error.cause as Error | undefined)?.message ?? error.message),
  );

describe('the audit log', () => {
  it('chains every row from the genesis hash and verifies', async () => {
    const first = await control.app.audit.list({ filters: {}, limit: 500 });
    const oldest = first.items.at(-1)!;
    expect(oldest).toMatchObject({ seq: 1, prevHash: '0'.repeat(64) });
    const row = await control.app.audit.record({
      actor,
      action: 'instance.pause',
      target: { type: 'instance', id: 'ins_1' },
      before: { state: 'active' },
      after: { state: 'paused' },
    });
    expect(row.prevHash).toBe(first.items[0]!.hash);
    expect(row.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(await control.app.audit.verify()).toEqual({ ok: true, rows: row.seq });
  });

  it('redacts secret-looking keys at any depth, keeping timestamps named after them', async () => {
    const row = await control.app.audit.record({
      actor,
      action: 'secret.rotate',
      before: {
        password: 'hunter2hunter2',
        apiToken: 'mic_it_abc',
        nested: [{ signingSecret: 'whsec_x', 'api-key': 'k', keep: 1 }],
        passwordChangedAt: '2026-01-01T00:00:00.000Z',
        when: new Date('2026-01-02T00:00:00Z'),
        missing: undefined,
      },
    });
    expect(row.before).toEqual({
      password: '[redacted]',
      apiToken: '[redacted]',
      nested: [{ signingSecret: '[redacted]', 'api-key': '[redacted]', keep: 1 }],
      passwordChangedAt: '2026-01-01T00:00:00.000Z',
      when: '2026-01-02T00:00:00.000Z',
    });
    expect(JSON.stringify(row)).not.toContain('hunter2');
  });

  it('commits a row with the transaction it describes, and leaves no gap when that rolls back', async () => {
    const before = (await control.app.audit.verify()) as { rows: number };
    await expect(
      control.app.db.orm.transaction(async (tx) => {
        await control.app.audit.record({ actor, action: 'tenant.pause', target: { type: 'tenant', id: 'ten_x' } }, tx);
        throw new Error('the change failed');
      }),
    ).rejects.toThrow('the change failed');
    const row = await control.app.db.orm.transaction((tx) =>
      control.app.audit.record({ actor, action: 'tenant.pause', target: { type: 'tenant', id: 'ten_y' } }, tx),
    );
    expect(row.seq).toBe(before.rows + 1);
  });

  it('stays one chain under concurrent appends', async () => {
    await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        i % 2
          ? control.app.audit.record({ actor, action: 'flag.change', target: { type: 'flag', id: `f${i}` } })
          : control.app.db.orm.transaction((tx) =>
              control.app.audit.record({ actor, action: 'flag.change', target: { type: 'flag', id: `f${i}` } }, tx),
            ),
      ),
    );
    const result = await control.app.audit.verify();
    expect(result.ok).toBe(true);
    const seqs = await exec(sql`select count(*)::int as n, max(seq)::int as max from audit_log`);
    const { n, max } = seqs.rows[0] as { n: number; max: number };
    expect(n).toBe(max);
  });

  it('is refused UPDATE, DELETE and TRUNCATE by the database', async () => {
    expect(await refusal(sql`update audit_log set action = 'x' where seq = 1`)).toMatch(/append-only: UPDATE/);
    expect(await refusal(sql`delete from audit_log where seq = 1`)).toMatch(/append-only: DELETE/);
    expect(await refusal(sql`truncate audit_log`)).toMatch(/append-only: TRUNCATE/);
    expect((await control.app.audit.verify()).ok).toBe(true);
  });

  it('lists newest first with filters and a cursor, for operators with audit.read', async () => {
    for (let i = 0; i < 5; i++) {
      await control.app.audit.record({
        actor: { type: 'operator', id: 'op_1', label: 'ana@example.com' },
        action: 'instance.resume',
        target: { type: 'instance', id: `ins_${i}` },
      });
    }
    const get = (query: string) =>
      control.app.inject({ method: 'GET', url: `/v1/audit?${query}`, headers: control.operator });
    const page1 = (await get('actor=ana@example.com&limit=3')).json<AuditPage>();
    expect(page1.items.map((i) => i.targetId)).toEqual(['ins_4', 'ins_3', 'ins_2']);
    const page2 = (await get(`actor=ana@example.com&limit=3&cursor=${page1.nextCursor}`)).json<AuditPage>();
    expect(page2.items.map((i) => i.targetId)).toEqual(['ins_1', 'ins_0']);
    expect(page2.nextCursor).toBeNull();
    expect((await get('target=instance:ins_3')).json<AuditPage>().items).toHaveLength(1);
    // Several targets at once (a tenant and its instances): entries about any of them, newest first.
    const several = (await get('target=instance:ins_1,instance:ins_3,tenant:ten_none')).json<AuditPage>();
    expect(new Set(several.items.map((i) => i.targetId))).toEqual(new Set(['ins_3', 'ins_1']));
    expect(several.items[0]!.targetId).toBe('ins_3');
    const seqs = several.items.map((i) => i.seq);
    expect(seqs).toEqual([...seqs].sort((a, b) => b - a));
    expect(
      (await get(`target=${Array.from({ length: 51 }, (_, i) => `instance:ins_${i}`).join(',')}`)).statusCode,
    ).toBe(400);
    expect((await get('action=instance.*&target=instance')).json<AuditPage>().items.length).toBeGreaterThanOrEqual(6);
    expect((await get('since=2999-01-01T00:00:00Z')).json<AuditPage>().items).toEqual([]);
    // The operator's own sign-in is there too.
    expect((await get('action=operator.login')).json<AuditPage>().items[0]).toMatchObject({ actorType: 'operator' });

    const billing = await control.loginAs('billing');
    const verify = await control.app.inject({ method: 'GET', url: '/v1/audit/verify', headers: billing });
    expect(verify.json()).toMatchObject({ ok: true });
  });

  it('finds a row changed behind its back, and a row removed', async () => {
    await exec(sql`alter table audit_log disable trigger audit_log_no_change`);
    try {
      await exec(sql`update audit_log set after = '{"state":"active"}'::jsonb where seq = 2`);
      expect(await control.app.audit.verify()).toEqual({
        ok: false,
        brokenAt: 2,
        reason: 'its content does not match its hash',
      });
      const res = await control.app.inject({ method: 'GET', url: '/internal/v1/audit/verify', headers: control.auth });
      expect(res.json()).toMatchObject({ ok: false, brokenAt: 2 });

      await exec(sql`delete from audit_log where seq = 2`);
      expect(await control.app.audit.verify()).toEqual({ ok: false, brokenAt: 2, reason: 'row 2 is missing' });
    } finally {
      await exec(sql`alter table audit_log enable trigger audit_log_no_change`);
    }
  });
});
