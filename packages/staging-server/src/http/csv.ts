// RFC 4180 CSV: CRLF line ends, every field quoted (quotes doubled) — a spreadsheet in a
// locale whose separator is `;` splits unquoted fields on its own terms, so quoting only
// fields that hold `, " CR LF` is not enough. Text that a spreadsheet would run as a
// formula (= + - @ TAB CR at the start) is prefixed with ' inside the quotes (OWASP) —
// host names, patch titles and messages come from clients and catalogs.
export type CsvCell = string | number | boolean | null | undefined;

const FORMULA_START = /^[=+\-@\t\r]/;

export function csvCell(value: CsvCell): string {
  if (value === null || value === undefined) return '""';
  // numbers and booleans are data, not text: a negative number keeps its sign
  const text = typeof value !== 'string' ? String(value) : FORMULA_START.test(value) ? `'${value}` : value;
  return `"${text.replace(/"/g, '""')}"`;
}

export function toCsv(header: readonly string[], rows: Iterable<readonly CsvCell[]>): string {
  const lines = [header.map(csvCell).join(',')];
  for (const row of rows) lines.push(row.map(csvCell).join(','));
  return lines.join('\r\n') + '\r\n';
}
