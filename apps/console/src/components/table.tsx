import type { ComponentProps, ReactNode } from 'react';
import type { Resource } from '../api/resource.ts';
import { Loaded } from './ui.tsx';

export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
  /** A figure: right-aligned in its header and cells. */
  numeric?: boolean;
  /** Classes for the column's cells (`mono`, `actions`…). */
  className?: string;
}

type RowProps = ComponentProps<'tr'> & { [data: `data-${string}`]: string | undefined };

interface TableProps<T> {
  /** `false` leaves a column out (one the operator may not use, say). */
  columns: readonly (Column<T> | false)[];
  rowKey: (row: T) => string | number;
  rowProps?: (row: T) => RowProps;
  caption?: string;
}

/** The console's one table: a scrolling frame, a header row of column names, a row per item. */
export function DataTable<T>({ rows, columns, rowKey, rowProps, caption }: TableProps<T> & { rows: readonly T[] }) {
  const shown = columns.filter((column): column is Column<T> => column !== false);
  const cellClass = (column: Column<T>) =>
    [column.numeric ? 'num' : '', column.className ?? ''].filter(Boolean).join(' ') || undefined;
  return (
    <div className="table-wrap">
      <table>
        {caption ? <caption className="visually-hidden">{caption}</caption> : null}
        <thead>
          <tr>
            {shown.map((column, n) => (
              <th key={n} scope="col" className={column.numeric ? 'num' : undefined}>
                {column.header}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map((row) => (
            <tr key={rowKey(row)} {...rowProps?.(row)}>
              {shown.map((column, n) => (
                <td key={n} className={cellClass(column)}>
                  {column.cell(row)}
                </td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

/** A loaded list as a table, with the loading, error and empty states around it. */
export function ResourceTable<T>({
  resource,
  empty,
  ...table
}: TableProps<T> & { resource: Resource<readonly T[]>; empty: ReactNode }) {
  return (
    <Loaded resource={resource} isEmpty={(rows) => rows.length === 0} empty={empty}>
      {(rows) => <DataTable rows={rows} {...table} />}
    </Loaded>
  );
}
