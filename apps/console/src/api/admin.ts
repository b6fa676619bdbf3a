import type { Static } from 'typebox';
import type {
  BroadcastFigures,
  Activity,
  ActivityKind,
  Alert,
  Channel,
  CreateChannel,
  CreateInstance,
  CreatedInstance,
  CreateInvoice,
  CreateActivity,
  CreatedOperator,
  CreateOperator,
  CreateTenant,
  BroadcastRecipientPage,
  BroadcastRecipientState,
  DeliveryDetail,
  DeliverySummary,
  HubBroadcast,
  HubPost,
  HubPostDetail,
  InboundEventDetail,
  InboundEventSummary,
  MessageState,
  MessageStatus,
  OutboundMessageSummary,
  HealthReport,
  Instance,
  InstanceCommand,
  InstancePasswordResetAnswer,
  InstanceUptime,
  Invoice,
  Payment,
  Plan,
  RecordPayment,
  Series,
  DunningState,
  Subscription,
  Tenant,
  UpdateActivity,
  UpdateTenant,
  UsageCounter,
  BillingEvent,
  BillingProfile,
  BillingProfileInput,
  Company,
  Contact,
  Deal,
  PipelineStage,
  Operator,
  AuditPage,
  AuditVerification,
  SecondFactorStatus,
  BackupList,
  BackupVerification,
  LiveRestore,
  Conversation,
  ConversationMessage,
  RecoveryCodes,
  RevenueReport,
  TotpEnrolment,
} from '@mic/contracts';
import { api, withQuery } from './client.ts';

/**
 * The admin API, typed from packages/contracts: the one place pages call it from. Pages take the
 * contract types from `@mic/contracts` itself; this module adds only the shapes the contracts lack.
 */
export type DeliveryRow = Static<typeof DeliverySummary>;
export type DeliveryInspection = Static<typeof DeliveryDetail>;
export type InboundEvent = Static<typeof InboundEventSummary>;
export type InboundEventInspection = Static<typeof InboundEventDetail>;
export type OutboundMessage = Static<typeof OutboundMessageSummary>;
export type BackupCheck = Static<typeof BackupVerification>;
// These two answers have no schema in packages/contracts yet: they mirror control's flags and
// secrets routes (FlagView, SecretRefInfo) field for field.
export type Flag = { key: string; enabled: boolean; description?: string | null; updatedAt?: string | null };
export type SecretRefInfo = {
  ref: string;
  kind: string;
  version: number;
  fingerprint: string;
  last4: string;
  updatedAt: string;
};

const enc = encodeURIComponent;

/**
 * A `/health/*` report whatever its status: a failing component answers 503 with the report, and
 * the overview shows the report rather than an error.
 */
export async function health(path: string, signal?: AbortSignal): Promise<HealthReport | null> {
  try {
    const response = await fetch(path, {
      headers: { accept: 'application/health+json' },
      ...(signal ? { signal } : {}),
    });
    if (response.status === 404) return null;
    return (await response.json()) as HealthReport;
  } catch (error) {
    if ((error as Error).name === 'AbortError') throw error;
    return { status: 'fail', output: 'unreachable' };
  }
}

export const monitoring = {
  series: (metric: string, since?: string, signal?: AbortSignal) =>
    api.get<Series>('/v1/monitoring/series', { metric, since }, signal),
  alerts: (state?: 'active' | 'open' | 'acknowledged' | 'resolved') => api.get<Alert[]>('/v1/alerts', { state }),
  acknowledge: (id: string) => api.post<Alert>(`/v1/alerts/${enc(id)}/acknowledge`),
  usage: (tenantId?: string) => api.get<UsageCounter[]>('/v1/usage', { tenantId }),
};

