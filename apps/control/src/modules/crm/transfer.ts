import { asc, eq, sql } from 'drizzle-orm';
import { Value } from 'typebox/value';
import type { TSchema } from 'typebox';
import {
  CreateCompany,
  CreateContact,
  UpdateCompany,
  UpdateContact,
  type Company,
  type Contact,
  type ImportResult,
} from '@mic/contracts';
import { Problem, problems, type Db } from '@mic/platform';
import type { AuditActor, DbTransaction } from '../audit/index.ts';
import { CsvError, formatCsv, parseCsv, undefused } from './csv.ts';
import { crmCompanies, crmContacts } from './schema.ts';
import { serializeCompany, type Crm } from './service.ts';

/** Lists in a cell (e-mails, phones, tags) are separated by semicolons. */
const LIST_SEPARATOR = ';';
export const MAX_IMPORT_ROWS = 10_000;

const CONTACT_COLUMNS = ['id', 'name', 'company_id', 'company', 'emails', 'phones', 'whatsapp_id', 'tags'] as const;
const COMPANY_COLUMNS = ['id', 'name', 'domain', 'tenant_id', 'tags'] as const;
/** Exported for reading; accepted and ignored on import, so an export imports back unchanged. */
const CONTACT_READ_ONLY = ['last_activity_at', 'created_at'];
const COMPANY_READ_ONLY = ['status', 'plan', 'last_activity_at', 'created_at'];

interface FieldError {
  field: string;
  message: string;
}

const list = (cell: string) =>
  cell
    .split(LIST_SEPARATOR)
    .map((v) => v.trim())
    .filter((v) => v !== '');
const orNull = (cell: string) => (cell.trim() === '' ? null : cell.trim());

type Row = Record<string, string>;

/** Header and records, cells trimmed of the CSV-injection guard; unknown columns are refused. */
function readRows(text: string, columns: readonly string[], readOnly: readonly string[]): { line: number; row: Row }[] {
  let records: string[][];
  try {
    records = parseCsv(text);
  } catch (error) {
    if (error instanceof CsvError) throw problems.validation([{ field: `line ${error.line}`, message: error.message }]);
    throw error;
  }
  const [header, ...body] = records;
  if (!header) throw problems.validation([{ field: 'body', message: 'the CSV is empty: it needs a header row' }]);
  const names = header.map((h) => h.trim().toLowerCase());
  const errors: FieldError[] = names.flatMap((name) =>
    columns.includes(name) || readOnly.includes(name)
      ? []
      : [{ field: `column ${name}`, message: `is not one of ${columns.join(', ')}` }],
  );
  if (!names.includes('name')) errors.push({ field: 'column name', message: 'is required' });
  if (errors.length) throw problems.validation(errors);
  const rows = body
    .map((cells, i) => ({ line: i + 2, cells }))
    .filter(({ cells }) => cells.some((c) => c.trim() !== ''));
  if (rows.length > MAX_IMPORT_ROWS) {
    throw problems.validation([
      { field: 'body', message: `at most ${MAX_IMPORT_ROWS} rows per import (has ${rows.length})` },
    ]);
  }
  return rows.map(({ line, cells }) => {
    if (cells.length !== names.length) {
      throw problems.validation([
        { field: `line ${line}`, message: `has ${cells.length} fields, the header ${names.length}` },
      ]);
    }
    return { line, row: Object.fromEntries(names.map((n, i) => [n, undefused(cells[i]!)])) };
  });
}

function schemaErrors(schema: TSchema, value: unknown, line: number): FieldError[] {
  return [...Value.Errors(schema, value)]
    .filter((e) => e.keyword !== 'boolean' && e.keyword !== 'anyOf')
    .map((e) => ({ field: `line ${line}: ${e.instancePath.split('/')[1] ?? '(row)'}`, message: e.message }));
}

/** Runs each row's change; the first refusal (a conflict, an unknown id) names its line and undoes the import. */
async function eachRow<T>(items: { line: number; item: T }[], apply: (item: T) => Promise<'created' | 'updated'>) {
  const result: ImportResult = { created: 0, updated: 0 };
  for (const { line, item } of items) {
    try {
      result[await apply(item)] += 1;
    } catch (error) {
      if (error instanceof Problem) {
        throw new Problem({
          status: error.status === 404 ? 400 : error.status,
          type: error.status === 404 ? 'validation' : error.type,
          title: error.title,
          detail: `line ${line}: ${error.detail ?? error.title}`,
          line,
          errors: [{ field: `line ${line}`, message: error.detail ?? error.title }],
        });
      }
      throw error;
    }
  }
  return result;
}

/** CSV import and export of contacts and companies: an export imports back unchanged. */
export class CrmTransfer {
  readonly #db: Db;
  readonly #crm: Crm;

  constructor(db: Db, crm: Crm) {
    this.#db = db;
    this.#crm = crm;
  }

