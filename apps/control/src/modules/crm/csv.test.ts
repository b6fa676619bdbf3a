import { describe, expect, it } from 'vitest';
import { CsvError, formatCsv, parseCsv, undefused } from './csv.ts';

describe('CSV (RFC 4180)', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF or LF, and a BOM', () => {
    const text = '\uFEFFname,notes\r\n"Ruiz, Ana","dijo ""hola""\r\ny se fue"\nB,\n';
    expect(parseCsv(text)).toEqual([
      ['name', 'notes'],
      ['Ruiz, Ana', 'dijo "hola"\r\ny se fue'],
      ['B', ''],
    ]);
    expect(parseCsv('a,b')).toEqual([['a', 'b']]);
    expect(parseCsv('')).toEqual([]);
  });

  it('names the line of a malformed field', () => {
    expect(() => parseCsv('a\n"open\n')).toThrow(CsvError);
    expect(() => parseCsv('a\nx"y\n')).toThrow(expect.objectContaining({ line: 2 }) as Error);
    expect(() => parseCsv('"a"b\n')).toThrow('a closing quote must end its field');
  });

  it('writes what it reads back, and defuses spreadsheet formulas but not phone lists', () => {
    const records = [
      ['id', 'name', 'phones'],
      ['con_1', 'Ruiz, "Ana"\nMéxico', '+5215550101;+5215550102'],
      ['con_2', '=HYPERLINK("http://x")', '-2+3'],
    ];
    const text = formatCsv(records);
    expect(text.endsWith('\r\n')).toBe(true);
    const read = parseCsv(text);
    expect(read[1]).toEqual(records[1]);
    expect(read[2]).toEqual(['con_2', '\'=HYPERLINK("http://x")', "'-2+3"]);
    expect(read[2]!.map(undefused)).toEqual(records[2]);
  });
});
