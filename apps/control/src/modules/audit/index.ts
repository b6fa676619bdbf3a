import fp from 'fastify-plugin';
import type { FastifyRequest } from 'fastify';
import type { HttpServer } from '@mic/platform';
import { AuditLog, type AuditActor } from './service.ts';
import { registerAuditRoutes } from './routes.ts';

export { AuditLog, type AuditActor, type AuditRecord, type AuditRow, type DbTransaction } from './service.ts';
export { redact } from './chain.ts';

declare module 'fastify' {
  interface FastifyInstance {
    /** The append-only, hash-chained audit log: `record(entry, tx?)`, `list(...)`, `verify()`. */
    audit: AuditLog;
  }
}

/** Who made a request, for `app.audit.record`: the signed-in operator, or the service token's caller. */
export function actorOf(req: FastifyRequest): AuditActor {
  const context = { requestId: req.id, ip: req.ip };
  if (req.operator) return { type: 'operator', id: req.operator.id, label: req.operator.email, ...context };
  if (req.serviceCaller) {
    const { id, caller } = req.serviceCaller;
    return { type: caller === 'engine' ? 'engine' : 'system', id, label: caller, ...context };
  }
  return { type: 'system', id: null, label: null, ...context };
}

export default fp(
  async (app: HttpServer) => {
    app.decorate('audit', new AuditLog(app.db.orm, app.clock));
    registerAuditRoutes(app);
  },
  { name: 'audit', dependencies: ['auth'] },
);