export const tenants = {
  list: () => api.get<Tenant[]>('/v1/tenants'),
  get: (id: string) => api.get<Tenant>(`/v1/tenants/${enc(id)}`),
  create: (body: CreateTenant) => api.post<Tenant>('/v1/tenants', body),
  update: (id: string, body: UpdateTenant) => api.patch<Tenant>(`/v1/tenants/${enc(id)}`, body),
  setPaused: (id: string, paused: boolean, reason: string) =>
    api.post<{ tenant: Tenant; instances: Instance[] }>(`/v1/tenants/${enc(id)}/${paused ? 'pause' : 'resume'}`, {
      reason,
    }),
  instances: (tenantId?: string) => api.get<Instance[]>('/v1/instances', { tenantId }),
  createInstance: (tenantId: string, body: CreateInstance) =>
    api.post<CreatedInstance>(`/v1/tenants/${enc(tenantId)}/instances`, body),
  setInstancePaused: (id: string, paused: boolean, reason: string) =>
    api.post<Instance>(`/v1/instances/${enc(id)}/${paused ? 'pause' : 'resume'}`, { reason }),
  uptime: (id: string) => api.get<InstanceUptime>(`/v1/instances/${enc(id)}/uptime`),
  passwordReset: (id: string) =>
    api.post<InstancePasswordResetAnswer>(`/v1/instances/${enc(id)}/password-reset`, { delivery: 'show' }),
  backup: (id: string) => api.post<InstanceCommand>(`/v1/instances/${enc(id)}/commands`, { command: 'backup' }),
  command: (id: string, commandId: string) =>
    api.get<InstanceCommand>(`/v1/instances/${enc(id)}/commands/${enc(commandId)}`),
  channels: (tenantId: string) => api.get<Channel[]>('/v1/channels', { tenantId }),
  addChannel: (instanceId: string, body: CreateChannel) =>
    api.post<Channel>(`/v1/instances/${enc(instanceId)}/channels`, body),
  secrets: () => api.get<SecretRefInfo[]>('/v1/secrets'),
};

export interface DeliveryFilter {
  state?: 'pending' | 'delivered' | 'dead';
  instanceId?: string;
  type?: string;
}

export const deliveries = {
  list: (filter: DeliveryFilter, signal?: AbortSignal) =>
    api.get<DeliveryRow[]>('/v1/deliveries', { ...filter, limit: 200 }, signal),
  get: (id: string) => api.get<DeliveryInspection>(`/v1/deliveries/${enc(id)}`),
  replay: (id: string) => api.post<{ replayed: number }>(`/v1/deliveries/${enc(id)}/replay`),
  replayMatching: (filter: { instanceId?: string; type?: string }) =>
    api.post<{ replayed: number }>('/v1/deliveries/replay', filter),
};

export interface InboundEventFilter {
  platform?: string;
  channelId?: string;
  type?: string;
}

export interface OutboundMessageFilter {
  tenantId?: string;
  state?: MessageState;
  to?: string;
}

export const events = {
  unrouted: (filter: InboundEventFilter, signal?: AbortSignal) =>
    api.get<InboundEvent[]>('/v1/events', { ...filter, routeState: 'unrouted', limit: 200 }, signal),
  get: (id: string) => api.get<InboundEventInspection>(`/v1/events/${enc(id)}`),
};

export const outboundMessages = {
  list: (filter: OutboundMessageFilter, signal?: AbortSignal) =>
    api.get<OutboundMessage[]>('/v1/messages', { ...filter, limit: 200 }, signal),
  get: (instanceId: string, id: string) =>
    api.get<MessageStatus>(`/v1/instances/${enc(instanceId)}/messages/${enc(id)}`),
};

/** Every tenant's broadcasts of the last `days`, summed by the engine. */
export const broadcastFigures = (days: number, signal?: AbortSignal) =>
  api.get<BroadcastFigures>('/v1/broadcasts/figures', { days }, signal);

export const hub = {
  broadcasts: (signal?: AbortSignal) => api.get<HubBroadcast[]>('/v1/hub/broadcasts', { limit: 200 }, signal),
  broadcast: (id: string) => api.get<HubBroadcast>(`/v1/hub/broadcasts/${enc(id)}`),
  recipients: (id: string, query: { state?: BroadcastRecipientState; after?: string }) =>
    api.get<BroadcastRecipientPage>(`/v1/hub/broadcasts/${enc(id)}/recipients`, { ...query, limit: 100 }),
  act: (id: string, action: 'pause' | 'resume' | 'cancel') =>
    api.post<HubBroadcast>(`/v1/hub/broadcasts/${enc(id)}/${action}`),
  posts: (signal?: AbortSignal) => api.get<HubPost[]>('/v1/hub/posts', { limit: 200 }, signal),
  post: (id: string) => api.get<HubPostDetail>(`/v1/hub/posts/${enc(id)}`),
  cancelPost: (id: string) => api.delete<HubPost>(`/v1/hub/posts/${enc(id)}`),
};

