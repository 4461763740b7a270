// Export and import under trust v2, in process: a TUF-mode server (the "DMZ") mirrors a TUF
// upstream built with @patchbay/core/tuf and exports; other data dirs import the bundle, verified
// from upstream.trustedRoot. What an import refuses (and that it then changes nothing), what it
// accepts (a publisher's repository, a bundle whose timestamp expired in transit), and a sync
// that would serve older roles than an import did.
import { cp, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t, { type Test } from 'tap';
import {
  ErrorCodes,
  isPatchbayError,
  loadServerConfig,
  type DeepPartial,
  type ServerConfig,
} from '@patchbay/core';
import {
  buildSnapshot,
  buildTimestamp,
  createSigner,
  expiresAfter,
  metadataFileName,
  newestVersion,
  readPrivateKeyFile,
  writeMetadata,
} from '@patchbay/core/tuf';
import { Metadata, MetadataKind } from '@tufjs/models';
import { runExport, type ExportSummary } from '../src/exchange/export-cli.js';
import { runImport } from '../src/exchange/import-run.js';
import { SyncStateStore } from '../src/store/sync-state.js';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { readServedState, servedRepositoryDir } from '../src/tuf/served-repository.js';
import { silentLogger } from './fixtures/http-harness.js';
import { startTufServer, tufServerConfig } from './fixtures/tuf-server.js';
import {
  DEFAULT_PATCHES,
  buildUpstream,
  hostUpdater,
  newUpstreamKeys,
  script,
  type UpstreamKeys,
} from './fixtures/tuf-upstream.js';

const ROLE = 'arcserve-backup~19.0';
const BACKUP_19 = { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] };

const flags = {
  dryRun: false,
  products: [] as string[],
  releases: [] as string[],
  since: undefined as string | undefined,
  chunkSize: undefined as string | undefined,
};

interface World {
  root: string;
  keys: UpstreamKeys;
  upstreamDir: string;
  rootFile: string;
  trustedRoot: Buffer;
  dmz: ServerConfig;
  /** a server config with its own data dir (its online key listed in the root unless `stranger`) */
  server(name: string, more?: DeepPartial<ServerConfig>, upstreamUrl?: string): ServerConfig;
}

function configFor(
  dataDir: string,
  upstreamUrl: string,
  rootFile: string,
  more: DeepPartial<ServerConfig> = {},
): ServerConfig {
  return loadServerConfig({ overrides: tufServerConfig(dataDir, upstreamUrl, rootFile, more) });
}

/** An upstream whose root lists the online keys of dmz, gapped and other (not stranger); the DMZ synced. */
async function world(t: Test): Promise<World> {
  const root = t.testdir();
  const keys = newUpstreamKeys();
  const online = [];
  for (const name of ['dmz', 'gapped', 'other']) {
    online.push((await ensureOnlineKey({ dataDir: join(root, name) })).key.publicKeyPem);
  }
  const upstreamDir = join(root, 'upstream');
  const trustedRoot = await buildUpstream(upstreamDir, keys, { onlineKey: online });
  const rootFile = join(root, 'trusted-root.json');
  await writeFile(rootFile, trustedRoot);
  const upstreamUrl = `${pathToFileURL(upstreamDir).href}/`;
  const dmz = configFor(join(root, 'dmz'), upstreamUrl, rootFile);
  await syncOnce(dmz);
  // the importers have no way to the upstream: an empty directory
  const nowhere = `${pathToFileURL(join(root, 'nowhere')).href}/`;
  return {
    root,
    keys,
    upstreamDir,
    rootFile,
    trustedRoot,
    dmz,
    server: (name, more = {}, upstreamUrl = nowhere) =>
      configFor(join(root, name), upstreamUrl, rootFile, { mirror: BACKUP_19, ...more }),
  };
}

async function syncOnce(config: ServerConfig): Promise<{ outcome: string; error: string | null }> {
  const mirror = await createMirrorService(config, silentLogger);
  try {
    return await mirror.startSync();
  } finally {
    await mirror.close();
  }
}

function exportTo(
  config: ServerConfig,
  dir: string,
  more: Partial<typeof flags> = {},
): Promise<ExportSummary> {
  return runExport(config, silentLogger, { ...flags, ...more, dir, json: true });
}

async function refusal(t: Test, promise: Promise<unknown>, code: string, pattern: RegExp): Promise<string> {
  try {
    await promise;
    t.fail(`expected ${code}`);
    return '';
  } catch (err) {
    t.ok(isPatchbayError(err), `a PatchbayError: ${String(err)}`);
    t.equal((err as { code?: string }).code, code);
    t.match((err as Error).message, pattern);
    return (err as Error).message;
  }
}

