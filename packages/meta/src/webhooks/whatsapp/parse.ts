import { buildEvent, conversationKeyOf, type ParseContext } from '../build-event.ts';
import { contentHash, dedupKey } from '../dedup.ts';
import type { MetaWebhookEvent } from '../events.ts';
import { isRecord, items, nonEmpty, record, text, type JsonRecord } from '../json.ts';
import { unknownEvent } from '../unknown.ts';
import { readErrors, readInboundMessage, readSender, readStatus, readTemplateStatus } from './content.ts';

/**
 * WhatsApp Cloud API bodies (`object: whatsapp_business_account`): entry[] (one per WhatsApp
 * Business Account) → changes[] → value. A `messages` value holds inbound messages, statuses of the
 * business's messages, or value-level errors; one event comes out of each.
 */
export function parseWhatsAppBody(body: JsonRecord, ctx: ParseContext): MetaWebhookEvent[] {
  return items(body.entry).flatMap((entry) => parseEntry(entry, ctx));
}

interface EntryScope {
  businessAccountId: string | undefined;
  time: unknown;
}

function parseEntry(entry: unknown, ctx: ParseContext): MetaWebhookEvent[] {
  if (!isRecord(entry)) return [unknownEvent('whatsapp', entry, { reason: 'entry is not an object' }, ctx)];
  const scope: EntryScope = { businessAccountId: text(entry.id), time: entry.time };
  const changes = items(entry.changes);
  if (changes.length === 0) {
    return [unknownEvent('whatsapp', entry, { reason: 'entry has no changes', ...unknownScope(scope) }, ctx)];
  }
  return changes.flatMap((change) => parseChange(change, scope, ctx));
}

const unknownScope = (scope: EntryScope, channelId?: string) => ({
  channelId: channelId ?? scope.businessAccountId ?? null,
  businessAccountId: scope.businessAccountId,
  times: [scope.time],
});

function parseChange(change: unknown, scope: EntryScope, ctx: ParseContext): MetaWebhookEvent[] {
  if (!isRecord(change)) {
    return [unknownEvent('whatsapp', change, { reason: 'change is not an object', ...unknownScope(scope) }, ctx)];
  }
  const field = text(change.field);
  const value = record(change.value);
  if (value !== undefined && field === 'messages') {
    const events = parseMessagesValue(value, scope, ctx);
    if (events.length > 0) return events;
  }
  if (value !== undefined && field === 'message_template_status_update') {
    return [templateStatusEvent(value, scope, ctx)];
  }
  const phoneNumberId = text(record(value?.metadata)?.phone_number_id);
  const reason =
    value === undefined ? 'change has no value' : field === 'messages' ? 'empty value' : 'unrecognised field';
  return [unknownEvent('whatsapp', change, { reason, field, ...unknownScope(scope, phoneNumberId) }, ctx)];
}

function parseMessagesValue(value: JsonRecord, scope: EntryScope, ctx: ParseContext): MetaWebhookEvent[] {
  const channelId = text(record(value.metadata)?.phone_number_id) ?? scope.businessAccountId ?? null;
  const messages = items(value.messages);
  const statuses = items(value.statuses);
  const valueErrors = readErrors(value.errors);
  const contacts = items(value.contacts).filter(isRecord);
  const count = messages.length + statuses.length + (valueErrors === undefined ? 0 : 1);

  // `raw` is Meta's value. Meta sends one message or status per value in practice; should a value
  // carry several, each event gets a copy of the value narrowed to its own item (and its sender's
  // contact), so an instance never receives another event's content in `raw`.
  const fragment = (key: 'messages' | 'statuses' | 'errors', item: unknown, contact?: JsonRecord): unknown => {
    if (count === 1) return value;
    const { messages: _m, statuses: _s, errors: _e, contacts: _c, ...rest } = value;
    return {
      ...rest,
      ...(contact === undefined ? {} : { contacts: [contact] }),
      [key]: key === 'errors' ? item : [item],
    };
  };
  const common = { channelId, businessAccountId: scope.businessAccountId };
  const events: MetaWebhookEvent[] = [];

  for (const message of messages) {
    if (!isRecord(message)) {
      events.push(
        unknownEvent('whatsapp', fragment('messages', message), { reason: 'message is not an object', ...common }, ctx),
      );
      continue;
    }
    const from = text(message.from);
    const contact = contacts.find((c) => text(c.wa_id) === from) ?? (contacts.length === 1 ? contacts[0] : undefined);
    events.push(inboundEvent(message, fragment('messages', message, contact), contact, common, ctx));
  }

  for (const status of statuses) {
    events.push(statusEvent(status, fragment('statuses', status), common, ctx));
  }

  if (valueErrors !== undefined) {
    events.push(
      buildEvent(
        'whatsapp.error',
        {
          ...common,
          // Value-level errors carry no id and no time: keyed by their content.
          dedupKey: dedupKey('whatsapp', 'error', channelId ?? '', contentHash(value.errors)),
          times: [scope.time],
          data: { errors: valueErrors },
          raw: fragment('errors', value.errors),
        },
        ctx,
      ),
    );
  }
  return events;
}

