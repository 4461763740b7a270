// Branch credentials (issue 14): a host's report token must not act as a branch's rollup
// token. The attacker is an enrolled host that PUTs a rollup under its own id, over real
// HTTP on loopback, to store reports of hosts it is not.
import { join } from 'node:path';
import Database from 'better-sqlite3';
import t from 'tap';
import { ROLLUP_FORMAT } from '../src/tiers/rollup-protocol.js';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { putReport, report, startHarness, type Harness } from './fixtures/http-harness.js';
import { run } from './fixtures/server-cli.js';

const MIRROR = '0123456789abcdef';

const event = (seq: number) => ({
  seq,
  type: 'install' as const,
  patchId: 'T5KB0042',
  at: `2026-11-24T09:${String(seq).padStart(2, '0')}:00Z`,
  outcome: 'ok',
  message: 'forged',
});

function rollup(h: Harness, branchId: string, hostIds: string[], token?: string): Promise<Response> {
  return fetch(`${h.base}/v1/branches/${branchId}/rollup`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({
      format: ROLLUP_FORMAT,
      branchId,
      mirror: MIRROR,
      sentAt: '2026-11-24T10:00:00Z',
      hosts: hostIds.map((id) => ({ report: report(id, { events: [1, 2, 3].map(event) }) })),
    }),
  });
}

async function enroll(h: Harness, id: string, kind: 'host' | 'branch'): Promise<string> {
  const tokens = SqliteTokenStore.open(h.config.dataDir);
  try {
    return await tokens.enroll(id, new Date(), kind);
  } finally {
    await tokens.close();
  }
}

async function errorOf(res: Response): Promise<{ status: number; message: string }> {
  return { status: res.status, message: ((await res.json()) as { message: string }).message };
}

t.test("a host's token on the rollup route is 403 and stores nothing", async (t) => {
  // reportTokens is 'optional' here (the loopback default): the rollup needs a token anyway.
  const h = await startHarness(t);
  const hostToken = await enroll(h, 'attacker-01', 'host');

  // The attack: roll up "victim-01" (never seen, not enrolled) as a branch named like the host.
  const forged = await errorOf(await rollup(h, 'attacker-01', ['victim-01'], hostToken));
  t.equal(forged.status, 403);
  t.match(forged.message, /host's report token cannot send a branch's rollup.*enroll --branch/);
  t.equal((await fetch(`${h.base}/v1/clients/victim-01`)).status, 404, 'no report of the victim stored');

  // Under another branch's name too.
  t.equal((await rollup(h, 'branch-b', ['victim-01'], hostToken)).status, 403);
  // No token at all: 401, even with optional report tokens.
  const none = await errorOf(await rollup(h, 'branch-b', ['victim-01']));
  t.equal(none.status, 401);
  t.match(none.message, /needs branch "branch-b"'s token/);

  // The victim's own first events are new, not swallowed as resends of forged seqs.
  const own = await putReport(h.base, 'victim-01', report('victim-01', { events: [1, 2, 3].map(event) }));
  t.equal(own.status, 200);
  t.same(await own.json(), { accepted: 3 });
});

t.test('a branch token rolls up as its branch only, and is no host token', async (t) => {
  const h = await startHarness(t);
  const branchToken = await enroll(h, 'branch-b', 'branch');
  await enroll(h, 'branch-c', 'branch');

  const ok = await rollup(h, 'branch-b', ['db-01'], branchToken);
  t.equal(ok.status, 200);
  t.match(await ok.json(), { hosts: 1, accepted: 3 });

  const other = await errorOf(await rollup(h, 'branch-c', ['db-02'], branchToken));
  t.equal(other.status, 403);
  t.match(other.message, /another branch/);

  const asHost = await fetch(`${h.base}/v1/clients/branch-b/report`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${branchToken}` },
    body: JSON.stringify(report('branch-b')),
  });
  t.equal(asHost.status, 403, "a branch's token cannot report as a host");
  t.match((await errorOf(asHost)).message, /branch's rollup token/);
});

t.test('one name is never both: enrolling the other kind needs a revoke first', async (t) => {
  const tokens = SqliteTokenStore.open(t.testdir());
  t.teardown(() => tokens.close());
  await tokens.enroll('host-a');
  await t.rejects(tokens.enroll('host-a', new Date(), 'branch'), {
    code: 'PB_ERR_USAGE',
    message: /"host-a" is enrolled as a host, not a branch: revoke it first/,
  });
  t.ok(await tokens.revoke('host-a'));
  const branch = await tokens.enroll('host-a', new Date(), 'branch');
  t.equal((await tokens.get('host-a'))?.kind, 'branch');
  t.equal(await tokens.check('host-a', branch, 'branch'), 'ok');
  t.equal(await tokens.check('host-a', branch, 'host'), 'wrong-kind');
});

t.test('an auth.sqlite from before token kinds is migrated: its tokens are host tokens', async (t) => {
  const dir = t.testdir();
  // The version-1 table exactly as earlier releases made it, with one enrolled token.
  const seed = SqliteTokenStore.open(join(dir, 'seed'));
  const token = await seed.enroll('old-branch');
  await seed.close();
  const hash = new Database(join(dir, 'seed', 'auth.sqlite'))
    .prepare('SELECT tokenHash FROM host_tokens')
    .pluck()
    .get() as Buffer;
  const old = new Database(join(dir, 'auth.sqlite'));
  old.exec(`CREATE TABLE host_tokens (hostId TEXT PRIMARY KEY, tokenHash BLOB NOT NULL,
    createdAt TEXT NOT NULL, revokedAt TEXT);
    CREATE UNIQUE INDEX host_tokens_hash ON host_tokens (tokenHash);`);
  old.prepare("INSERT INTO host_tokens VALUES ('old-branch', ?, '2026-01-01T00:00:00.000Z', NULL)").run(hash);
  old.close();

  const tokens = SqliteTokenStore.open(dir);
  t.teardown(() => tokens.close());
  t.equal((await tokens.get('old-branch'))?.kind, 'host');
  t.equal(await tokens.check('old-branch', token, 'host'), 'ok');
  t.equal(
    await tokens.check('old-branch', token, 'branch'),
    'wrong-kind',
    'a branch enrolled before must enroll again',
  );
});

t.test('patchbay-server enroll --branch prints a branch token; revoke has no --branch', async (t) => {
  const dir = t.testdir();
  const branch = await run(['--data-dir', dir, 'enroll', '--branch', 'branch-b', '--json']);
  t.equal(branch.code, 0, branch.stderr);
  const printed = JSON.parse(branch.stdout) as { hostId: string; kind: string; token: string };
  t.same(Object.keys(printed).sort(), ['hostId', 'kind', 'token']);
  t.equal(printed.kind, 'branch');
  const tokens = SqliteTokenStore.open(dir);
  t.teardown(() => tokens.close());
  t.equal(await tokens.check('branch-b', printed.token, 'branch'), 'ok');

  const human = await run(['--data-dir', dir, 'enroll', 'branch-b', '--branch']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stderr, /branch "branch-b" enrolled.*rollup\.token/);

  const clash = await run(['--data-dir', dir, 'enroll', 'branch-b']);
  t.equal(clash.code, 2, 'a host enroll of a branch name is refused');
  t.match(clash.stderr, /enrolled as a branch, not a host/);

  const misuse = await run(['--data-dir', dir, 'revoke', '--branch', 'branch-b']);
  t.equal(misuse.code, 2);
  t.match(misuse.stderr, /unknown option '--branch'\n.*run "patchbay-server revoke --help"/);
});
