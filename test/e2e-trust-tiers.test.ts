// Tiers and the air gap under trust v2, real processes over loopback: the publisher signs the
// vendor's feed off the DMZ, a vendor site serves the repository, a DMZ staging server mirrors
// it, a branch staging server mirrors the DMZ's own TUF repository (upstream.url =
// <dmz>/v1/tuf/, upstream.trustedRoot = the publisher's root) and a host of the branch, deployed
// with that root, installs; its report reaches the branch and, rolled up, the DMZ. Then the DMZ
// exports its repository and an air-gapped server (no network to the DMZ) imports it and serves
// a host. Bundles an attacker changed are refused: a target file's bytes, a delegated role
// re-signed with the DMZ's online key, an older repository replayed (rollback).
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
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
import { BIN, REPO_ROOT, run, runJson, startListening, waitFor } from './helpers/processes.js';
import type { LongRunning } from './helpers/processes.js';
import { generateFeed, startUpstream, type StatusDocument } from './helpers/stack.js';

const PUBLISH = path.join(REPO_ROOT, 'packages/publisher/bin/patchbay-publish.js');
const VENDOR_KEY = path.join(REPO_ROOT, 'packages/sample-feed/demo-keys/vendor-demo.pub');
const ROLE = 'arcserve-backup~19.0';

interface CheckDoc {
  patches: { id: string; state: string; severity: string }[];
}
interface InstallDoc {
  results: { id: string; outcome: string }[];
}
interface ClientRow {
  hostId: string;
  via?: string;
  installed: number;
}
interface ExportDoc {
  sequence: number;
  files: number;
  parts: { name: string }[] | number | null;
  tuf: { targetsVersion: number; targetFiles: number; targetFilesSkipped: number; roles: string[] } | null;
}
interface ImportDoc {
  outcome: string;
  filesStored: number;
  tuf?: { targetsVersion: number; roles: Record<string, number>; skipped: { role: string }[] };
}
interface TrustStatus {
  trust?: {
    mode: string;
    targetsVersion: number | null;
    snapshotVersion: number | null;
    onlineKeyId: string;
  };
}

const sha256 = (bytes: Buffer): string => createHash('sha256').update(bytes).digest('hex');

