// Summarise a V8 .cpuprofile (node --cpu-prof): self time by function and by file, and the
// total (inclusive) time of the functions matching --match. Used for the explanations in
// docs/performance.md.
//   node bench/tools/profile-summary.mjs FILE.cpuprofile [--top N] [--match REGEX]
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { top: { type: 'string', default: '25' }, match: { type: 'string' } },
});
const profile = JSON.parse(readFileSync(positionals[0], 'utf8'));
const byId = new Map(profile.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);

// Sample counts per node, weighted by the time deltas.
const self = new Map();
profile.samples.forEach((id, i) => self.set(id, (self.get(id) ?? 0) + (profile.timeDeltas[i] ?? 0)));
const total = [...self.values()].reduce((a, b) => a + b, 0);

const name = (n) => {
  const f = n.callFrame;
  const file = f.url ? f.url.replace(/^file:\/\//, '').replace(/.*\/(node_modules|packages)\//, '$1/') : '';
  return `${f.functionName || '(anonymous)'} ${file}:${f.lineNumber + 1}`;
};
const fileOf = (n) => {
  const url = n.callFrame.url;
  if (!url) return n.callFrame.functionName || '(native)';
  return url
    .replace(/^file:\/\//, '')
    .replace(/.*\/(node_modules\/(@[^/]+\/)?[^/]+|packages\/[^/]+\/dist\/[^:]+).*$/, '$1');
};

const agg = (keyOf) => {
  const m = new Map();
  for (const [id, t] of self) {
    const k = keyOf(byId.get(id));
    m.set(k, (m.get(k) ?? 0) + t);
  }
  return [...m].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top));
};
const ms = (us) => `${(us / 1000).toFixed(1).padStart(8)} ms ${((100 * us) / total).toFixed(1).padStart(5)}%`;

console.log(`total sampled: ${(total / 1000).toFixed(0)} ms`);
console.log('\nself time by function:');
for (const [k, t] of agg(name)) console.log(`${ms(t)}  ${k}`);
console.log('\nself time by file or package:');
for (const [k, t] of agg(fileOf)) console.log(`${ms(t)}  ${k}`);

if (values.match) {
  const re = new RegExp(values.match);
  // Inclusive time: a sample counts for a function when it is on the sample's stack.
  const inclusive = new Map();
  for (const [id, t] of self) {
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
      const k = name(byId.get(cur));
      if (re.test(k) && !seen.has(k)) {
        seen.add(k);
        inclusive.set(k, (inclusive.get(k) ?? 0) + t);
      }
    }
  }
  console.log(`\ninclusive time of functions matching /${values.match}/:`);
  for (const [k, t] of [...inclusive].sort((a, b) => b[1] - a[1]).slice(0, Number(values.top)))
    console.log(`${ms(t)}  ${k}`);
}
