import { Type } from 'typebox';
import {
  Channel,
  ChannelParams,
  CreateChannel,
  CreateInstance,
  CreateTenant,
  CreatedInstance,
  Instance,
  InstanceIdParams,
  StateChange,
  Tenant,
  TenantParams,
  UpdateInstance,
  UpdateTenant,
  type ChannelConnection,
} from '@mic/contracts';
import { peerProblem, problems, type HttpServer } from '@mic/platform';
import { actorOf } from '../audit/index.ts';
import type { ChannelRow, InstanceRow, TenantRow } from './service.ts';

const iso = (d: Date | null) => d?.toISOString() ?? null;

export const serializeTenant = (t: TenantRow) => ({
  ...t,
  status: t.status as 'active' | 'paused',
  createdAt: t.createdAt.toISOString(),
  updatedAt: t.updatedAt.toISOString(),
});

export const serializeInstance = (i: InstanceRow) => ({
  id: i.id,
  tenantId: i.tenantId,
  name: i.name,
  kind: i.kind as 'nexus' | 'hub',
  webhookUrl: i.webhookUrl,
  controlUrl: i.controlUrl,
  deliveryFormat: i.deliveryFormat as 'standard-webhooks' | 'meta',
  state: i.state as Instance['state'],
  stateReason: i.stateReason,
  stateChangedAt: i.stateChangedAt.toISOString(),
  version: i.version,
  createdAt: i.createdAt.toISOString(),
  updatedAt: i.updatedAt.toISOString(),
});

export const serializeChannel = (c: ChannelRow) => ({
  platform: c.platform as Channel['platform'],
  channelId: c.channelId,
  instanceId: c.instanceId,
  tenantId: c.tenantId,
  name: c.name,
  wabaId: c.wabaId,
  businessId: c.businessId,
  pageId: c.pageId,
  connection: {
    state: c.connectionState as Channel['connection']['state'],
    error: c.connectionError,
    checkedAt: iso(c.connectionCheckedAt),
  },
  createdAt: c.createdAt.toISOString(),
});

/** The Meta object whose webhooks the app subscribes to: the WABA, or the (linked) page. */
function subscriptionObject(body: CreateChannel): string {
  if (body.platform === 'whatsapp') {
    if (!body.wabaId)
      throw problems.validation([
        { field: 'body.wabaId', message: 'a WhatsApp channel needs its business account id' },
      ]);
    return body.wabaId;
  }
  if (body.platform === 'instagram') {
    if (!body.pageId)
      throw problems.validation([{ field: 'body.pageId', message: 'an Instagram account needs its linked page id' }]);
    return body.pageId;
  }
  return body.pageId ?? body.channelId;
}

const connectionPath = (platform: string, channelId: string) =>
  `/internal/v1/channels/${platform}/${encodeURIComponent(channelId)}/connection`;

const describeError = (connection: ChannelConnection) =>
  connection.error ? `${connection.error.message} (Meta code ${connection.error.code ?? 'none'})` : null;

