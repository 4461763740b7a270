// RFC 4180 CSV: CRLF line ends, every field quoted (quotes doubled) — a spreadsheet in a
// locale whose separator is `;` splits unquoted fields on its own terms, so quoting only
// fields that hold `, " CR LF` is not enough. Text that a spreadsheet would run as a
// formula (= + - @ TAB CR at the start) is prefixed with ' inside the quotes (OWASP) —
// host names, patch titles and messages come from clients and catalogs.
import type { Readable } from 'node:stream';
import { textStream } from './text-stream.js';

export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '""';
  // numbers and booleans are data, not text: a negative number keeps its sign
  const text = typeof value !== 'string' ? String(value) : FORMULA_START.test(value) ? `'${value}` : value;
  return `"${text.replace(/"/g, '""')}"`;
}

function csvLines(rows: Iterable<readonly CsvCell[]>): string {
  let text = '';
  for (const row of rows) text += row.map(csvCell).join(',') + '\r\n';
  return text;
}

export function toCsv(header: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  return csvLines([header]) + csvLines(rows);
}

/**
 * The same CSV as a stream (text-stream.ts): the header, then each page of rows as it is
 * read, so a download of the whole fleet holds one page in memory, never the whole text.
 */
export function csvStream(
  header: readonly string[],
  pages: AsyncIterable<Iterable<readonly CsvCell[]>> | Iterable<Iterable<readonly CsvCell[]>>,
): Readable {
  return textStream(
    (async function* () {
      yield csvLines([header]);
      for await (const page of pages) {
        const text = csvLines(page);
        if (text !== '') yield text;
      }
    })(),
  );
}
