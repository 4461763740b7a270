// The real CLI (built bin) against a real loopback staging server and real sh payloads.
import { readFileSync } from 'node:fs';
import t from 'tap';
import type { Test } from 'tap';
import { makeSandbox } from './fixtures/client.js';
import { running } from './fixtures/processes.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';
import type { FixturePatch, StagingFixture } from './fixtures/staging.js';

interface PatchLine {
  id: string;
  state: string;
  reason?: string;
  requires: string[];
}
interface Result {
  id: string;
  outcome: string;
  message: string;
}

async function setup(
  t: Test,
  patches: FixturePatch[],
): Promise<{ staging: StagingFixture; sb: ReturnType<typeof makeSandbox> }> {
  const staging = await startStaging(buildCatalog(patches));
  t.teardown(() => staging.close());
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  return { staging, sb };
}

function states(list: PatchLine[]): Record<string, string> {
  return Object.fromEntries(list.map((p) => [p.id, p.state]));
}

t.test('check lists patches with their states, and records a check event', async (t) => {
  const { staging, sb } = await setup(t, [
    { id: 'A' },
    { id: 'B', requires: ['A'] },
    { id: 'Z', release: '18.0' },
  ]);
  const { code, doc } = await sb.json<{ patches: PatchLine[] }>(['check']);
  t.equal(code, 0);
  t.same(states(doc.patches), { A: 'available', B: 'available' }, 'other releases are not listed');
  t.same(doc.patches.find((p) => p.id === 'B')?.requires, ['A']);
  t.notOk('offline' in doc);
  t.ok(
    staging.requests.some((r) => r.url === '/v1/tuf/metadata/timestamp.json'),
    'trust v2: the TUF metadata was read',
  );
  t.notOk(
    staging.requests.some((r) => r.url === '/v1/catalog'),
    'the v1 catalog was never asked for',
  );
  const last = staging.reports.at(-1);
  t.ok(last, 'a report was sent');
  t.equal(
    (last as { catalogSequence?: number } | undefined)?.catalogSequence,
    staging.tuf.snapshot,
    'the report names the snapshot version the host verified',
  );
  t.same(
    last?.events.map((e) => e.type),
    ['check'],
  );
  t.same(last?.patches.map((p) => [p.id, p.state]).sort(), [
    ['A', 'available'],
    ['B', 'available'],
  ]);
});

t.test('install runs requirements first and confirms with the detect rule', async (t) => {
  const { staging, sb } = await setup(t, [
    { id: 'C', requires: ['B'] },
    { id: 'B', requires: ['A'] },
    { id: 'A' },
  ]);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'C']);
  t.equal(code, 0);
  t.same(
    doc.results.map((r) => [r.id, r.outcome]),
    [
      ['A', 'ok'],
      ['B', 'ok'],
      ['C', 'ok'],
    ],
  );
  t.same(sb.orderLog(), ['install A', 'install B', 'install C']);
  t.ok(sb.marker('A') && sb.marker('B') && sb.marker('C'));
  const installs = sb.ledger().events.filter((e) => e.type === 'install');
  t.same(
    installs.map((e) => [e.patchId, e.outcome]),
    [
      ['A', 'ok'],
      ['B', 'ok'],
      ['C', 'ok'],
    ],
  );
  // every event reached the server, once
  const seqs = staging.reports.flatMap((r) => r.events.map((e) => e.seq));
  t.same(
    seqs,
    [...new Set(seqs)].sort((a, b) => a - b),
    'each seq delivered once, in order',
  );
  t.equal(sb.ledger().lastAckedSeq, Math.max(...seqs));
  const final = staging.reports.at(-1)!;
  t.same(final.patches.find((p) => p.id === 'C')?.state, 'installed');
  const status = await sb.json<{ patches: PatchLine[] }>(['status']);
  t.same(states(status.doc.patches), { A: 'installed', B: 'installed', C: 'installed' });
});

t.test('a failed install fails its dependants; unrelated patches still install', async (t) => {
  const { sb } = await setup(t, [
    { id: 'A', kind: 'fail' },
    { id: 'B', requires: ['A'] },
    { id: 'C', requires: ['B'] },
    { id: 'U' },
  ]);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', '--all']);
  t.equal(code, 1, 'exit 1 when something failed');
  const byId = Object.fromEntries(doc.results.map((r) => [r.id, r]));
  t.equal(byId.A?.outcome, 'failed');
  t.match(byId.A?.message, /exit code 3/);
  t.equal(byId.B?.outcome, 'failed');
  t.equal(byId.B?.message, 'requirement A failed');
  t.equal(byId.C?.outcome, 'failed');
  t.match(byId.C?.message, /requirement (A|B) failed/);
  t.equal(byId.U?.outcome, 'ok');
  t.ok(sb.marker('U'));
  t.notOk(sb.marker('B'));
  t.same(sb.orderLog(), ['install A', 'install U'], 'B and C never ran');
  const status = await sb.json<{ patches: PatchLine[] }>(['status']);
  t.equal(states(status.doc.patches).A, 'failed');
  t.equal(states(status.doc.patches).U, 'installed');
});