  async exportCompanies(): Promise<string> {
    const rows = await this.#db.select().from(crmCompanies).orderBy(asc(crmCompanies.name), asc(crmCompanies.id));
    const records = rows
      .map(serializeCompany)
      .map((c: Company) => [
        c.id,
        c.name,
        c.domain ?? '',
        c.tenantId ?? '',
        c.tags.join(LIST_SEPARATOR),
        c.status,
        c.plan ?? '',
        c.lastActivityAt ?? '',
        c.createdAt,
      ]);
    return formatCsv([[...COMPANY_COLUMNS, ...COMPANY_READ_ONLY], ...records]);
  }

  async exportContacts(): Promise<string> {
    const rows = await this.#db
      .select({ contact: crmContacts, companyName: crmCompanies.name })
      .from(crmContacts)
      .leftJoin(crmCompanies, eq(crmCompanies.id, crmContacts.companyId))
      .orderBy(asc(crmContacts.name), asc(crmContacts.id));
    const names = new Map(rows.map((r) => [r.contact.id, r.companyName ?? '']));
    const contacts = await this.#crm.serializeContacts(rows.map((r) => r.contact));
    const records = contacts.map((c: Contact) => [
      c.id,
      c.name,
      c.companyId ?? '',
      names.get(c.id) ?? '',
      c.emails.join(LIST_SEPARATOR),
      c.phones.join(LIST_SEPARATOR),
      c.whatsappId ?? '',
      c.tags.join(LIST_SEPARATOR),
      c.lastActivityAt ?? '',
      c.createdAt,
    ]);
    return formatCsv([[...CONTACT_COLUMNS, ...CONTACT_READ_ONLY], ...records]);
  }

  /**
   * Companies from CSV: a row with an `id` updates that company, one without creates it. Every row
   * is checked before anything is written, and the import is one transaction: all or nothing.
   */
  async importCompanies(text: string, actor: AuditActor): Promise<ImportResult> {
    const errors: FieldError[] = [];
    const items = readRows(text, COMPANY_COLUMNS, COMPANY_READ_ONLY).map(({ line, row }) => {
      const input: CreateCompany = {
        name: row.name!.trim(),
        ...('domain' in row ? { domain: orNull(row.domain) } : {}),
        ...('tenant_id' in row ? { tenantId: orNull(row.tenant_id) } : {}),
        ...('tags' in row ? { tags: list(row.tags) } : {}),
      };
      errors.push(...schemaErrors(row.id ? UpdateCompany : CreateCompany, input, line));
      return { line, item: { id: orNull(row.id ?? ''), input } };
    });
    if (errors.length) throw problems.validation(errors);
    return this.#db.transaction((tx) =>
      eachRow(items, async ({ id, input }) => {
        if (id) {
          await this.#crm.updateCompany(id, input, actor, tx);
          return 'updated';
        }
        await this.#crm.createCompany(input, actor, tx);
        return 'created';
      }),
    );
  }

  /**
   * Contacts from CSV, as companies; `company_id`, else `company` (a name: an unknown one is created
   * as a prospect) links the contact to its company, and empty list cells clear the list.
   */
  async importContacts(text: string, actor: AuditActor): Promise<ImportResult> {
    const errors: FieldError[] = [];
    const items = readRows(text, CONTACT_COLUMNS, CONTACT_READ_ONLY).map(({ line, row }) => {
      const input: CreateContact = {
        name: row.name!.trim(),
        ...('emails' in row ? { emails: list(row.emails) } : {}),
        ...('phones' in row ? { phones: list(row.phones) } : {}),
        ...('whatsapp_id' in row ? { whatsappId: orNull(row.whatsapp_id) } : {}),
        ...('tags' in row ? { tags: list(row.tags) } : {}),
      };
      const companyId = orNull(row.company_id ?? '');
      if (companyId) input.companyId = companyId;
      errors.push(...schemaErrors(row.id ? UpdateContact : CreateContact, input, line));
      const companyName = orNull(row.company ?? '');
      const hasCompanyColumn = 'company_id' in row || 'company' in row;
      return { line, item: { id: orNull(row.id ?? ''), input, companyName, hasCompanyColumn } };
    });
    if (errors.length) throw problems.validation(errors);
    return this.#db.transaction((tx) =>
      eachRow(items, async ({ id, input, companyName, hasCompanyColumn }) => {
        if (input.companyId === undefined && companyName) {
          input.companyId = await this.#companyNamed(tx, companyName, actor);
        } else if (input.companyId === undefined && hasCompanyColumn) {
          input.companyId = null;
        }
        if (id) {
          await this.#crm.updateContact(id, input, actor, tx);
          return 'updated';
        }
        await this.#crm.createContact(input, actor, tx);
        return 'created';
      }),
    );
  }

  async #companyNamed(tx: DbTransaction, name: string, actor: AuditActor): Promise<string> {
    const [known] = await tx
      .select({ id: crmCompanies.id })
      .from(crmCompanies)
      .where(sql`lower(${crmCompanies.name}) = lower(${name})`)
      .orderBy(asc(crmCompanies.createdAt))
      .limit(1);
    return known?.id ?? (await this.#crm.createCompany({ name }, actor, tx)).id;
  }
}
