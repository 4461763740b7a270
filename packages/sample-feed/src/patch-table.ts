import { isWindowsSamplePatch, type SamplePatch } from './sample-patch.js';
import { windowsDetectRule } from './windows-installer.js';

function list(ids: readonly string[] | undefined): string {
  return ids && ids.length > 0 ? ids.join(', ') : '';
}

/** The detect column (the rule's kind) and the files column (how many). */
function detectAndFiles(patch: SamplePatch): [string, string] {
  if (isWindowsSamplePatch(patch)) return [Object.keys(windowsDetectRule(patch.installer))[0] ?? '', '1'];
  return [patch.detect, String(1 + (patch.extraFiles?.length ?? 0))];
}

/**
 * The Markdown patches table of docs/sample-feed.md, generated from the sample data. Columns
 * are padded the way prettier formats Markdown tables, so `prettier --check` leaves it alone.
 */
export function renderPatchTable(patches: readonly SamplePatch[]): string {
  const header = [
    'id',
    'product',
    'release',
    'severity',
    'requires',
    'supersedes',
    'detect',
    'files',
    'special role',
  ];
  const rows = patches.map((patch) => [
    patch.id,
    patch.product,
    patch.release,
    patch.severity,
    list(patch.requires),
    list(patch.supersedes),
    ...detectAndFiles(patch),
    patch.role ?? '',
  ]);
  const widths = header.map((title, column) =>
    Math.max(3, title.length, ...rows.map((row) => (row[column] ?? '').length)),
  );
  const line = (cells: readonly string[]): string =>
    `| ${cells.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join(' | ')} |`;
  return [line(header), line(widths.map((width) => '-'.repeat(width))), ...rows.map(line), ''].join('\n');
}