t.test('a command that exits 0 but leaves no detect marker is a failure', async (t) => {
  const { sb } = await setup(t, [{ id: 'N', kind: 'no-marker' }]);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'N']);
  t.equal(code, 1);
  t.match(doc.results[0]?.message, /detect rule says it is not installed/);
});

t.test('cycles and missing requirements are blocked, naming the ids', async (t) => {
  const { sb } = await setup(t, [
    { id: 'X', requires: ['Y'] },
    { id: 'Y', requires: ['X'] },
    { id: 'M', requires: ['GONE'] },
    { id: 'OK' },
  ]);
  const check = await sb.json<{ patches: PatchLine[] }>(['check']);
  const byId = Object.fromEntries(check.doc.patches.map((p) => [p.id, p]));
  t.equal(byId.X?.state, 'blocked');
  t.match(byId.X?.reason, /X/);
  t.match(byId.X?.reason, /Y/);
  t.equal(byId.M?.state, 'blocked');
  t.match(byId.M?.reason, /GONE/);
  t.equal(byId.OK?.state, 'available');

  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'X', 'M', 'OK']);
  t.equal(code, 1);
  const results = Object.fromEntries(doc.results.map((r) => [r.id, r]));
  t.equal(results.X?.outcome, 'failed');
  t.match(results.X?.message, /cycle/);
  t.match(results.M?.message, /GONE/);
  t.equal(results.OK?.outcome, 'ok');
  t.same(sb.orderLog(), ['install OK']);
});

t.test('a superseded patch is not offered once its successor is installed', async (t) => {
  const { sb } = await setup(t, [{ id: 'OLD' }, { id: 'NEW', supersedes: ['OLD'] }]);
  t.equal((await sb.run(['install', 'NEW'])).code, 0);
  const check = await sb.json<{ patches: PatchLine[] }>(['check']);
  t.same(states(check.doc.patches), { OLD: 'superseded', NEW: 'installed' });
  const all = await sb.json<{ results: Result[] }>(['install', '--all']);
  t.equal(all.code, 0);
  t.same(all.doc.results, [], 'nothing to install');
  t.notOk(sb.marker('OLD'));
});

