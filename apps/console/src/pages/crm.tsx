import { useState, type DragEvent } from 'react';
import { useTranslation } from 'react-i18next';
import type { Company, Conversation, Deal, PipelineStage } from '@mic/contracts';
import { crm } from '../api/admin.ts';
import { useResource } from '../api/resource.ts';
import { ErrorNotice, NamedOptions, SubmitButton, TextField, useSubmission } from '../components/forms.tsx';
import { ResourceTable } from '../components/table.tsx';
import { TabbedPage } from '../components/tabs.tsx';
import { Badge, errorText, Field, Loaded } from '../components/ui.tsx';
import { useFormat } from '../format.ts';
import { useSession } from '../session.tsx';
import { ActivitiesPanel } from './crm-activities.tsx';

const TABS = ['deals', 'activities', 'companies', 'contacts', 'conversations'] as const;

function Board() {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const data = useResource(async () => {
    const [stages, deals, companies] = await Promise.all([crm.stages(), crm.deals(), crm.companies()]);
    return { stages: [...stages].sort((a, b) => a.position - b.position), deals, companies };
  }, []);
  const [moved, setMoved] = useState<Record<string, string>>({});
  const [dragging, setDragging] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const editable = can('crm.write');

  const move = async (deal: Deal, stageId: string) => {
    const from = moved[deal.id] ?? deal.stageId;
    if (from === stageId) return;
    setError(null);
    // Shown in its new column at once; put back if control refuses.
    setMoved((m) => ({ ...m, [deal.id]: stageId }));
    try {
      await crm.moveDeal(deal.id, stageId);
    } catch (caught) {
      setMoved((m) => ({ ...m, [deal.id]: from }));
      setError(errorText(caught, t));
    }
  };

  return (
    <Loaded resource={data} isEmpty={(d) => d.stages.length === 0} empty={t('crm.noStages')}>
      {({ stages, deals, companies }) => {
        const companyName = (id: string) => companies.find((c: Company) => c.id === id)?.name ?? id;
        const stageOf = (deal: Deal) => moved[deal.id] ?? deal.stageId;
        const drop = (stage: PipelineStage) => (event: DragEvent) => {
          event.preventDefault();
          const id = event.dataTransfer.getData('text/plain');
          const deal = deals.find((d) => d.id === id);
          setDragging(null);
          if (deal) void move(deal, stage.id);
        };
        return (
          <>
            <ErrorNotice error={error} />
            {deals.length === 0 ? <p className="state state-empty">{t('crm.noDeals')}</p> : null}
            <div className="board">
              {stages.map((stage) => {
                const inStage = deals.filter((d) => stageOf(d) === stage.id);
                const total = inStage.reduce((sum, d) => sum + d.value.amountMinor, 0);
                return (
                  <section
                    key={stage.id}
                    className={`column${dragging ? ' droppable' : ''}`}
                    aria-labelledby={`stage-${stage.id}`}
                    onDragOver={(e) => editable && e.preventDefault()}
                    onDrop={drop(stage)}
                    data-stage={stage.name}
                  >
                    <h3 id={`stage-${stage.id}`}>
                      {stage.name} <span className="muted">({format.number(inStage.length)})</span>
                    </h3>
                    {inStage[0] ? <p className="muted">{format.money(total, inStage[0].value.currency)}</p> : null}
                    <ul>
                      {inStage.map((deal) => (
                        <li
                          key={deal.id}
                          className="deal"
                          draggable={editable}
                          onDragStart={(e) => {
                            e.dataTransfer.setData('text/plain', deal.id);
                            setDragging(deal.id);
                          }}
                          onDragEnd={() => setDragging(null)}
                        >
                          <strong>{deal.title}</strong>
                          <span className="muted">{companyName(deal.companyId)}</span>
                          <span>{format.money(deal.value.amountMinor, deal.value.currency)}</span>
                          {editable ? (
                            <label className="move">
                              <span className="visually-hidden">{t('crm.moveTo', { deal: deal.title })}</span>
                              <select value={stageOf(deal)} onChange={(e) => void move(deal, e.target.value)}>
                                <NamedOptions items={stages} />
                              </select>
                            </label>
                          ) : null}
                        </li>
                      ))}
                    </ul>
                  </section>
                );
              })}
            </div>
          </>
        );
      }}
    </Loaded>
  );
}

