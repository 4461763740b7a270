// The fault suite's own bookkeeping: a violated invariant is recorded by name, with what the
// check saw, in <suite>.jsonl, and scripts/fault-table.mjs prints it under the table, so a
// violation in a long run says what broke without a rerun.
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { Invariants, MAX_RECORDED_VIOLATIONS, REPO_ROOT, type Asserter } from './figures.js';

/** Stands in for tap's Test: these checks fail on purpose, and must not fail this test. */
function recorder(): Asserter & { fails: { message: string; extra: object }[]; equals: unknown[][] } {
  const fails: { message: string; extra: object }[] = [];
  const equals: unknown[][] = [];
  return {
    fails,
    equals,
    fail: (message, extra) => {
      fails.push({ message, extra });
      return false;
    },
    equal: (found, wanted, message) => {
      equals.push([found, wanted, message]);
      return found === wanted;
    },
  };
}

function readFigures(dir: string, suite: string): Record<string, unknown>[] {
  return readFileSync(path.join(dir, `${suite}.jsonl`), 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

function faultTable(dir: string): { status: number | null; stdout: string } {
  const run = spawnSync(process.execPath, [path.join(REPO_ROOT, 'scripts', 'fault-table.mjs')], {
    env: { ...process.env, PATCHBAY_FAULT_RESULTS: dir },
    encoding: 'utf8',
  });
  return { status: run.status, stdout: run.stdout };
}

t.test('each violation is recorded with its invariant and detail, and the table names it', async (t) => {
  const dir = t.testdir();
  const sink = recorder();
  const inv = new Invariants(sink, dir);
  inv.check(true, 'the catalog verifies');
  inv.check(false, 'no temporary file outlives the next sync', { trial: 'publish', leftovers: ['x.tmp'] });
  inv.check(false, 'the next sync completes ok');
  inv.record({ suite: 'demo', scenario: 'SIGKILL somewhere', trials: 2 });

  t.same(
    sink.fails.map((f) => f.message),
    ['no temporary file outlives the next sync', 'the next sync completes ok'],
    'each violation is a failed assertion',
  );
  t.same(sink.equals, [[2, 0, 'SIGKILL somewhere: no invariant violated in 2 trials']]);
  const [row] = readFigures(dir, 'demo');
  t.match(row, { suite: 'demo', scenario: 'SIGKILL somewhere', invariantsChecked: 3, violations: 2 });
  t.same(row!.violated, [
    {
      invariant: 'no temporary file outlives the next sync',
      detail: { trial: 'publish', leftovers: ['x.tmp'] },
    },
    { invariant: 'the next sync completes ok' },
  ]);

  const table = faultTable(dir);
  t.equal(table.status, 1, 'a violation makes fault-table exit 1');
  t.match(table.stdout, /demo\s+\| SIGKILL somewhere\s+\| 2\s+\| 3\s+\| 2/);
  t.match(table.stdout, /Violations/);
  t.match(
    table.stdout,
    /- no temporary file outlives the next sync\n\s+\{"trial":"publish","leftovers":\["x\.tmp"\]\}/,
  );
  t.match(table.stdout, /- the next sync completes ok/);
});

t.test('the count stays exact when only the first violations are kept', async (t) => {
  const dir = t.testdir();
  const inv = new Invariants(recorder(), dir);
  const n = MAX_RECORDED_VIOLATIONS + 5;
  for (let i = 0; i < n; i++) inv.check(false, `broke ${i}`, { i });
  inv.record({ suite: 'many', scenario: 'many', trials: n });
  const [row] = readFigures(dir, 'many');
  t.equal(row!.violations, n);
  const violated = row!.violated as { invariant: string }[];
  t.equal(violated.length, MAX_RECORDED_VIOLATIONS);
  t.equal(violated[0]!.invariant, 'broke 0');
  t.match(
    faultTable(dir).stdout,
    new RegExp(`… 5 more \\(only the first ${MAX_RECORDED_VIOLATIONS} are kept\\)`),
  );
});

t.test('no violation: nothing listed, exit 0; older figures without names say so', async (t) => {
  const dir = t.testdir();
  const inv = new Invariants(recorder(), dir);
  inv.check(true, 'fine');
  inv.record({ suite: 'clean', scenario: 'all good', trials: 1 });
  t.notOk('violated' in readFigures(dir, 'clean')[0]!, 'no empty list recorded');
  const clean = faultTable(dir);
  t.equal(clean.status, 0);
  t.notMatch(clean.stdout, /Violations/);

  writeFileSync(
    path.join(dir, 'old.jsonl'),
    `${JSON.stringify({ suite: 'old', scenario: 'before names', trials: 1, invariantsChecked: 1, violations: 1, seed: 1 })}\n`,
  );
  const old = faultTable(dir);
  t.equal(old.status, 1);
  t.match(old.stdout, /old \/ before names \(seed 1\): 1 violation\(s\)\n\s+- \(no invariant names recorded/);
});