/** What a data dir publishes (to compare before and after a refused import). */
async function publishedState(dataDir: string): Promise<string> {
  const read = (file: string) => readFile(file, 'utf8').catch(() => '');
  const names = await readdir(join(servedRepositoryDir(dataDir), 'metadata')).catch(() => []);
  return [
    await read(join(servedRepositoryDir(dataDir), 'metadata', 'timestamp.json')),
    await read(join(dataDir, 'catalog', 'current.json')),
    names.sort().join(','),
  ].join('\n');
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries
    .filter((e) => e.isFile())
    .map((e) => join(e.parentPath, e.name).slice(dir.length + 1))
    .sort();
}

t.test(
  'export carries the served repository; import verifies it and publishes it as a sync does',
  async (t) => {
    const w = await world(t);
    const bundle = join(w.root, 'media', 'full');
    await mkdir(join(w.root, 'media'));
    const summary = await exportTo(w.dmz, bundle);
    t.ok(summary.tuf, 'the summary describes the TUF repository');
    t.same(summary.tuf?.roles, ['arcserve-backup~19.0', 'arcserve-udp~9.0']);
    const metadata = await filesUnder(join(bundle, 'metadata'));
    t.ok(
      metadata.includes('timestamp.json') &&
        metadata.includes('root.json') &&
        metadata.includes('1.root.json'),
    );
    t.ok(metadata.includes(metadataFileName(ROLE, 1)));
    const dmzRole = await readFile(
      join(servedRepositoryDir(w.dmz.dataDir), 'metadata', metadataFileName(ROLE, 1)),
    );
    t.ok(
      (await readFile(join(bundle, 'metadata', metadataFileName(ROLE, 1)))).equals(dmzRole),
      'byte for byte',
    );
    const targets = await filesUnder(join(bundle, 'targets'));
    t.equal(targets.length, summary.tuf?.targetFiles);
    t.ok(
      targets.every((path) => /^[a-z-]+\/[0-9.]+\/(?:[A-Z0-9]+\/)?[0-9a-f]{64}\.[^/]+$/.test(path)),
      'consistent-snapshot names',
    );

    const gapped = w.server('gapped');
    const result = await runImport(gapped, silentLogger, [bundle]);
    t.equal(result.outcome, 'ok');
    t.same(result.tuf?.roles, { [ROLE]: 1 }, 'the roles mirror.products selects');
    t.match(result.tuf?.skipped, [{ role: 'arcserve-udp~9.0', reason: /mirror\.products/ }]);
    t.equal(result.filesStored, 4, 'two descriptors and two scripts');
    const state = await SyncStateStore.open({ dataDir: gapped.dataDir });
    t.same(
      (await state.lastUpdate())?.imported,
      { kind: result.kind, source: bundle },
      "/v1/status's last update says import (an air-gapped server has no other kind)",
    );
    await state.close();
    const served = await readServedState(servedRepositoryDir(gapped.dataDir));
    t.ok(served, 'a repository is served');
    t.same(
      served?.signedBy.timestamp,
      [(await ensureOnlineKey(gapped)).key.keyId],
      "the importer's own timestamp",
    );
    t.ok(
      (
        await readFile(join(servedRepositoryDir(gapped.dataDir), 'metadata', metadataFileName(ROLE, 1)))
      ).equals(dmzRole),
      "the publisher's role byte for byte",
    );

    // the same bundle again: nothing new
    const again = await runImport(gapped, silentLogger, [bundle]);
    t.equal(again.published, false, 'a re-import publishes nothing');

    // a host verifies the importer with tuf-js from the publisher's root and downloads a file
    const server = await startTufServer(
      t,
      tufServerConfig(gapped.dataDir, gapped.upstream.url, w.rootFile, { mirror: BACKUP_19 }),
    );
    const updater = await hostUpdater(server.base, join(w.root, 'host'), w.trustedRoot);
    await updater.refresh();
    const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
    t.ok(info, 'the host finds the target');
    const file = await updater.downloadTarget(info!);
    t.same(await readFile(file), script('T5KB0042').bytes);
  },
);

