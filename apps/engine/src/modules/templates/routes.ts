import { TemplateList, TemplatesQuery } from '@mic/contracts';
import type { HttpServer } from '@mic/platform';
import type { Templates } from './service.ts';

const tags = ['instance API'];

export function registerTemplateRoutes(app: HttpServer, templates: Templates): void {
  app.get(
    '/v1/templates',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'The message templates of the instance’s WhatsApp Business Accounts',
        description:
          'As last synced from Meta (on connect, periodically, on demand) and kept current by Meta’s template ' +
          'status webhooks. `parameters` says what a send of each must give.',
        security: [{ bearer: [] }],
        querystring: TemplatesQuery,
        response: { 200: TemplateList },
      },
    },
    async (req) => templates.list(req.instanceId!, req.query),
  );
  app.post(
    '/v1/templates/sync',
    {
      preHandler: app.authenticateInstance,
      schema: {
        tags,
        summary: 'Sync the instance’s templates from Meta now, then list them',
        description: 'An account Meta did not answer for keeps its last templates and shows the error.',
        security: [{ bearer: [] }],
        response: { 200: TemplateList },
      },
    },
    async (req) => templates.syncInstance(req.instanceId!),
  );
}