function Companies({ q }: { q: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  const list = useResource(() => crm.companies(q || undefined), [q]);
  return (
    <ResourceTable
      resource={list}
      empty={q ? t('crm.noMatch') : t('crm.noCompanies')}
      rowKey={(c) => c.id}
      columns={[
        {
          header: t('crm.name'),
          cell: (c) => (
            <>
              {c.name}
              {c.domain ? <div className="muted">{c.domain}</div> : null}
            </>
          ),
        },
        {
          header: t('crm.status'),
          cell: (c) => (
            <Badge tone={c.status === 'active' ? 'pass' : c.status === 'paused' ? 'warn' : 'info'}>
              {t(`companyStatus.${c.status}`)}
            </Badge>
          ),
        },
        { header: t('crm.plan'), cell: (c) => c.plan ?? '—' },
        { header: t('crm.tags'), cell: (c) => c.tags.join(', ') || '—' },
        { header: t('crm.lastActivity'), cell: (c) => format.relative(c.lastActivityAt) },
      ]}
    />
  );
}

function Contacts({ q }: { q: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  const list = useResource(() => crm.contacts(q || undefined), [q]);
  return (
    <ResourceTable
      resource={list}
      empty={q ? t('crm.noMatch') : t('crm.noContacts')}
      rowKey={(c) => c.id}
      columns={[
        { header: t('crm.name'), cell: (c) => c.name },
        { header: t('crm.emails'), cell: (c) => c.emails.join(', ') || '—' },
        { header: t('crm.phones'), cell: (c) => c.phones.join(', ') || '—' },
        { header: t('crm.tags'), cell: (c) => c.tags.join(', ') || '—' },
        { header: t('crm.lastActivity'), cell: (c) => format.relative(c.lastActivityAt) },
      ]}
    />
  );
}

/** How often the inbox and an open thread look for new messages. */
const INBOX_REFRESH_MS = 5_000;

function Thread({ conversation, contactName }: { conversation: Conversation; contactName: string }) {
  const { t } = useTranslation();
  const format = useFormat();
  const { can } = useSession();
  const messages = useResource(
    async () => {
      const list = await crm.messages(conversation.id);
      if (conversation.unread > 0) await crm.markRead(conversation.id).catch(() => undefined);
      return [...list].sort((a, b) => a.occurredAt.localeCompare(b.occurredAt));
    },
    [conversation.id],
    INBOX_REFRESH_MS,
  );
  const [text, setText] = useState('');
  const { pending, error, submit } = useSubmission();
  const send = submit(async () => {
    await crm.reply(conversation.id, text.trim());
    setText('');
    messages.reload();
  });
  return (
    <section className="panel thread" aria-labelledby="thread-title">
      <h3 id="thread-title">
        {contactName}{' '}
        <span className="muted">· {t(`platforms.${conversation.channel.kind}` as 'platforms.whatsapp')}</span>
      </h3>
      <Loaded resource={messages} isEmpty={(l) => l.length === 0} empty={t('crm.conversations.noMessages')}>
        {(list) => (
          <ol className="messages">
            {list.map((m) => (
              <li key={m.id} className={`message message-${m.direction}`}>
                <p>{m.text ?? t('crm.conversations.nonText', { type: m.messageType })}</p>
                <p className="muted">
                  {format.dateTime(m.occurredAt)} · {t(`messageState.${m.state}`)}
                  {m.sentBy ? ` · ${m.sentBy}` : ''}
                  {m.error ? ` · ${m.error.title}` : ''}
                </p>
              </li>
            ))}
          </ol>
        )}
      </Loaded>
      {can('crm.write') ? (
        <form className="stack" onSubmit={send}>
          <ErrorNotice error={error} />
          <Field label={t('crm.conversations.reply')}>
            <textarea value={text} onChange={(e) => setText(e.target.value)} rows={3} maxLength={4096} required />
          </Field>
          <div>
            <SubmitButton pending={pending} disabled={!text.trim()}>
              {t('crm.conversations.send')}
            </SubmitButton>
          </div>
        </form>
      ) : null}
    </section>
  );
}

function Conversations() {
  const { t } = useTranslation();
  const format = useFormat();
  const data = useResource(
    async () => {
      const [conversations, contacts] = await Promise.all([crm.conversations(), crm.contacts()]);
      return { conversations, contacts };
    },
    [],
    INBOX_REFRESH_MS,
  );
  const [open, setOpen] = useState<string | null>(null);
  return (
    <Loaded resource={data} isEmpty={(d) => d.conversations.length === 0} empty={t('crm.conversations.empty')}>
      {({ conversations, contacts }) => {
        const nameOf = (c: Conversation) => contacts.find((x) => x.id === c.contactId)?.name ?? c.externalId;
        const current = conversations.find((c) => c.id === open);
        return (
          <div className="inbox">
            <ul className="conversation-list">
              {conversations.map((c) => (
                <li key={c.id}>
                  <button
                    type="button"
                    className={c.id === open ? 'conversation active' : 'conversation'}
                    aria-current={c.id === open ? 'true' : undefined}
                    onClick={() => setOpen(c.id)}
                  >
                    <strong>{nameOf(c)}</strong>
                    <span className="muted">
                      {t(`platforms.${c.channel.kind}` as 'platforms.whatsapp')} · {format.relative(c.lastMessageAt)}
                    </span>
                    {c.unread > 0 && c.id !== open ? (
                      <Badge tone="info">{t('crm.conversations.unread', { count: c.unread })}</Badge>
                    ) : null}
                  </button>
                </li>
              ))}
            </ul>
            {current ? (
              <Thread conversation={current} contactName={nameOf(current)} />
            ) : (
              <p className="state state-empty">{t('crm.conversations.pick')}</p>
            )}
          </div>
        );
      }}
    </Loaded>
  );
}

export function CrmPage() {
  const { t } = useTranslation();
  const [q, setQ] = useState('');
  const [query, setQuery] = useState('');
  return (
    <TabbedPage title={t('crm.title')} tabs={TABS} labelOf={(name) => t(`crm.tabs.${name}`)}>
      {(tab) => (
        <>
          {tab === 'companies' || tab === 'contacts' ? (
            <form
              className="filters"
              role="search"
              onSubmit={(e) => {
                e.preventDefault();
                setQuery(q.trim());
              }}
            >
              <TextField label={t('common.search')} type="search" value={q} onChange={setQ} />
              <button type="submit">{t('common.search')}</button>
            </form>
          ) : null}
          {tab === 'deals' ? (
            <Board />
          ) : tab === 'activities' ? (
            <ActivitiesPanel />
          ) : tab === 'companies' ? (
            <Companies q={query} />
          ) : tab === 'contacts' ? (
            <Contacts q={query} />
          ) : (
            <Conversations />
          )}
        </>
      )}
    </TabbedPage>
  );
}
