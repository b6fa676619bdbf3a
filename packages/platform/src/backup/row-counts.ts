function literal(identifier: string): string {
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(identifier)) throw new Error(`invalid schema name ${JSON.stringify(identifier)}`);
  return `'${identifier}'`;
}

/** Rows of every table (partitions included, as their own tables) in `schemas`, by `schema.table`. */
export async function countRows(
  query: (text: string) => Promise<Record<string, unknown>[]>,
  schemas: string[],
): Promise<Record<string, number>> {
  const tables = await query(
    `select n.nspname as schema, c.relname as name from pg_class c join pg_namespace n on n.oid = c.relnamespace
     where c.relkind = 'r' and n.nspname in (${schemas.map(literal).join(', ')}) order by 1, 2`,
  );
  if (tables.length === 0) return {};
  const quote = (name: unknown) => `"${String(name).replaceAll('"', '""')}"`;
  const counts = await query(
    tables
      .map(
        (t) =>
          `select ${`'${String(t.schema)}.${String(t.name).replaceAll("'", "''")}'`} as t, count(*)::text as n from ${quote(t.schema)}.${quote(t.name)}`,
      )
      .join(' union all '),
  );
  return Object.fromEntries(counts.map((r) => [String(r.t), Number(r.n)]));
}
