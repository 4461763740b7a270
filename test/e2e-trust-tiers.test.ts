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
import path from 'node:path';
import t from 'tap';
import { metadataFileName, newestVersion } from '@patchbay/core/tuf';
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
});
