// patchbay-publish renew: a publisher with nothing new for longer than the targets expiry must
// not freeze every host. In process (main with an injected clock): roles that expire within
// the window get new versions with the same content, signed, then snapshot and timestamp;
// nothing else moves; the repository verifies past the old expiry only after a renew.
import { join } from 'node:path';
import t from 'tap';
import { loadRepository } from '@patchbay/core/tuf';
import { main } from '../src/cli.js';
import { writePatch } from './fixtures/publish.js';

const DAY = 86_400_000;
const T0 = new Date('2026-12-01T00:00:00Z');
const ROLE = 'arcserve-backup~19.0';

async function cli(argv: string[], now: Date): Promise<{ code: number; out: string; err: string }> {
  let out = '';
  let err = '';
  const code = await main(argv, {
    stdout: (text) => (out += text),
    stderr: (text) => (err += text),
    now: () => now,
  });
  return { code, out, err };
}

const at = (days: number): Date => new Date(T0.getTime() + days * DAY);

t.test('renew: only what expires within the window, same content, verifiable afterwards', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  t.equal((await cli(['init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve'], T0)).code, 0);
  const patch = await writePatch(dir);
  const added = await cli(
    ['add', '--repo', repo, '--keys', keys, '--patch', patch.patchFile, ...patch.files],
    T0,
  );
  t.equal(added.code, 0, added.err);
  const before = await loadRepository(repo);

  const early = await cli(['renew', '--repo', repo, '--keys', keys, '--json'], at(10));
  t.equal(early.code, 0, early.err);
  t.same(JSON.parse(early.out).written, [], 'nothing expires within 30 days at day 10');

  const stale = await cli(['verify', repo, '--at', at(100).toISOString()], at(100));
  t.equal(stale.code, 1, 'without a renew the targets have expired by day 100');
  t.match(stale.out + stale.err, /expired/);

  const renewed = await cli(['renew', '--repo', repo, '--keys', keys, '--json'], at(70));
  t.equal(renewed.code, 0, renewed.err);
  const after = await loadRepository(repo);
  t.equal(after.targets.signed.version, before.targets.signed.version + 1, 'targets: a new version');
  t.equal(
    after.roles.get(ROLE)!.signed.version,
    before.roles.get(ROLE)!.signed.version + 1,
    'role: a new version',
  );
  t.same(
    Object.keys(after.roles.get(ROLE)!.signed.targets).sort(),
    Object.keys(before.roles.get(ROLE)!.signed.targets).sort(),
    'the same targets',
  );
  t.ok(Date.parse(after.targets.signed.expires) > at(150).getTime(), 'a fresh expiry');
  t.ok(after.snapshot.signed.version > before.snapshot.signed.version, 'a new snapshot');
  // the vendor site's own snapshot and timestamp (14 and 2 days) were renewed with it
  const fresh = await cli(['verify', repo, '--at', at(71).toISOString()], at(71));
  t.equal(fresh.code, 0, fresh.out + fresh.err);
});

t.test('renew --role: that role whatever its expiry; an unknown role is bad usage', async (t) => {
  const dir = t.testdir();
  const repo = join(dir, 'repo');
  const keys = join(dir, 'keys');
  t.equal((await cli(['init', '--repo', repo, '--keys', keys, '--vendor', 'Arcserve'], T0)).code, 0);
  const patch = await writePatch(dir);
  const added = await cli(
    ['add', '--repo', repo, '--keys', keys, '--patch', patch.patchFile, ...patch.files],
    T0,
  );
  t.equal(added.code, 0, added.err);
  const before = await loadRepository(repo);
  const one = await cli(['renew', '--repo', repo, '--keys', keys, '--role', ROLE], at(1));
  t.equal(one.code, 0, one.err);
  const after = await loadRepository(repo);
  t.equal(after.roles.get(ROLE)!.signed.version, before.roles.get(ROLE)!.signed.version + 1);
  t.equal(after.targets.signed.version, before.targets.signed.version, 'targets untouched');
  const bad = await cli(['renew', '--repo', repo, '--keys', keys, '--role', 'nope~1.0'], at(1));
  t.equal(bad.code, 2);
  t.match(bad.err, /--role nope~1\.0: no such targets role/);
});