t.test(
  'a publisher repository imports as it is; feed-only and TUF-only bundles meet the right server',
  async (t) => {
    const w = await world(t);
    // the publisher's own output (metadata/, targets/, no feed.json) carried on media
    const result = await runImport(w.server('gapped'), silentLogger, [w.upstreamDir]);
    t.equal(result.tuf?.targetsVersion, 1, "a publisher's repository imports directly");

    const feedOnly = join(w.root, 'feed-only');
    await mkdir(feedOnly);
    await writeFile(join(feedOnly, 'feed.json'), '{}');
    await refusal(
      t,
      runImport(w.server('other'), silentLogger, [feedOnly]),
      ErrorCodes.IMPORT_REFUSED,
      /not a TUF repository/,
    );

    const feedMode = loadServerConfig({
      overrides: {
        dataDir: join(w.root, 'feed-mode'),
        upstream: { url: `${pathToFileURL(join(w.root, 'nowhere')).href}/` },
        log: { level: 'silent' },
      },
    });
    await refusal(
      t,
      runImport(feedMode, silentLogger, [w.upstreamDir]),
      ErrorCodes.IMPORT_REFUSED,
      /upstream\.trustedRoot/,
    );
  },
);

t.test('a target file linked out of the bundle is refused unread; nothing is published', async (t) => {
  const w = await world(t);
  const bundle = join(w.root, 'bundle');
  await exportTo(w.dmz, bundle);
  const target = (await filesUnder(join(bundle, 'targets'))).find((p) => p.endsWith('.T5KB0042.sh'))!;
  const outside = join(w.root, 'outside.sh');
  await cp(join(bundle, 'targets', target), outside);
  await rm(join(bundle, 'targets', target));
  await symlink(outside, join(bundle, 'targets', target));
  const gapped = w.server('gapped');
  await refusal(
    t,
    runImport(gapped, silentLogger, [bundle]),
    ErrorCodes.IMPORT_REFUSED,
    // a directory bundle may hold no link at all (as a tar bundle): refused before it is read
    /holds entries that are not plain files or directories: targets\/.*\.T5KB0042\.sh \(symbolic link\)/,
  );
  t.equal(
    await publishedState(gapped.dataDir),
    await publishedState(join(w.root, 'none')),
    'nothing published',
  );
});

t.test('an expired bundle timestamp (transit) is accepted; an expired delegated role is not', async (t) => {
  const w = await world(t);
  const online = createSigner(await readPrivateKeyFile(join(w.dmz.dataDir, 'keys', 'online.key')));
  const past = expiresAfter(new Date(Date.now() - 3 * 86_400_000), 1);

  const stale = join(w.root, 'stale');
  await exportTo(w.dmz, stale);
  const snapshotVersion = (await newestVersion(stale, 'snapshot'))!;
  const timestamp = await buildTimestamp(stale, snapshotVersion, {
    version: (await newestVersion(stale, 'timestamp'))! + 1,
    expires: past,
  });
  timestamp.sign(online);
  await writeMetadata(stale, 'timestamp', timestamp);
  const result = await runImport(w.server('gapped'), silentLogger, [stale]);
  t.equal(result.outcome, 'ok', 'the importer signs its own timestamp');

  const expired = join(w.root, 'expired');
  await exportTo(w.dmz, expired);
  const doc = JSON.parse(await readFile(join(expired, 'metadata', metadataFileName(ROLE, 1)), 'utf8')) as {
    signed: { version: number; expires: string };
  };
  doc.signed.version = 2;
  doc.signed.expires = past;
  const role = Metadata.fromJSON(MetadataKind.Targets, { signed: doc.signed, signatures: [] } as never);
  role.sign(createSigner(w.keys.delegated));
  await writeMetadata(expired, ROLE, role);
  const versions = new Map([
    ['targets', 1],
    [ROLE, 2],
    ['arcserve-udp~9.0', 1],
  ]);
  const snapshot = await buildSnapshot(expired, versions, {
    version: snapshotVersion + 1,
    expires: expiresAfter(new Date(), 7),
  });
  snapshot.sign(online);
  await writeMetadata(expired, 'snapshot', snapshot);
  const fresh = await buildTimestamp(expired, snapshotVersion + 1, {
    version: 9,
    expires: expiresAfter(new Date(), 1),
  });
  fresh.sign(online);
  await writeMetadata(expired, 'timestamp', fresh);
  const other = w.server('other');
  await refusal(
    t,
    runImport(other, silentLogger, [expired]),
    ErrorCodes.TUF_VERIFY,
    new RegExp(`${metadataFileName(ROLE, 2).replace(/[.~]/g, '\\$&')}: version 2 expired`),
  );
  t.equal(
    await publishedState(other.dataDir),
    await publishedState(join(w.root, 'none')),
    'nothing published',
  );
});