export function registerTenantRoutes(app: HttpServer): void {
  const tags = ['tenants'];
  const noStore = { 'cache-control': 'no-store' };
  const reasonOf = (body: { reason: string } | undefined) => body?.reason ?? '';

  app.get(
    '/v1/tenants',
    {
      config: { permission: 'tenants.read' },
      schema: { tags, summary: 'Tenants', response: { 200: Type.Array(Tenant) } },
    },
    async () => (await app.tenants.listTenants()).map(serializeTenant),
  );
  app.post(
    '/v1/tenants',
    {
      config: { permission: 'tenants.write' },
      schema: { tags, summary: 'Create a tenant', body: CreateTenant, response: { 201: Tenant } },
    },
    async (req, reply) => {
      void reply.status(201);
      return serializeTenant(await app.tenants.createTenant(req.body, actorOf(req)));
    },
  );
  app.get(
    '/v1/tenants/:tenantId',
    {
      config: { permission: 'tenants.read' },
      schema: { tags, summary: 'A tenant', params: TenantParams, response: { 200: Tenant } },
    },
    async (req) => serializeTenant(await app.tenants.tenant(req.params.tenantId)),
  );
  app.patch(
    '/v1/tenants/:tenantId',
    {
      config: { permission: 'tenants.write' },
      schema: {
        tags,
        summary: "Change a tenant's name, modules or limits",
        params: TenantParams,
        body: UpdateTenant,
        response: { 200: Tenant },
      },
    },
    async (req) => serializeTenant(await app.tenants.updateTenant(req.params.tenantId, req.body, actorOf(req))),
  );
  for (const [verb, paused] of [
    ['pause', true],
    ['resume', false],
  ] as const) {
    app.post(
      `/v1/tenants/:tenantId/${verb}`,
      {
        config: { permission: 'instances.pause' },
        schema: {
          tags,
          summary: paused ? 'Pause every instance of a tenant' : 'Resume the instances the tenant pause held',
          params: TenantParams,
          body: StateChange,
          response: { 200: Type.Object({ tenant: Tenant, instances: Type.Array(Instance) }) },
        },
      },
      async (req) => {
        const result = await app.tenants.setTenantPaused(req.params.tenantId, paused, reasonOf(req.body), actorOf(req));
        return { tenant: serializeTenant(result.tenant), instances: result.instances.map(serializeInstance) };
      },
    );
  }

  const instanceTags = ['instances'];
  app.get(
    '/v1/instances',
    {
      config: { permission: 'instances.read' },
      schema: {
        tags: instanceTags,
        summary: 'Instances',
        querystring: Type.Object({ tenantId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(Instance) },
      },
    },
    async (req) =>
      (await app.tenants.listInstances(req.query.tenantId ? { tenantId: req.query.tenantId } : {})).map(
        serializeInstance,
      ),
  );
  app.post(
    '/v1/tenants/:tenantId/instances',
    {
      config: { permission: 'instances.write' },
      schema: {
        tags: instanceTags,
        summary: 'Create an instance; its engine credentials are shown once',
        params: TenantParams,
        body: CreateInstance,
        response: { 201: CreatedInstance },
      },
    },
    async (req, reply) => {
      const instance = await app.tenants.createInstance(req.params.tenantId, req.body, actorOf(req));
      let credentials = null;
      let credentialsError = null;
      try {
        credentials = await app.secretRefs.issueCredentials(instance.id);
      } catch (error) {
        credentialsError = `${(error as Error).message}; issue them later with POST /v1/instances/${instance.id}/credentials`;
      }
      void reply.status(201).headers(noStore);
      return { instance: serializeInstance(instance), credentials, credentialsError };
    },
  );
  app.get(
    '/v1/instances/:instanceId',
    {
      config: { permission: 'instances.read' },
      schema: { tags: instanceTags, summary: 'An instance', params: InstanceIdParams, response: { 200: Instance } },
    },
    async (req) => serializeInstance(await app.tenants.instance(req.params.instanceId)),
  );
  app.patch(
    '/v1/instances/:instanceId',
    {
      config: { permission: 'instances.write' },
      schema: {
        tags: instanceTags,
        summary: "Change an instance's name, addresses or delivery format",
        params: InstanceIdParams,
        body: UpdateInstance,
        response: { 200: Instance },
      },
    },
    async (req) => serializeInstance(await app.tenants.updateInstance(req.params.instanceId, req.body, actorOf(req))),
  );
  const transitions = [
    ['pause', 'paused', 'instances.pause', 'Pause: deliveries are held, sends refused with 423, the instance is told'],
    ['resume', 'active', 'instances.pause', 'Resume: what was held is delivered, in order'],
    ['deprovision', 'deprovisioned', 'instances.write', 'Deprovision: the instance leaves the engine for good'],
  ] as const;
  for (const [verb, state, permission, summary] of transitions) {
    app.post(
      `/v1/instances/:instanceId/${verb}`,
      {
        config: { permission },
        schema: {
          tags: instanceTags,
          summary,
          params: InstanceIdParams,
          body: StateChange,
          response: { 200: Instance },
        },
      },
      async (req) =>
        serializeInstance(
          await app.tenants.setInstanceState(req.params.instanceId, state, reasonOf(req.body), actorOf(req)),
        ),
    );
  }
  app.post(
    '/v1/instances/:instanceId/endpoint/enable',
    {
      config: { permission: 'instances.write' },
      schema: {
        tags: instanceTags,
        summary: 'Re-enable deliveries to an endpoint the engine disabled after a 410 Gone',
        params: InstanceIdParams,
        response: { 200: Instance },
      },
    },
    async (req) => serializeInstance(await app.tenants.reenableEndpoint(req.params.instanceId, actorOf(req))),
  );

  const channelTags = ['channels'];
  app.get(
    '/v1/channels',
    {
      config: { permission: 'channels.read' },
      schema: {
        tags: channelTags,
        summary: 'Channels',
        querystring: Type.Object({ instanceId: Type.Optional(Type.String()), tenantId: Type.Optional(Type.String()) }),
        response: { 200: Type.Array(Channel) },
      },
    },
    async (req) => (await app.tenants.listChannels(req.query)).map(serializeChannel),
  );
  app.post(
    '/v1/instances/:instanceId/channels',
    {
      config: { permission: 'channels.write' },
      schema: {
        tags: channelTags,
        summary:
          "Add a channel: its token goes to the engine's secret store and the Meta app is subscribed to its webhooks",
        params: InstanceIdParams,
        body: CreateChannel,
        response: { 201: Channel },
      },
    },
    async (req, reply) => {
      const { accessToken, ...channel } = req.body;
      const objectId = subscriptionObject(req.body);
      const instance = await app.tenants.checkChannelFree(req.params.instanceId, channel);
      let connection: ChannelConnection;
      try {
        connection = await app.engine.request<ChannelConnection>(
          'PUT',
          connectionPath(channel.platform, channel.channelId),
          {
            accessToken,
            objectId,
            ...(channel.metaApp ? { metaApp: channel.metaApp } : {}),
          },
        );
      } catch (error) {
        throw peerProblem(error, 'engine');
      }
      const row = await app.tenants.addChannel(
        instance,
        channel,
        { state: connection.state, error: describeError(connection) },
        actorOf(req),
      );
      if (connection.tokenRef) {
        // Only for showing the token's fingerprint and last 4: the channel is added either way.
        await app.secretRefs.refresh(connection.tokenRef).catch((error: unknown) => {
          req.log.warn({ err: error, ref: connection.tokenRef }, 'channel token reference not recorded');
        });
      }
      void reply.status(201);
      return serializeChannel(row);
    },
  );
  app.post(
    '/v1/channels/:platform/:channelId/resubscribe',
    {
      config: { permission: 'channels.write' },
      schema: {
        tags: channelTags,
        summary: "Subscribe the Meta app to the channel's webhooks again, with the stored token",
        params: ChannelParams,
        response: { 200: Channel },
      },
    },
    async (req) => {
      const { platform, channelId } = req.params;
      await app.tenants.channel(platform, channelId);
      let connection: ChannelConnection;
      try {
        connection = await app.engine.request<ChannelConnection>(
          'POST',
          `${connectionPath(platform, channelId)}/resubscribe`,
        );
      } catch (error) {
        throw peerProblem(error, 'engine');
      }
      await app.tenants.recordConnection(platform, channelId, connection.state, describeError(connection));
      return serializeChannel(await app.tenants.channel(platform, channelId));
    },
  );
  app.delete(
    '/v1/channels/:platform/:channelId',
    {
      config: { permission: 'channels.write' },
      schema: {
        tags: channelTags,
        summary:
          'Remove a channel: the engine unsubscribes the app and forgets the token (queued while the engine is down)',
        params: ChannelParams,
      },
    },
    async (req, reply) => {
      const { platform, channelId } = req.params;
      await app.tenants.removeChannel(
        platform,
        channelId,
        (tx) => app.engineOutbox.enqueue({ method: 'DELETE', path: connectionPath(platform, channelId) }, tx),
        actorOf(req),
      );
      void reply.status(204);
    },
  );
}
