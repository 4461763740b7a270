// Aligned text tables for the CLIs' human output (check, status, history, results).
import { createStyle, displayWidth, type Color, type Style } from './terminal.js';

/** A cell: plain text, or text with a colour (painted after padding, so alignment holds). */
export type TableCell = string | { text: string; color?: Color | readonly Color[] };

export interface TableOptions {
  /** colours for headers and cells; none by default */
  style?: Style;
  /** per column; 'right' suits numbers. Default 'left'. */
  align?: readonly ('left' | 'right')[];
  /** spaces between columns (default 2) */
  gap?: number;
}

function cellText(cell: TableCell | undefined): string {
  const text = cell === undefined ? '' : typeof cell === 'string' ? cell : cell.text;
  // a newline inside a cell would break every column after it
  return text.replace(/\s*[\r\n]+\s*/g, ' ');
}

/**
 * Header and rows as lines, each column as wide as its widest cell. The last column is not
 * padded (long titles and messages run on instead of widening every line), and trailing
 * spaces are trimmed.
 */
export function formatTable(
  headers: readonly string[],
  rows: readonly (readonly TableCell[])[],
  opts: TableOptions = {},
): string[] {
  const style = opts.style ?? createStyle(false);
  const gap = ' '.repeat(opts.gap ?? 2);
  const columns = Math.max(headers.length, ...rows.map((r) => r.length));
  const widths = Array.from({ length: columns }, (_, i) =>
    Math.max(displayWidth(headers[i] ?? ''), ...rows.map((r) => displayWidth(cellText(r[i])))),
  );
  const line = (cells: readonly TableCell[], header: boolean): string => {
    const parts: string[] = [];
    for (let i = 0; i < columns; i++) {
      const cell = cells[i];
      const text = cellText(cell);
      const pad = ' '.repeat(Math.max(0, (widths[i] ?? 0) - displayWidth(text)));
      const last = i === columns - 1;
      const right = opts.align?.[i] === 'right';
      const color = header ? 'bold' : typeof cell === 'object' ? cell.color : undefined;
      const painted = color ? style.paint(color, text) : text;
      parts.push(right ? pad + painted : last ? painted : painted + pad);
    }
    return parts.join(gap).trimEnd();
  };
  return [line(headers, true), ...rows.map((r) => line(r, false))];
}