t.test('an importer whose online key the root does not list is refused, naming the fix', async (t) => {
  const w = await world(t);
  const bundle = join(w.root, 'bundle');
  await exportTo(w.dmz, bundle);
  const stranger = w.server('stranger');
  await refusal(
    t,
    runImport(stranger, silentLogger, [bundle]),
    ErrorCodes.TUF_REPOSITORY,
    /does not list it for snapshot.*patchbay-publish/s,
  );
  t.equal(
    await publishedState(stranger.dataDir),
    await publishedState(join(w.root, 'none')),
    'nothing published',
  );
});

t.test(
  '--product narrows the target files; an importer selecting more is refused as incomplete',
  async (t) => {
    const w = await world(t);
    const bundle = join(w.root, 'bundle');
    const summary = await exportTo(w.dmz, bundle, { products: ['arcserve-backup'] });
    t.same(summary.tuf?.roles, [ROLE]);
    t.notOk((await filesUnder(join(bundle, 'targets'))).some((p) => p.startsWith('arcserve-udp/')));
    t.ok(
      (await filesUnder(join(bundle, 'metadata'))).includes(metadataFileName('arcserve-udp~9.0', 1)),
      'metadata whole',
    );
    t.equal((await runImport(w.server('gapped'), silentLogger, [bundle])).outcome, 'ok');
    await refusal(
      t,
      runImport(w.server('other', { mirror: {} }), silentLogger, [bundle]),
      ErrorCodes.IMPORT_REFUSED,
      /neither in the bundle nor in this mirror's store: arcserve-udp~9\.0: arcserve-udp\/9\.0\/UDP0001/,
    );
  },
);

t.test(
  'rollback: an older bundle after a newer one, and a sync of an older upstream after an import',
  async (t) => {
    const w = await world(t);
    const older = join(w.root, 'older');
    await exportTo(w.dmz, older);
    // the upstream as it is now, kept: the gapped server's (stale) upstream later
    const staleUpstream = join(w.root, 'stale-upstream');
    await cp(w.upstreamDir, staleUpstream, { recursive: true });
    // a second publication: version 2 of every role
    await buildUpstream(w.upstreamDir, w.keys, {
      version: 2,
      patches: [
        ...DEFAULT_PATCHES,
        { id: 'T5KB0044', product: 'arcserve-backup', release: '19.0', files: [script('T5KB0044')] },
      ],
    });
    const synced = await syncOnce(w.dmz);
    t.equal(synced.outcome, 'ok', synced.error ?? '');
    const newer = join(w.root, 'newer');
    await exportTo(w.dmz, newer);

    const gapped = w.server('gapped', {}, `${pathToFileURL(staleUpstream).href}/`);
    t.equal((await runImport(gapped, silentLogger, [newer])).tuf?.roles[ROLE], 2);
    const before = await publishedState(gapped.dataDir);
    await refusal(
      t,
      runImport(gapped, silentLogger, [older]),
      ErrorCodes.IMPORT_REFUSED,
      /rollback.*1\.targets\.json: targets version 1 is older than version 2/s,
    );
    t.equal(await publishedState(gapped.dataDir), before, 'a refused import changes nothing');

    // the network comes back with the stale upstream: its sync refuses to go back
    const report = await syncOnce(gapped);
    t.equal(report.outcome, 'failed');
    t.match(report.error, /rollback.*older than version 2/);
    t.equal(await publishedState(gapped.dataDir), before, 'the sync published nothing');
  },
);

t.test(
  'the upstream kind comes from the config: /v1/tuf/ needs trustedRoot, /v1/catalog refuses it',
  async (t) => {
    const root = t.testdir();
    const load = (upstream: Record<string, unknown>) => () =>
      loadServerConfig({ overrides: { dataDir: join(root, 'data'), upstream } });
    t.throws(load({ url: 'http://dmz.corp:8080/v1/tuf/' }), {
      code: ErrorCodes.CONFIG,
      message: /TUF repository: set upstream\.trustedRoot/,
    });
    t.throws(load({ url: 'http://dmz.corp:8080/v1/catalog', trustedRoot: join(root, 'root.json') }), {
      code: ErrorCodes.CONFIG,
      message: /<server>\/v1\/tuf\//,
    });
    t.equal(
      load({ url: 'http://dmz.corp:8080/v1/tuf', trustedRoot: join(root, 'root.json') })().upstream.url,
      'http://dmz.corp:8080/v1/tuf/',
      'the repository is a directory',
    );
  },
);
