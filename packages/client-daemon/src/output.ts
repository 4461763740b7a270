import type { Writable } from 'node:stream';

/**
 * Human text vs one --json document. stdout carries the result; notes (offline,
 * progress, errors) go to stderr in human mode so pipes see only the result.
 */
export class Output {
  constructor(
    readonly json: boolean,
    private readonly stdout: Writable = process.stdout,
    private readonly stderr: Writable = process.stderr,
  ) {}

  /** The one JSON document (json mode) — callers pass what the human path prints too. */
  document(value: unknown): void {
    if (this.json) this.stdout.write(JSON.stringify(value, null, 2) + '\n');
  }

  /** A line of human output (ignored in json mode). */
  line(text = ''): void {
    if (!this.json) this.stdout.write(text + '\n');
  }

  /** A note for the person at the terminal: stderr, human mode only. */
  note(text: string): void {
    if (!this.json) this.stderr.write(text + '\n');
  }

  /** A warning a person must see (key pinned, catalog expired): stderr in both modes. */
  warn(text: string): void {
    this.stderr.write(text + '\n');
  }

  /** An error line: stderr in both modes (json mode also prints an error document). */
  error(text: string): void {
    this.stderr.write(text + '\n');
  }

  table(headers: readonly string[], rows: readonly (readonly string[])[]): void {
    if (this.json) return;
    const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    const fmt = (cells: readonly string[]): string =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] ?? 0)))
        .join('  ')
        .trimEnd();
    this.line(fmt(headers));
    for (const row of rows) this.line(fmt(row));
  }
}