export const billing = {
  plans: () => api.get<Plan[]>('/v1/billing/plans'),
  subscriptions: () => api.get<Subscription[]>('/v1/billing/subscriptions'),
  dunning: () => api.get<DunningState[]>('/v1/billing/dunning'),
  events: (tenantId: string) => api.get<BillingEvent[]>(`/v1/billing/tenants/${enc(tenantId)}/events`),
  invoices: (query: { tenantId?: string; status?: string } = {}) => api.get<Invoice[]>('/v1/billing/invoices', query),
  payments: (query: { tenantId?: string } = {}) => api.get<Payment[]>('/v1/billing/payments', query),
  profile: (tenantId: string) => api.get<BillingProfile>(`/v1/billing/tenants/${enc(tenantId)}/profile`),
  putProfile: (tenantId: string, body: BillingProfileInput) =>
    api.put<BillingProfile>(`/v1/billing/tenants/${enc(tenantId)}/profile`, body),
  createInvoice: (tenantId: string, body: CreateInvoice) =>
    api.post<Invoice>(`/v1/billing/tenants/${enc(tenantId)}/invoices`, body),
  issue: (invoiceId: string) => api.post<Invoice>(`/v1/billing/invoices/${enc(invoiceId)}/issue`),
  pdfUrl: (invoiceId: string, locale: string) => withQuery(`/v1/billing/invoices/${enc(invoiceId)}/pdf`, { locale }),
  recordPayment: (body: RecordPayment) => api.post<Payment>('/v1/billing/payments', body),
  revenue: () => api.get<RevenueReport>('/v1/billing/reports/revenue'),
  exportUrl: (name: 'invoices' | 'payments') => `/v1/billing/exports/${name}.csv`,
};

export const crm = {
  companies: (q?: string) => api.get<Company[]>('/v1/crm/companies', { q }),
  contacts: (q?: string) => api.get<Contact[]>('/v1/crm/contacts', { q }),
  stages: () => api.get<PipelineStage[]>('/v1/crm/pipeline/stages'),
  deals: () => api.get<Deal[]>('/v1/crm/deals'),
  moveDeal: (id: string, stageId: string) => api.patch<Deal>(`/v1/crm/deals/${enc(id)}`, { stageId }),
  activities: (query: { kind?: ActivityKind; open?: boolean }) =>
    api.get<Activity[]>('/v1/crm/activities', { ...query, limit: 200 }),
  addActivity: (body: CreateActivity) => api.post<Activity>('/v1/crm/activities', body),
  updateActivity: (id: string, body: UpdateActivity) => api.patch<Activity>(`/v1/crm/activities/${enc(id)}`, body),
  conversations: () => api.get<Conversation[]>('/v1/crm/conversations'),
  messages: (id: string) => api.get<ConversationMessage[]>(`/v1/crm/conversations/${enc(id)}/messages`),
  markRead: (id: string) => api.post<Conversation>(`/v1/crm/conversations/${enc(id)}/read`),
  reply: (id: string, text: string) =>
    api.post<ConversationMessage>(`/v1/crm/conversations/${enc(id)}/replies`, { text }),
};

export const settings = {
  operators: () => api.get<Operator[]>('/v1/operators'),
  createOperator: (body: CreateOperator) => api.post<CreatedOperator>('/v1/operators', body),
  secondFactor: () => api.get<SecondFactorStatus>('/v1/auth/second-factor'),
  enrol: () => api.post<TotpEnrolment>('/v1/auth/second-factor/enrolment'),
  confirmSecondFactor: (code: string) => api.post<RecoveryCodes>('/v1/auth/second-factor/confirm', { code }),
  flags: () => api.get<Flag[]>('/v1/flags'),
  setFlag: (key: string, enabled: boolean) => api.put<Flag>(`/v1/flags/${enc(key)}`, { enabled }),
  audit: (query: { target?: string; limit?: number } = {}) => api.get<AuditPage>('/v1/audit', query),
  verifyAudit: () => api.get<AuditVerification>('/v1/audit/verify'),
  backups: () => api.get<BackupList>('/v1/backups'),
  verifyBackup: (id: string) => api.post<BackupCheck>(`/v1/backups/${enc(id)}/verify`),
  restoreBackup: (id: string) => api.post<LiveRestore>(`/v1/backups/${enc(id)}/restore`, { confirm: 'control' }),
};
