// signing.targets "mirror" over loopback HTTP: a signed patchbay-feed/1 upstream, the server
// signing targets and the product roles itself under the organisation's root, and a host
// (tuf-js's Updater from root version 1) verifying what it serves: the descriptors are the
// feed's patches, a held-back patch is absent, versions move only with content, the timestamp
// refresher runs, /v1/status warns. Then the config errors.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { loadServerConfig, type ServerConfig } from '@patchbay/core';
import { catalogFromRoles, descriptorFromPatch } from '@patchbay/core/tuf';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { MIRROR_SIGNS_TARGETS_WARNING } from '../src/tuf/server-signed.js';
import { publish } from '../../publisher/test/fixtures/publish.js';
import { silentLogger } from './fixtures/http-harness.js';
import { startMirrorSigned, writeOrganisationRoot } from './fixtures/mirror-signed.js';
import { buildFeed, simplePatch, type FixtureFeed } from './fixtures/sync-upstream.js';
import { hostUpdater, trustedSet } from './fixtures/tuf-upstream.js';
import { ManualClock } from './fixtures/tuf-server.js';

interface Trust {
  mode: string;
  targetsSignedBy: string;
  warning?: string;
  rootVersion: number | null;
  targetsVersion: number | null;
  snapshotVersion: number | null;
  timestampVersion: number | null;
}

async function trustOf(base: string): Promise<Trust> {
  const res = await fetch(`${base}/v1/status`);
  return ((await res.json()) as { trust: Trust }).trust;
}

const UDP = { product: 'arcserve-udp', release: '9.0' };
const FEED: FixtureFeed = {
  sequence: 1,
  patches: [
    simplePatch('A'),
    // its file is not what the feed says: held back by the feed pipeline
    simplePatch('B', { files: [{ name: 'B.sh', content: 'real', claimSha256: 'f'.repeat(64) }] }),
    simplePatch('C', { requires: ['A'] }),
    simplePatch('U1', UDP),
  ],
};

t.test('mirror mode: the server signs targets from a feed; a host verifies them from the root', async (t) => {
  const clock = new ManualClock();
  const { server, online, root1, publishFeed } = await startMirrorSigned(t, t.testdir(), FEED, { clock });

  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'partial', report.error ?? 'B held back');
  t.same(
    report.heldBack.map((h) => h.patchId),
    ['B'],
  );
  t.ok(report.published);

  // A host deployed with root version 1 walks to version 2 and verifies every role.
  const updater = await hostUpdater(server.base, join(t.testdirName, 'host'), root1);
  await updater.refresh();
  const set = trustedSet(updater);
  t.equal(set.root.signed.version, 2, 'the host walked the root chain to version 2');
  t.ok(set.targets?.signatures[online.keyId], 'targets signed by the online key');
  t.ok(set.snapshot?.signatures[online.keyId], 'snapshot signed by the online key');
  t.same(Object.keys(set.snapshot!.signed.meta).sort(), [
    'arcserve-backup~18.0.json',
    'arcserve-backup~19.0.json',
    'arcserve-udp~9.0.json',
    'targets.json',
  ]);
  t.same(
    (set.targets!.signed.unrecognizedFields['x-patchbay'] as { vendor: string }).vendor,
    'Arcserve',
    'x-patchbay vendor',
  );

  // The descriptors are the feed's patches; B (held back) is in no role.
  const feed = buildFeed(FEED);
  const backup = await updater.getTargetInfo('arcserve-backup/19.0/A/A.sh');
  t.ok(backup, "A's file is a verified target");
  t.notOk(await updater.getTargetInfo('arcserve-backup/19.0/B.json'), 'held-back B is absent');
  const role = set.getRole('arcserve-backup~19.0')!.signed;
  t.same(Object.keys(role.targets).sort(), [
    'arcserve-backup/19.0/A.json',
    'arcserve-backup/19.0/A/A.sh',
    'arcserve-backup/19.0/C.json',
    'arcserve-backup/19.0/C/C.sh',
  ]);
  for (const id of ['A', 'C']) {
    const custom = role.targets[`arcserve-backup/19.0/${id}.json`]!.custom as {
      patchbay: { patch: unknown };
    };
    t.same(
      custom.patchbay.patch,
      descriptorFromPatch(feed.patches.find((p) => p.id === id)!),
      `${id} descriptor`,
    );
  }
  // tuf-js loads a delegated role when a path in it is asked for
  t.ok(await updater.getTargetInfo('arcserve-udp/9.0/U1.json'));
  t.notOk(await updater.getTargetInfo('arcserve-backup/18.0/none.json'), 'an empty role');
  const roles = new Map(
    ['arcserve-backup~18.0', 'arcserve-backup~19.0', 'arcserve-udp~9.0'].map((name) => [
      name,
      set.getRole(name)!.signed,
    ]),
  );
  const { catalog, heldBack } = catalogFromRoles({
    targets: set.targets!.signed,
    roles,
    fileUrl: ({ sha256 }) => sha256,
  });
  t.same(heldBack, [], 'every descriptor passes the read rules');
  t.same(catalog.patches.map((p) => p.id).sort(), ['A', 'C', 'U1']);
  const downloaded = await updater.downloadTarget(backup!);
  t.equal(await readFile(downloaded, 'utf8'), '#!/bin/sh\necho A "$1"\n', 'the file downloads and verifies');

  // /v1/status says who signs targets, and warns.
  const trust = await trustOf(server.base);
  t.match(trust, {
    mode: 'tuf',
    targetsSignedBy: 'mirror',
    warning: MIRROR_SIGNS_TARGETS_WARNING,
    rootVersion: 2,
    targetsVersion: 1,
    snapshotVersion: 1,
    timestampVersion: 1,
  });

  // A second sync with no change: nothing signed again.
  const again = await server.mirror.startSync();
  t.notOk(again.published, 'nothing published');
  t.match(await trustOf(server.base), { targetsVersion: 1, snapshotVersion: 1, timestampVersion: 1 });

  // A new patch for one product: only its role moves (and the snapshot and timestamp).
  await publishFeed({ ...FEED, sequence: 2, patches: [...FEED.patches, simplePatch('U2', UDP)] });
  const third = await server.mirror.startSync();
  t.ok(third.published, third.error ?? 'published');
  const meta = join(server.config.dataDir, 'tuf', 'metadata');
  const versions = async () => {
    const { listMetadataVersions } = await import('@patchbay/core/tuf');
    const all = await listMetadataVersions(join(server.config.dataDir, 'tuf'));
    return Object.fromEntries([...all].map(([role, list]) => [role, list.at(-1)]));
  };
  t.match(await versions(), {
    targets: 1,
    'arcserve-backup~19.0': 1,
    'arcserve-backup~18.0': 1,
    'arcserve-udp~9.0': 2,
    snapshot: 2,
  });
  t.ok(JSON.parse(await readFile(join(meta, '2.arcserve-udp~9.0.json'), 'utf8')), 'the new role is served');
  // a later run of the host: the metadata it kept, then the server's new versions
  const later = await hostUpdater(server.base, join(t.testdirName, 'host'), root1);
  await later.refresh();
  t.ok(await later.getTargetInfo('arcserve-udp/9.0/U2/U2.sh'), 'the host sees the new patch');

  // The timestamp refresher runs in this mode too.
  const before = (await trustOf(server.base)).timestampVersion!;
  await clock.advance(13 * 3_600_000);
  t.equal(
    (await trustOf(server.base)).timestampVersion,
    before + 1,
    'timestamp re-signed at 45% of its life',
  );
});