interface Common {
  channelId: string | null;
  businessAccountId: string | undefined;
}

function inboundEvent(
  message: JsonRecord,
  raw: unknown,
  contact: JsonRecord | undefined,
  common: Common,
  ctx: ParseContext,
): MetaWebhookEvent {
  const messageId = text(message.id);
  const from = text(message.from);
  if (messageId === undefined || from === undefined) {
    return unknownEvent('whatsapp', raw, { reason: 'message without id or sender', field: 'messages', ...common }, ctx);
  }
  const sender = readSender(contact);
  const conversationKey = conversationKeyOf(common.channelId, sender?.waId ?? from);

  if (text(message.type) === 'reaction') {
    const reaction = record(message.reaction);
    const reactedMessageId = text(reaction?.message_id);
    // Removal: current docs omit `emoji`, older payloads send it empty.
    const emoji = nonEmpty(reaction?.emoji) ?? null;
    return buildEvent(
      'whatsapp.reaction.received',
      {
        ...common,
        // One message can be reacted to, unreacted and reacted again: the emoji (or its removal)
        // and the time tell those apart.
        dedupKey: dedupKey(
          'whatsapp',
          'reaction',
          reactedMessageId ?? messageId,
          emoji ?? 'removed',
          text(message.timestamp) ?? messageId,
        ),
        conversationKey,
        times: [message.timestamp],
        data: {
          messageId,
          from,
          ...(sender === undefined ? {} : { sender }),
          ...(reactedMessageId === undefined ? {} : { reactedMessageId }),
          emoji,
          removed: emoji === null,
        },
        raw,
      },
      ctx,
    );
  }

  return buildEvent(
    'whatsapp.message.received',
    {
      ...common,
      dedupKey: dedupKey('whatsapp', 'message', messageId),
      conversationKey,
      times: [message.timestamp],
      data: readInboundMessage(message, { messageId, from }, sender),
      raw,
    },
    ctx,
  );
}

function statusEvent(status: unknown, raw: unknown, common: Common, ctx: ParseContext): MetaWebhookEvent {
  const s = record(status);
  const messageId = text(s?.id);
  const value = text(s?.status);
  if (s === undefined || messageId === undefined || value === undefined) {
    return unknownEvent(
      'whatsapp',
      raw,
      { reason: 'status without message id or status', field: 'messages', ...common },
      ctx,
    );
  }
  return buildEvent(
    'whatsapp.message.status',
    {
      ...common,
      // One wamid carries sent, delivered, read (or failed): the status is part of the key.
      dedupKey: dedupKey('whatsapp', 'status', messageId, value),
      conversationKey: conversationKeyOf(common.channelId, text(s.recipient_id)),
      times: [s.timestamp],
      data: readStatus(s, { messageId, status: value }),
      raw,
    },
    ctx,
  );
}

function templateStatusEvent(value: JsonRecord, scope: EntryScope, ctx: ParseContext): MetaWebhookEvent {
  const data = readTemplateStatus(value);
  return buildEvent(
    'whatsapp.template.status_updated',
    {
      // A template belongs to the WhatsApp Business Account, not to a phone number.
      channelId: scope.businessAccountId ?? null,
      businessAccountId: scope.businessAccountId,
      dedupKey: dedupKey(
        'whatsapp',
        'template',
        data.templateId ?? contentHash(value),
        data.event ?? '',
        text(scope.time) ?? contentHash(value),
      ),
      times: [scope.time],
      data,
      raw: value,
    },
    ctx,
  );
}
