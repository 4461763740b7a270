// The one table the benchmark prints: figure, baseline measured in the same run, ratio, target.
// Rows: { case, figure, value, baseline, ratio, target, met, note }; every cell is text.

export function formatTable(rows) {
  const header = ['case', 'figure', 'patchbay', 'baseline (same run)', 'ratio', 'target', 'met'];
  const cells = rows.map((r) => [
    r.case,
    r.figure,
    r.value,
    r.baseline ?? '—',
    r.ratio ?? '—',
    r.target ?? '—',
    r.met === undefined ? '—' : r.met === null ? 'skipped' : r.met ? 'yes' : 'NO',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i].length)));
  const line = (c) => `| ${c.map((v, i) => v.padEnd(widths[i])).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...cells.map(line)].join('\n');
}

export const fmt = {
  mibps: (bytes, seconds) => `${(bytes / 2 ** 20 / seconds).toFixed(0)} MiB/s`,
  rate: (n, seconds, unit) => `${Math.round(n / seconds).toLocaleString('en-US')} ${unit}`,
  mib: (bytes) => `${(bytes / 2 ** 20).toFixed(0)} MiB`,
  ms: (ms) => `${Math.round(ms)} ms`,
  ratio: (a, b) => (b > 0 ? `${(a / b).toFixed(2)}×` : '—'),
};
