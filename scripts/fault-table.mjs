#!/usr/bin/env node
// Prints the fault suite's table from test-output/faults/*.jsonl (written by test/faults/figures.ts),
// then every recorded violation: the invariant's name and what the check saw.
// Exit 1 when any scenario recorded a violation or no figures were found.
import { readdirSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const dir = process.env.PATCHBAY_FAULT_RESULTS ?? path.join(root, 'test-output', 'faults');

let files = [];
try {
  files = readdirSync(dir).filter((name) => name.endsWith('.jsonl'));
} catch {
  // no results yet
}
const rows = files.sort().flatMap((name) =>
  readFileSync(path.join(dir, name), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line)),
);
if (rows.length === 0) {
  console.error(`fault-table: no figures in ${dir}; run npm run test:faults first`);
  process.exit(1);
}

const mb = (n) => `${(n / 1048576).toFixed(2)} MB`;
const header = [
  'suite',
  'scenario',
  'trials',
  'invariants checked',
  'violations',
  'bytes fetched / file size',
];
const table = rows.map((r) => [
  r.suite,
  r.scenario + (r.note ? ` (${r.note})` : ''),
  String(r.trials),
  String(r.invariantsChecked),
  String(r.violations),
  r.fileBytes
    ? `${mb(r.bytesFetched ?? 0)} / ${mb(r.fileBytes)} = ${((r.bytesFetched ?? 0) / r.fileBytes).toFixed(3)}`
    : '—',
]);
const totals = rows.reduce(
  (sum, r) => ({
    trials: sum.trials + r.trials,
    checked: sum.checked + r.invariantsChecked,
    violations: sum.violations + r.violations,
  }),
  { trials: 0, checked: 0, violations: 0 },
);
table.push([
  '**total**',
  `${rows.length} scenarios`,
  String(totals.trials),
  String(totals.checked),
  String(totals.violations),
  '',
]);

const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`;
const seeds = [...new Set(rows.map((r) => r.seed))].join(', ');
const full = rows.every((r) => r.full);
console.log(
  `\nFault suite (${full ? 'full run' : 'quick subset'}), seed ${seeds}, ${new Date().toISOString().slice(0, 10)}, ` +
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}\n`,
);
console.log(line(header));
console.log(line(widths.map((w) => '-'.repeat(w))));
for (const row of table) console.log(line(row));

/** one line of a violation's detail for the terminal; the whole of it stays in the .jsonl */
const DETAIL_CHARS = 600;
const oneLine = (detail) => {
  const text = JSON.stringify(detail) ?? String(detail);
  return text.length > DETAIL_CHARS ? `${text.slice(0, DETAIL_CHARS)}… (${text.length} chars)` : text;
};
const violating = rows.filter((r) => r.violations > 0);
if (violating.length > 0) {
  console.log(`\nViolations (the whole detail is in ${dir}/<suite>.jsonl):`);
  for (const r of violating) {
    console.log(`\n${r.suite} / ${r.scenario} (seed ${r.seed}): ${r.violations} violation(s)`);
    const violated = Array.isArray(r.violated) ? r.violated : [];
    for (const v of violated) {
      console.log(`  - ${v.invariant}`);
      if (v.detail !== undefined) console.log(`      ${oneLine(v.detail)}`);
    }
    if (violated.length === 0)
      console.log('  - (no invariant names recorded: figures from an older harness)');
    else if (violated.length < r.violations) {
      console.log(
        `  - … ${r.violations - violated.length} more (only the first ${violated.length} are kept)`,
      );
    }
  }
}
process.exit(totals.violations === 0 ? 0 : 1);