async function getJson<T>(base: string, urlPath: string): Promise<T> {
  const res = await fetch(`${base}${urlPath}`);
  if (!res.ok) throw new Error(`GET ${base}${urlPath}: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** Every file under `dir`, relative, '/'-separated. */
function filesUnder(dir: string): string[] {
  const out: string[] = [];
  const walk = (rel: string) => {
    for (const entry of fs.readdirSync(path.join(dir, rel), { withFileTypes: true })) {
      const next = rel === '' ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) walk(next);
      else out.push(next);
    }
  };
  if (fs.existsSync(dir)) walk('');
  return out.sort();
}

/** What a server publishes, to compare before and after a refused import (absent files as ''). */
function published(dataDir: string): string {
  const read = (file: string) => (fs.existsSync(file) ? fs.readFileSync(file, 'utf8') : '');
  return [
    read(path.join(dataDir, 'tuf', 'metadata', 'timestamp.json')),
    read(path.join(dataDir, 'catalog', 'current.json')),
    filesUnder(path.join(dataDir, 'tuf', 'metadata')).join(','),
  ].join('\n');
}

function writeJson(file: string, value: unknown): string {
  fs.writeFileSync(file, JSON.stringify(value, null, 2));
  return file;
}

t.test('publisher -> vendor site -> DMZ -> branch -> host, rollup, and the air gap', async (t) => {
  const dir = t.testdir();
  const running: LongRunning[] = [];
  t.teardown(async () => {
    for (const proc of running.reverse()) await proc.stop();
  });
  const dataOf = (name: string) => path.join(dir, `${name}-data`);

  // 1. each staging server's online key; the publisher's root lists all of them
  const onlineKeys: Record<string, { keyId: string; publicKeyFile: string }> = {};
  for (const name of ['dmz', 'branch', 'gapped', 'fresh']) {
    const keygen = await runJson<{ onlineKey: { keyId: string; publicKeyFile: string } }>(BIN.server, [
      '--data-dir',
      dataOf(name),
      'keygen',
    ]);
    t.equal(keygen.code, 0, keygen.stderr);
    onlineKeys[name] = keygen.json.onlineKey;
  }

  const repo = path.join(dir, 'repo');
  const keys = path.join(dir, 'publisher-keys');
  const feedDir = path.join(dir, 'feed');
  await generateFeed(feedDir);
  const init = await run(PUBLISH, [
    'init',
    '--repo',
    repo,
    '--keys',
    keys,
    ...Object.values(onlineKeys).flatMap((key) => ['--online-key', key.publicKeyFile]),
    '--vendor',
    'Arcserve',
  ]);
  t.equal(init.code, 0, init.stderr);
  const importFeed = (feed: string) =>
    run(PUBLISH, ['import-feed', '--feed', feed, '--vendor-key', VENDOR_KEY, '--repo', repo, '--keys', keys]);
  const imported = await importFeed(feedDir);
  t.equal(imported.code, 0, imported.stderr);
  const rootFile = path.join(dir, 'deployed-root.json');
  fs.copyFileSync(path.join(repo, 'metadata', '1.root.json'), rootFile);

  // 2. the vendor site; the DMZ mirrors only arcserve-backup 19.0 and serves
  const site = await startUpstream(repo);
  running.push(site);
  const dmzConfig = writeJson(path.join(dir, 'dmz.json'), {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: dataOf('dmz'),
    upstream: { url: `${site.url}/`, trustedRoot: rootFile, retries: 1 },
    mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
    schedule: { sync: null },
  });
  const dmzSync = await run(BIN.server, ['--config', dmzConfig, 'sync']);
  t.equal(dmzSync.code, 0, `DMZ sync: ${dmzSync.stdout} ${dmzSync.stderr}`);
  const dmz = await startListening(BIN.server, ['--config', dmzConfig, '--json', 'serve']);
  running.push(dmz);
  const enroll = await runJson<{ hostId: string; token: string }>(BIN.server, [
    '--config',
    dmzConfig,
    'enroll',
    '--branch',
    'branch-b',
  ]);
  t.equal(enroll.code, 0, enroll.stderr);

  // 3. the branch: its upstream is the DMZ's TUF repository (named by the config, not guessed),
  //    all products (more than the DMZ carries), rollup to the DMZ with the branch's own token
  const branchConfig = writeJson(path.join(dir, 'branch.json'), {
    listen: { host: '127.0.0.1', port: 0 },
    dataDir: dataOf('branch'),
    upstream: { url: `${dmz.url}/v1/tuf/`, trustedRoot: rootFile, retries: 1 },
    mirror: {},
    schedule: { sync: null },
    // its hosts report without tokens here (required is the default; e2e-security tests it)
    auth: { reportTokens: 'optional' },
    rollup: {
      url: dmz.url,
      branchId: 'branch-b',
      token: enroll.json.token,
      schedule: null,
      intervalSeconds: 1,
    },
  });
  const branch = await startListening(BIN.server, ['--config', branchConfig, '--json', 'serve']);
  running.push(branch);
  const branchSynced = await waitFor('the branch to mirror the DMZ', async () => {
    const status = await getJson<StatusDocument & TrustStatus>(branch.url, '/v1/status');
    return status.lastSync?.finishedAt ? status : undefined;
  });
  t.equal(branchSynced.lastSync?.outcome, 'ok', branchSynced.lastSync?.error ?? '');
  t.equal(branchSynced.trust?.mode, 'tuf');
  t.equal(branchSynced.trust?.onlineKeyId, onlineKeys.branch!.keyId, 'the branch signs with its own key');
  const dmzStatus = await getJson<TrustStatus>(dmz.url, '/v1/status');
  t.equal(branchSynced.trust?.targetsVersion, dmzStatus.trust?.targetsVersion, "the DMZ's targets, mirrored");

  // roles byte for byte; snapshot and timestamp the branch's own
  const branchMeta = path.join(dataOf('branch'), 'tuf', 'metadata');
  const dmzMeta = path.join(dataOf('dmz'), 'tuf', 'metadata');
  const roleVersion = (await newestVersion(path.join(dataOf('dmz'), 'tuf'), ROLE))!;
  const roleFile = metadataFileName(ROLE, roleVersion);
  t.ok(
    fs.readFileSync(path.join(branchMeta, roleFile)).equals(fs.readFileSync(path.join(dmzMeta, roleFile))),
    `${roleFile} is the publisher's bytes at the branch`,
  );
  const branchTimestamp = JSON.parse(fs.readFileSync(path.join(branchMeta, 'timestamp.json'), 'utf8')) as {
    signatures: { keyid: string }[];
  };
  t.same(
    branchTimestamp.signatures.map((s) => s.keyid),
    [onlineKeys.branch!.keyId],
    "the branch's timestamp is signed by the branch's online key",
  );
  const branchSnapshot = JSON.parse(
    fs.readFileSync(
      path.join(branchMeta, metadataFileName('snapshot', branchSynced.trust!.snapshotVersion!)),
      'utf8',
    ),
  ) as { signed: Record<string, unknown> };
  t.same(
    branchSnapshot.signed['x-patchbay-mirror-chain'],
    [onlineKeys.dmz!.keyId, onlineKeys.branch!.keyId],
    'the signed mirror chain: the DMZ, then the branch',
  );
  t.notOk(
    fs.readdirSync(branchMeta).some((name) => name.includes('arcserve-backup~18.0')),
    'a role the DMZ does not carry is not mirrored (nor a failure)',
  );

  // the target URL mapping through the branch: /v1/tuf/targets/<dir>/<sha256>.<basename>
  const role = JSON.parse(fs.readFileSync(path.join(branchMeta, roleFile), 'utf8')) as {
    signed: { targets: Record<string, { length: number; hashes: { sha256: string } }> };
  };
  const [targetPath, target] = Object.entries(role.signed.targets).find(([p]) => p.endsWith('.sh'))!;
  const slash = targetPath.lastIndexOf('/');
  const targetUrl = `${branch.url}/v1/tuf/targets/${targetPath.slice(0, slash)}/${target.hashes.sha256}.${targetPath.slice(slash + 1)}`;
  const targetRes = await fetch(targetUrl);
  t.equal(targetRes.status, 200, targetUrl);
  const targetBytes = Buffer.from(await targetRes.arrayBuffer());
  t.equal(targetBytes.length, target.length);
  t.equal(sha256(targetBytes), target.hashes.sha256, 'the target file the role signs');

  // 4. a host of the branch, deployed with the publisher's root, checks and installs
  const clientFor = (name: string, server: string) => {
    const installDir = path.join(dir, `${name}-install`);
    fs.mkdirSync(installDir, { recursive: true });
    return writeJson(path.join(dir, `${name}.json`), {
      server,
      hostId: name,
      dataDir: path.join(dir, `${name}-host-data`),
      products: [{ id: 'arcserve-backup', release: '19.0', installDir }],
      policy: { autoInstall: 'none' },
      trust: { root: rootFile },
      retries: 0,
      timeoutSeconds: 10,
      log: { level: 'warn' },
    });
  };
  const branchHost = clientFor('branch-host', branch.url);
  const check = await runJson<CheckDoc>(BIN.client, ['--config', branchHost, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.ok(check.json.patches.length > 0, 'the host sees the publisher-signed patches through two tiers');
  const install = await runJson<InstallDoc>(BIN.client, ['--config', branchHost, 'install', '--critical']);
  t.equal(install.code, 0, install.stderr);
  const installed = install.json.results.filter((r) => r.outcome === 'ok').length;
  t.ok(installed > 0, `${installed} patches installed from the branch`);

  // 5. the report reaches the branch, and the DMZ through the branch's rollup
  const atBranch = await getJson<ClientRow[]>(branch.url, '/v1/clients');
  t.match(atBranch, [{ hostId: 'branch-host', installed }], 'the branch has the report');
  const atDmz = await waitFor('the DMZ to see branch-host', async () => {
    const clients = await getJson<ClientRow[]>(dmz.url, '/v1/clients');
    const row = clients.find((c) => c.hostId === 'branch-host');
    return row && row.installed === installed ? row : undefined;
  });
  t.equal(atDmz.via, 'branch-b', 'rolled up through the branch');

  // 6. the air gap: the DMZ exports while it serves; the bundle is a TUF repository itself
  const media = path.join(dir, 'media');
  fs.mkdirSync(media);
  const exportDmz = async (name: string, extra: string[] = []) => {
    const result = await runJson<ExportDoc>(BIN.server, [
      '--config',
      dmzConfig,
      'export',
      path.join(media, name),
      ...extra,
    ]);
    t.equal(result.code, 0, `export ${name}${result.stderr ? `: ${result.stderr}` : ''}`);
    return result.json;
  };
  const full1 = await exportDmz('full-1');
  t.ok(full1.tuf, 'a TUF-mode export carries the repository');
  t.same(full1.tuf?.roles, [ROLE]);
  const bundle1 = path.join(media, 'full-1');
  t.ok(fs.existsSync(path.join(bundle1, 'metadata', 'timestamp.json')), 'metadata/ as served');
  t.equal(
    filesUnder(path.join(bundle1, 'targets')).length,
    full1.tuf?.targetFiles,
    'targets/ in the consistent-snapshot layout',
  );
  t.ok(fs.existsSync(path.join(bundle1, 'feed.json')), 'beside the feed directory it wrote before');

  // a newer publication reaches the DMZ; full, incremental and chunked exports of it
  const feed2 = path.join(dir, 'feed-2');
  await generateFeed(feed2, ['--extra-patches', '--sequence', '8']);
  const imported2 = await importFeed(feed2);
  t.equal(imported2.code, 0, imported2.stderr);
  const before = (await getJson<StatusDocument>(dmz.url, '/v1/status')).lastSync?.startedAt;
  t.equal((await fetch(`${dmz.url}/v1/sync`, { method: 'POST' })).status, 202);
  const resynced = await waitFor('the DMZ to sync the new publication', async () => {
    const status = await getJson<StatusDocument & TrustStatus>(dmz.url, '/v1/status');
    const last = status.lastSync;
    return last?.finishedAt && last.startedAt !== before && last.outcome !== 'running' ? status : undefined;
  });
  t.equal(resynced.lastSync?.outcome, 'ok', resynced.lastSync?.error ?? '');
  const full2 = await exportDmz('full-2');
  t.ok(
    (await newestVersion(path.join(media, 'full-2'), ROLE))! > (await newestVersion(bundle1, ROLE))!,
    `a newer version of ${ROLE}`,
  );
  const inc2 = await exportDmz('inc-2', ['--since', String(full1.sequence)]);
  t.ok(inc2.tuf!.targetFilesSkipped > 0, 'the incremental leaves out the files the base carried');
  const chunked2 = await exportDmz('chunked-2', ['--chunk-size', '300K']);
  t.ok(Array.isArray(chunked2.parts) && chunked2.parts.length > 1, 'several parts');

  // 7. an air-gapped server: no network to the DMZ (its upstream is a closed port)
  const dead = await closedPort();
  const gappedConfigFor = (name: string) =>
    writeJson(path.join(dir, `${name}.json`), {
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: dataOf(name),
      upstream: { url: `http://127.0.0.1:${dead}/`, trustedRoot: rootFile, retries: 0, timeoutSeconds: 2 },
      mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
      schedule: { sync: null },
      auth: { reportTokens: 'optional' }, // its hosts' reports are not what this step checks
    });
  const importInto = (config: string, ...paths: string[]) =>
    runJson<ImportDoc>(BIN.server, ['--config', config, 'import', ...paths]);
  const gappedConfig = gappedConfigFor('gapped');
  const i1 = await importInto(gappedConfig, bundle1);
  t.equal(i1.code, 0, `import full-1${i1.stderr ? `: ${i1.stderr}` : ''}`);
  t.equal(i1.json.tuf?.targetsVersion, full1.tuf?.targetsVersion, 'verified and published');
  const i2 = await importInto(gappedConfig, path.join(media, 'inc-2'));
  t.equal(i2.code, 0, `import inc-2 on top of full-1${i2.stderr ? `: ${i2.stderr}` : ''}`);
  t.equal(i2.json.tuf?.targetsVersion, full2.tuf?.targetsVersion);

  // replaying the older repository is a rollback: refused, nothing changes
  const gappedBefore = published(dataOf('gapped'));
  const replay = await importInto(gappedConfig, bundle1);
  t.equal(replay.code, 1, 'an older bundle is refused');
  t.match(replay.stderr, /rollback/, 'as a rollback');
  t.match(replay.stderr, new RegExp(`${ROLE.replace('.', '\\.')} version \\d+ is older`), 'naming the role');
  t.equal(published(dataOf('gapped')), gappedBefore, 'nothing was published');

  // a host of the air-gapped server installs, verified from the publisher's root
  const gapped = await startListening(BIN.server, ['--config', gappedConfig, '--json', 'serve']);
  running.push(gapped);
  const gappedHost = clientFor('gapped-host', gapped.url);
  const gappedCheck = await runJson<CheckDoc>(BIN.client, ['--config', gappedHost, 'check']);
  t.equal(gappedCheck.code, 0, gappedCheck.stderr);
  t.ok(
    gappedCheck.json.patches.some((p) => p.id === 'T5KB0216'),
    'the newer publication came over the air gap',
  );
  const gappedInstall = await runJson<InstallDoc>(BIN.client, [
    '--config',
    gappedHost,
    'install',
    '--critical',
  ]);
  t.equal(gappedInstall.code, 0, gappedInstall.stderr);
  t.ok(
    gappedInstall.json.results.some((r) => r.id === 'T5KB0216' && r.outcome === 'ok'),
    'installed from the imported repository',
  );

  // 8. attacker bundles, on a server with nothing published yet: refused, naming why
  const freshConfig = gappedConfigFor('fresh');
  const copyBundle = (name: string) => {
    const copy = path.join(dir, 'attacker', name);
    fs.cpSync(path.join(media, 'full-2'), copy, { recursive: true });
    return copy;
  };

  // a target file's bytes changed (same length)
  const tampered = copyBundle('tampered-file');
  const script = filesUnder(path.join(tampered, 'targets')).find((f) => f.endsWith('.sh'))!;
  const scriptPath = path.join(tampered, 'targets', script);
  const scriptBytes = fs.readFileSync(scriptPath);
  scriptBytes[scriptBytes.length - 2] ^= 0x20;
  fs.writeFileSync(scriptPath, scriptBytes);
  const tamperedImport = await importInto(freshConfig, tampered);
  t.equal(tamperedImport.code, 1, 'a changed target file is refused');
  t.match(tamperedImport.stderr, /SHA-256 is [0-9a-f]{64}, expected/, 'by its SHA-256');
  t.match(
    tamperedImport.stderr,
    `${ROLE}: ${script.replace(/[0-9a-f]{64}\./, '')}`,
    'naming the role and file',
  );
  t.equal(published(dataOf('fresh')), published(path.join(dir, 'nothing')), 'nothing was published');

  // a delegated role changed and re-signed with the DMZ's online key (snapshot and timestamp too)
  const forged = copyBundle('forged-role');
  const online = createSigner(await readPrivateKeyFile(path.join(dataOf('dmz'), 'keys', 'online.key')));
  const forgedVersion = (await newestVersion(forged, ROLE))!;
  const forgedDoc = JSON.parse(
    fs.readFileSync(path.join(forged, 'metadata', metadataFileName(ROLE, forgedVersion)), 'utf8'),
  ) as {
    signed: {
      version: number;
      targets: Record<string, { custom?: { patchbay?: { patch?: Record<string, unknown> } } }>;
    };
  };
  for (const entry of Object.values(forgedDoc.signed.targets)) {
    const patch = entry.custom?.patchbay?.patch;
    if (patch) patch.install = { command: ['sh', '-c', `touch '${path.join(dir, 'pwned')}'`] };
  }
  forgedDoc.signed.version = forgedVersion + 1;
  const forgedRole = Metadata.fromJSON(MetadataKind.Targets, {
    signed: forgedDoc.signed,
    signatures: [],
  } as never);
  forgedRole.sign(online);
  await writeMetadata(forged, ROLE, forgedRole);
  const forgedSnapshotVersion = (await newestVersion(forged, 'snapshot'))! + 1;
  const snapshot = await buildSnapshot(
    forged,
    new Map([
      ['targets', (await newestVersion(forged, 'targets'))!],
      [ROLE, forgedVersion + 1],
    ]),
    { version: forgedSnapshotVersion, expires: expiresAfter(new Date(), 7) },
  );
  snapshot.sign(online);
  await writeMetadata(forged, 'snapshot', snapshot);
  const timestamp = await buildTimestamp(forged, forgedSnapshotVersion, {
    version: (await newestVersion(forged, 'timestamp'))! + 1,
    expires: expiresAfter(new Date(), 1),
  });
  timestamp.sign(online);
  await writeMetadata(forged, 'timestamp', timestamp);
  const forgedImport = await importInto(freshConfig, forged);
  t.equal(forgedImport.code, 1, 'a role re-signed with the online key is refused');
  t.match(forgedImport.stderr, metadataFileName(ROLE, forgedVersion + 1), 'naming the role file');
  t.match(forgedImport.stderr, /signatures do not meet the threshold/, 'by its signatures');
  t.equal(published(dataOf('fresh')), published(path.join(dir, 'nothing')), 'nothing was published');

  // the chunked export of the same publication imports there afterwards
  const chunkedImport = await importInto(freshConfig, path.join(media, 'chunked-2'));
  t.equal(
    chunkedImport.code,
    0,
    `import of the chunked export${chunkedImport.stderr ? `: ${chunkedImport.stderr}` : ''}`,
  );
  t.equal(chunkedImport.json.tuf?.targetsVersion, full2.tuf?.targetsVersion);
  t.notOk(fs.existsSync(path.join(dir, 'pwned')), 'no forged command ran');
});
