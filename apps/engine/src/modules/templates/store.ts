import { and, eq, inArray, or, sql } from 'drizzle-orm';
import type { Db } from '@mic/platform';
import { whatsappAccounts, whatsappNumbers, whatsappTemplates } from './schema.ts';

export type TemplateRow = typeof whatsappTemplates.$inferSelect;
export type AccountRow = typeof whatsappAccounts.$inferSelect;
export type NumberRow = typeof whatsappNumbers.$inferSelect;

/** What one sync of an account read from Meta. */
export interface AccountSnapshot {
  wabaId: string;
  portfolioId: string | null;
  templates: Omit<TemplateRow, 'updatedAt'>[];
  numbers: { phoneNumberId: string; messagingTier: string | null }[];
}

/** The templates module's tables; nothing else touches them. */
export class TemplateStore {
  readonly #db: Db;

  constructor(db: Db) {
    this.#db = db;
  }

  /** Replaces the account's templates with what Meta listed, and records the sync. */
  async saveSync(snapshot: AccountSnapshot, now: Date): Promise<void> {
    await this.#db.transaction(async (tx) => {
      const kept = snapshot.templates.map((t) => sql`(${t.name}, ${t.language})`);
      await tx
        .delete(whatsappTemplates)
        .where(
          and(
            eq(whatsappTemplates.wabaId, snapshot.wabaId),
            kept.length > 0
              ? sql`(${whatsappTemplates.name}, ${whatsappTemplates.language}) not in (${sql.join(kept, sql`, `)})`
              : undefined,
          ),
        );
      for (let i = 0; i < snapshot.templates.length; i += 500) {
        await tx
          .insert(whatsappTemplates)
          .values(snapshot.templates.slice(i, i + 500).map((t) => ({ ...t, updatedAt: now })))
          .onConflictDoUpdate({
            target: [whatsappTemplates.wabaId, whatsappTemplates.name, whatsappTemplates.language],
            set: {
              templateId: sql`excluded.template_id`,
              category: sql`excluded.category`,
              status: sql`excluded.status`,
              parameterFormat: sql`excluded.parameter_format`,
              components: sql`excluded.components`,
              parameters: sql`excluded.parameters`,
              updatedAt: now,
            },
          });
      }
      await tx
        .insert(whatsappAccounts)
        .values({
          wabaId: snapshot.wabaId,
          portfolioId: snapshot.portfolioId,
          syncedAt: now,
          syncError: null,
          updatedAt: now,
        })
        .onConflictDoUpdate({
          target: whatsappAccounts.wabaId,
          set: { portfolioId: snapshot.portfolioId, syncedAt: now, syncError: null, updatedAt: now },
        });
      for (const number of snapshot.numbers) {
        await tx
          .insert(whatsappNumbers)
          .values({ ...number, wabaId: snapshot.wabaId, syncedAt: now })
          .onConflictDoUpdate({
            target: whatsappNumbers.phoneNumberId,
            set: { wabaId: snapshot.wabaId, messagingTier: number.messagingTier, syncedAt: now },
          });
      }
    });
  }

  async saveSyncError(wabaId: string, message: string, now: Date): Promise<void> {
    // eslint-disable-next-line no-control-regex
    const error = message.replace(/\u0000/g, '').slice(0, 500);
    await this.#db
      .insert(whatsappAccounts)
      .values({ wabaId, syncError: error, updatedAt: now })
      .onConflictDoUpdate({ target: whatsappAccounts.wabaId, set: { syncError: error, updatedAt: now } });
  }

  async accounts(wabaIds: readonly string[]): Promise<AccountRow[]> {
    if (wabaIds.length === 0) return [];
    return this.#db
      .select()
      .from(whatsappAccounts)
      .where(inArray(whatsappAccounts.wabaId, [...wabaIds]));
  }

  async templates(wabaIds: readonly string[], filter: { name?: string; status?: string } = {}): Promise<TemplateRow[]> {
    if (wabaIds.length === 0) return [];
    return this.#db
      .select()
      .from(whatsappTemplates)
      .where(
        and(
          inArray(whatsappTemplates.wabaId, [...wabaIds]),
          filter.name === undefined ? undefined : eq(whatsappTemplates.name, filter.name),
          filter.status === undefined ? undefined : eq(whatsappTemplates.status, filter.status),
        ),
      )
      .orderBy(whatsappTemplates.name, whatsappTemplates.language);
  }

  async template(wabaId: string, name: string, language: string): Promise<TemplateRow | undefined> {
    const [row] = await this.#db
      .select()
      .from(whatsappTemplates)
      .where(
        and(
          eq(whatsappTemplates.wabaId, wabaId),
          eq(whatsappTemplates.name, name),
          eq(whatsappTemplates.language, language),
        ),
      );
    return row;
  }

  /** Sets a template's status from Meta's webhook; answers whether the engine knew the template. */
  async setStatus(
    tx: Db,
    change: {
      wabaId: string;
      templateId?: string | undefined;
      name?: string | undefined;
      language?: string | undefined;
    },
    status: string,
    now: Date,
  ): Promise<boolean> {
    const byId = change.templateId === undefined ? undefined : eq(whatsappTemplates.templateId, change.templateId);
    const byName =
      change.name === undefined || change.language === undefined
        ? undefined
        : and(eq(whatsappTemplates.name, change.name), eq(whatsappTemplates.language, change.language));
    if (!byId && !byName) return false;
    const updated = await tx
      .update(whatsappTemplates)
      .set({ status, updatedAt: now })
      .where(and(eq(whatsappTemplates.wabaId, change.wabaId), or(byId, byName)))
      .returning({ name: whatsappTemplates.name });
    return updated.length > 0;
  }

  async number(phoneNumberId: string): Promise<(NumberRow & { portfolioId: string | null }) | undefined> {
    const [row] = await this.#db
      .select({
        phoneNumberId: whatsappNumbers.phoneNumberId,
        wabaId: whatsappNumbers.wabaId,
        messagingTier: whatsappNumbers.messagingTier,
        syncedAt: whatsappNumbers.syncedAt,
        portfolioId: whatsappAccounts.portfolioId,
      })
      .from(whatsappNumbers)
      .leftJoin(whatsappAccounts, eq(whatsappAccounts.wabaId, whatsappNumbers.wabaId))
      .where(eq(whatsappNumbers.phoneNumberId, phoneNumberId));
    return row;
  }
}