t.test(
  'uninstall: refused naming dependants, --cascade goes dependants first, no uninstaller refused',
  async (t) => {
    const { staging, sb } = await setup(t, [
      { id: 'A' },
      { id: 'B', requires: ['A'] },
      { id: 'C', requires: ['B'] },
      { id: 'K', noUninstall: true },
    ]);
    t.equal((await sb.run(['install', 'C', 'K'])).code, 0);

    const refused = await sb.run(['uninstall', 'A']);
    t.equal(refused.code, 1);
    t.match(refused.stderr, /^patchbay-client: uninstall A refused: installed patches require it: C, B/);
    t.match(refused.stderr, /--cascade/);
    t.notMatch(
      refused.stderr,
      /hint|reachable/,
      'the message is its own advice; no "server unreachable" hint',
    );
    t.ok(sb.marker('A'), 'nothing was uninstalled');

    const noUninstaller = await sb.json<{ results: Result[] }>(['uninstall', 'K']);
    t.equal(noUninstaller.code, 1);
    t.match(noUninstaller.doc.results[0]?.message, /no uninstaller for K/);
    t.match(noUninstaller.stderr, /^patchbay-client: uninstall K refused: no uninstaller for K\n/);
    t.match(noUninstaller.stderr, /patchbay-client: hint: .*vendor's own removal procedure/);
    t.notMatch(noUninstaller.stderr, /reachable/);
    t.ok(sb.marker('K'));

    // both refusals are events: in the ledger, in history, and on the server
    const history = await sb.json<{ events: { patchId?: string; outcome: string; message: string }[] }>([
      'history',
      '--type',
      'uninstall',
    ]);
    t.same(
      history.doc.events.map((e) => [e.patchId, e.outcome]).sort(),
      [
        ['A', 'refused'],
        ['K', 'refused'],
      ],
      'history --type uninstall lists the refusals',
    );
    const served = staging.reports.flatMap((r) => r.events).filter((e) => e.type === 'uninstall');
    t.same(
      served.map((e) => [e.patchId, e.outcome]),
      [
        ['A', 'refused'],
        ['K', 'refused'],
      ],
      'the server was told',
    );
    t.match(served[1]?.message, /no uninstaller for K/);

    const cascade = await sb.json<{ results: Result[] }>(['uninstall', 'A', '--cascade']);
    t.equal(cascade.code, 0);
    t.same(
      cascade.doc.results.map((r) => [r.id, r.outcome]),
      [
        ['C', 'ok'],
        ['B', 'ok'],
        ['A', 'ok'],
      ],
    );
    t.same(sb.orderLog().slice(-3), ['uninstall C', 'uninstall B', 'uninstall A']);
    t.notOk(sb.marker('A') || sb.marker('B') || sb.marker('C'));
    const status = await sb.json<{ patches: PatchLine[] }>(['status']);
    t.same(states(status.doc.patches), {
      A: 'uninstalled',
      B: 'uninstalled',
      C: 'uninstalled',
      K: 'installed',
    });
    const all = await sb.json<{ results: Result[] }>(['install', '--all']);
    t.same(all.doc.results, [], '--all leaves deliberately uninstalled patches alone');
  },
);

t.test('without a detect rule, the ledger decides', async (t) => {
  const { sb } = await setup(t, [{ id: 'L', noDetect: true }]);
  t.equal((await sb.run(['install', 'L'])).code, 0);
  const status = await sb.json<{ patches: PatchLine[] }>(['status']);
  t.same(states(status.doc.patches), { L: 'installed' });
});

t.test('usage and config errors exit 2 naming the thing', async (t) => {
  const { sb } = await setup(t, [{ id: 'A' }]);
  const unknown = await sb.run(['install', 'NOPE']);
  t.equal(unknown.code, 2);
  t.match(unknown.stderr, /NOPE/);

  const noSelection = await sb.run(['install']);
  t.equal(noSelection.code, 2);
  const badFlag = await sb.run(['check', '--cascade']);
  t.equal(badFlag.code, 2);
  t.match(badFlag.stderr, /--cascade/);
  const badCommand = await sb.run(['frobnicate']);
  t.equal(badCommand.code, 2);

  sb.writeConfig({ products: [{ id: 'no-such-product', release: '19.0', installDir: sb.installDir }] });
  const product = await sb.run(['check']);
  t.equal(product.code, 2);
  t.match(product.stderr, /products\[0\]\.id/);
  t.match(product.stderr, /no-such-product/);

  sb.writeConfig({ products: [{ id: 'arcserve-backup', release: '99.0', installDir: sb.installDir }] });
  const release = await sb.run(['check']);
  t.equal(release.code, 2);
  t.match(release.stderr, /products\[0\]\.release/);
  t.match(release.stderr, /99\.0/);

  sb.writeConfig({ sever: 'http://127.0.0.1:1' });
  const badKey = await sb.run(['check']);
  t.equal(badKey.code, 2);
  t.match(badKey.stderr, /sever/);
});

t.test('a blob whose digest does not match is never installed', async (t) => {
  const built = buildCatalog([{ id: 'A' }]);
  const staging = await startStaging(built);
  t.teardown(() => staging.close());
  staging.corrupt.add(built.catalog.patches[0]!.files[0]!.sha256);
  const sb = makeSandbox(t.testdir(), () => [staging.url]);
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'A']);
  t.equal(code, 1);
  t.match(doc.results[0]?.message, /SHA-256|digest/i);
  t.same(sb.orderLog(), [], 'nothing ran');
  t.notOk(sb.marker('A'));
  const downloads = sb.ledger().events.filter((e) => e.type === 'download');
  t.same(
    downloads.map((e) => e.outcome),
    ['failed'],
  );
});

t.test('an install that times out has its whole process tree killed', async (t) => {
  const { sb } = await setup(t, [{ id: 'H', kind: 'hang', timeoutSeconds: 1 }]);
  const started = Date.now();
  const { code, doc } = await sb.json<{ results: Result[] }>(['install', 'H']);
  t.equal(code, 1);
  t.match(doc.results[0]?.message, /timed out after 1 s/);
  t.ok(Date.now() - started < 15_000, 'did not wait for the payload');
  const pid = Number(readFileSync(`${sb.installDir}/grandchild.pid`, 'utf8').trim());
  t.ok(pid > 0, 'the payload started a grandchild');
  t.notOk(running(pid), `grandchild ${pid} is gone`);
});
