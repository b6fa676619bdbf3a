import { AuditPage, AuditQuery, AuditVerification } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import type { AuditRow } from './service.ts';

const serialize = (row: AuditRow) => ({ ...row, at: row.at.toISOString() }) as AuditPage['items'][number];

export function registerAuditRoutes(app: HttpServer): void {
  const tags = ['audit'];
  app.get(
    '/v1/audit',
    {
      config: { permission: 'audit.read' },
      schema: {
        tags,
        summary: 'The audit log, newest first, filtered and paged',
        querystring: AuditQuery,
        response: { 200: AuditPage },
      },
    },
    async (req) => {
      const { actor, action, target, since, until, cursor, limit } = req.query;
      const targets = (target?.split(',') ?? []).map((one) => {
        const [type, ...id] = one.trim().split(':');
        return { type: type!, id: id.length ? id.join(':') : undefined };
      });
      const page = await app.audit.list({
        filters: {
          ...(actor ? { actor } : {}),
          ...(action ? { action } : {}),
          ...(targets.length ? { targets } : {}),
          ...(since ? { since: new Date(since) } : {}),
          ...(until ? { until: new Date(until) } : {}),
        },
        cursor,
        limit,
      });
      return { items: page.items.map(serialize), nextCursor: page.nextCursor };
    },
  );
  app.get(
    '/v1/audit/verify',
    {
      config: { permission: 'audit.read' },
      schema: {
        tags,
        summary: 'Recompute the hash chain and report the first row that does not check out',
        response: { 200: AuditVerification },
      },
    },
    async () => app.audit.verify(),
  );
  app.get(
    '/internal/v1/audit/verify',
    {
      schema: {
        tags,
        summary: 'The same verification, for `mic audit verify` while control runs',
        response: { 200: AuditVerification },
      },
    },
    async () => app.audit.verify(),
  );
}