t.test('a root made by patchbay-publish init --targets-key serves hosts', async (t) => {
  const dir = t.testdir();
  const { key: online } = await ensureOnlineKey({ dataDir: join(dir, 'data') });
  const pub = `${online.keyFile}.pub`;
  const repo = join(dir, 'org');
  const init = await publish([
    'init',
    '--repo',
    repo,
    '--keys',
    join(dir, 'keys'),
    '--targets-key',
    pub,
    '--online-key',
    pub,
  ]);
  t.equal(init.status, 0, init.stderr);
  t.match(init.stdout, /root only/);
  const { server, root1 } = await startMirrorSigned(t, dir, FEED, {
    rootFile: join(repo, 'metadata', 'root.json'),
  });
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'partial', report.error ?? 'synced');
  const updater = await hostUpdater(server.base, join(dir, 'host'), root1);
  await updater.refresh();
  t.ok(await updater.getTargetInfo('arcserve-backup/19.0/A/A.sh'), 'verified from the publisher-made root');
});

t.test('config errors name the key', async (t) => {
  const dir = t.testdir();
  const base = {
    dataDir: join(dir, 'data'),
    upstream: { url: 'http://127.0.0.1:1/' },
    log: { level: 'silent' as const },
  };
  const load = (more: Record<string, unknown>) => () =>
    loadServerConfig({ overrides: { ...base, ...more } as never });
  t.throws(load({ signing: { targets: 'mirror' } }), {
    code: 'PB_ERR_CONFIG',
    context: { key: 'signing.root' },
  });
  t.throws(
    load({
      signing: { targets: 'mirror', root: join(dir, 'root.json') },
      upstream: { ...base.upstream, trustedRoot: join(dir, 'root.json') },
    }),
    { code: 'PB_ERR_CONFIG', context: { key: 'upstream.trustedRoot' } },
  );
  t.throws(load({ signing: { root: join(dir, 'root.json') } }), {
    code: 'PB_ERR_CONFIG',
    context: { key: 'signing.root' },
  });
  t.throws(load({ signing: { targets: 'server' } }), {
    code: 'PB_ERR_CONFIG',
    context: { key: 'signing.targets' },
  });
  const ok = load({ signing: { targets: 'mirror', root: 'org/root.json' } })();
  t.equal(
    ok.signing.root,
    join(process.cwd(), 'org/root.json'),
    'signing.root is resolved to an absolute path',
  );

  // A root that does not list the online key for targets, or lacks an older version: refused at start.
  const { key: online } = await ensureOnlineKey({ dataDir: base.dataDir });
  await writeOrganisationRoot(join(dir, 'org'), online.publicKeyPem, ['snapshot', 'timestamp']);
  const config = (root: string): ServerConfig =>
    loadServerConfig({ overrides: { ...base, signing: { targets: 'mirror', root } } as never });
  await t.rejects(createMirrorService(config(join(dir, 'org', 'metadata', 'root.json')), silentLogger), {
    code: 'PB_ERR_CONFIG',
    message: /does not list it for targets/,
    context: { key: 'signing.root' },
  });
  await writeOrganisationRoot(join(dir, 'org2'), online.publicKeyPem);
  const { rm } = await import('node:fs/promises');
  await rm(join(dir, 'org2', 'metadata', '1.root.json'));
  await t.rejects(createMirrorService(config(join(dir, 'org2', 'metadata', 'root.json')), silentLogger), {
    code: 'PB_ERR_CONFIG',
    message: /1\.root\.json and every older version/,
    context: { key: 'signing.root' },
  });
});
