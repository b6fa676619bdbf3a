/**
 * CSV as RFC 4180 describes it: fields separated by commas, records by CRLF (LF accepted), a field
 * in double quotes may hold commas, quotes (doubled) and line breaks.
 */

export class CsvError extends Error {
  readonly line: number;
  constructor(message: string, line: number) {
    super(message);
    this.name = 'CsvError';
    this.line = line;
  }
}

/** Records of fields; a byte-order mark and a last empty line are ignored. */
export function parseCsv(input: string): string[][] {
  const text = input.startsWith('\uFEFF') ? input.slice(1) : input;
  const records: string[][] = [];
  let record: string[] = [];
  let field = '';
  let line = 1;
  let i = 0;
  let isQuoted = false;
  let atFieldStart = true;
  while (i < text.length) {
    const c = text[i]!;
    if (isQuoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i += 2;
          continue;
        }
        isQuoted = false;
        i += 1;
        const next = text[i];
        if (next !== undefined && next !== ',' && next !== '\r' && next !== '\n') {
          throw new CsvError('a closing quote must end its field', line);
        }
        continue;
      }
      if (c === '\n') line += 1;
      field += c;
      i += 1;
      continue;
    }
    if (c === '"' && atFieldStart) {
      isQuoted = true;
      atFieldStart = false;
      i += 1;
    } else if (c === '"') {
      throw new CsvError('a quote inside an unquoted field', line);
    } else if (c === ',') {
      record.push(field);
      field = '';
      atFieldStart = true;
      i += 1;
    } else if (c === '\r' || c === '\n') {
      record.push(field);
      records.push(record);
      record = [];
      field = '';
      atFieldStart = true;
      i += c === '\r' && text[i + 1] === '\n' ? 2 : 1;
      line += 1;
    } else {
      field += c;
      atFieldStart = false;
      i += 1;
    }
  }
  if (isQuoted) throw new CsvError('a quoted field is not closed', line);
  if (!atFieldStart || field !== '' || record.length > 0) {
    record.push(field);
    records.push(record);
  }
  return records;
}

/**
 * A cell a spreadsheet would run as a formula gets a leading apostrophe (OWASP "CSV injection").
 * Phone lists (`+5215550199;+5215550100`) start with `+` but are left alone: they are not formulas.
 */
function defused(value: string): string {
  if (/^[=@\t\r-]/.test(value) || (value.startsWith('+') && !/^\+[0-9]+(;\+[0-9]+)*$/.test(value))) {
    return `'${value}`;
  }
  return value;
}

export function formatCsv(records: readonly (readonly string[])[]): string {
  return records
    .map((record) =>
      record
        .map((raw) => {
          const value = defused(raw);
          return /[",\r\n]/.test(value) ? `"${value.replaceAll('"', '""')}"` : value;
        })
        .join(','),
    )
    .map((line) => `${line}\r\n`)
    .join('');
}

/** Undoes `defused` on import. */
export function undefused(value: string): string {
  return /^'[=@\t\r+-]/.test(value) ? value.slice(1) : value;
}
