// End to end under trust v2, real processes over loopback: the publisher signs the vendor's
// feed off the DMZ (patchbay-publish import-feed), a vendor site serves the repository
// (patchbay-upstream), the staging server mirrors it verified from the publisher's root and
// signs only snapshot and timestamp with its online key, and a host deployed with the
// publisher's root checks and installs. Then the DMZ machine is "owned": its online key and
// disk change a patch's command, and the host refuses.
import fs from 'node:fs';
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
import { BIN, REPO_ROOT, run, runJson, startListening } from './helpers/processes.js';
import type { LongRunning } from './helpers/processes.js';
import { generateFeed, startUpstream } from './helpers/stack.js';

const PUBLISH = path.join(REPO_ROOT, 'packages/publisher/bin/patchbay-publish.js');
const VENDOR_KEY = path.join(REPO_ROOT, 'packages/sample-feed/demo-keys/vendor-demo.pub');

interface CheckDoc {
  patches: { id: string; state: string; severity: string }[];
}

t.test('publisher -> vendor site -> staging server -> host, and a hostile DMZ server', async (t) => {
  const dir = t.testdir();
  const serverData = path.join(dir, 'server-data');

  // 1. the staging server's online key; its public half goes to the publisher
  const keygen = await runJson<{ onlineKey: { keyId: string; publicKeyFile: string } }>(BIN.server, [
    '--data-dir',
    serverData,
    'keygen',
  ]);
  t.equal(keygen.code, 0, keygen.stderr);
  const onlinePub = keygen.json.onlineKey.publicKeyFile;
  t.ok(fs.existsSync(onlinePub), 'keygen wrote the online public key');

  // 2. the publisher: a repository whose root names the online key, the vendor feed imported
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
    '--online-key',
    onlinePub,
    '--vendor',
    'Arcserve',
  ]);
  t.equal(init.code, 0, init.stderr);
  const imported = await run(PUBLISH, [
    'import-feed',
    '--feed',
    feedDir,
    '--vendor-key',
    VENDOR_KEY,
    '--repo',
    repo,
    '--keys',
    keys,
  ]);
  t.equal(imported.code, 0, imported.stderr);
  t.equal((await run(PUBLISH, ['verify', repo])).code, 0, 'the publisher verifies its own repository');
  const rootFile = path.join(dir, 'deployed-root.json');
  fs.copyFileSync(path.join(repo, 'metadata', '1.root.json'), rootFile);

  // 3. the vendor site serves the repository; the staging server mirrors it
  const site = await startUpstream(repo);
  t.teardown(() => site.stop());
  const serverConfig = path.join(dir, 'staging-server.json');
  fs.writeFileSync(
    serverConfig,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: serverData,
      upstream: { url: `${site.url}/`, trustedRoot: rootFile, retries: 1 },
      mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
      schedule: { sync: null },
      // about the air gap / trust, not report tokens (e2e-security.test.ts tests those)
      auth: { reportTokens: 'optional' },
    }),
  );
  const sync = await run(BIN.server, ['--config', serverConfig, 'sync']);
  t.equal(sync.code, 0, `sync: ${sync.stdout} ${sync.stderr}`);
  const server: LongRunning = await startListening(BIN.server, ['--config', serverConfig, '--json', 'serve']);
  t.teardown(() => server.stop());

  // 4. a host deployed with the publisher's root
  const installDir = path.join(dir, 'host-install');
  fs.mkdirSync(installDir, { recursive: true });
  const clientConfig = path.join(dir, 'client.json');
  fs.writeFileSync(
    clientConfig,
    JSON.stringify({
      server: server.url,
      hostId: 'e2e-trust-host',
      dataDir: path.join(dir, 'host-data'),
      products: [{ id: 'arcserve-backup', release: '19.0', installDir }],
      policy: { autoInstall: 'none' },
      trust: { root: rootFile },
      retries: 0,
      timeoutSeconds: 10,
      log: { level: 'warn' },
    }),
  );
  const check = await runJson<CheckDoc>(BIN.client, ['--config', clientConfig, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.ok(check.json.patches.length > 0, 'the host sees the publisher-signed patches of its release');
  const critical = check.json.patches.filter((p) => p.severity === 'critical').map((p) => p.id);
  const install = await runJson<{ results: { id: string; outcome: string }[] }>(BIN.client, [
    '--config',
    clientConfig,
    'install',
    '--critical',
  ]);
  t.equal(install.code, 0, install.stderr);
  t.ok(
    critical.every((id) => install.json.results.some((r) => r.id === id && r.outcome === 'ok')),
    'every critical patch installed',
  );

  // 5. the DMZ machine is owned: with its online key and its published metadata, the attacker
  //    serves hosts a product role that runs its own command, under a snapshot and timestamp
  //    it signs exactly as the server does
  const role = 'arcserve-backup~19.0';
  const hostileRepo = path.join(dir, 'hostile-site', 'v1', 'tuf');
  fs.cpSync(path.join(serverData, 'tuf', 'metadata'), path.join(hostileRepo, 'metadata'), {
    recursive: true,
  });
  const newest = async (name: string): Promise<number> => (await newestVersion(hostileRepo, name)) ?? 0;
  const roleVersion = await newest(role);
  const doc = JSON.parse(
    fs.readFileSync(path.join(hostileRepo, 'metadata', metadataFileName(role, roleVersion)), 'utf8'),
  ) as { signed: Record<string, unknown> };
  const pwned = path.join(dir, 'pwned');
  const targets = doc.signed.targets as Record<
    string,
    { custom?: { patchbay?: { patch?: Record<string, unknown> } } }
  >;
  for (const target of Object.values(targets)) {
    const patch = target.custom?.patchbay?.patch;
    if (patch) patch.install = { command: ['sh', '-c', `touch '${pwned}'`] };
  }
  doc.signed.version = roleVersion + 1;
  const online = createSigner(await readPrivateKeyFile(path.join(serverData, 'keys', 'online.key')));
  const forged = Metadata.fromJSON(MetadataKind.Targets, { signed: doc.signed, signatures: [] } as never);
  forged.sign(online);
  await writeMetadata(hostileRepo, role, forged);
  const snapshotVersion = (await newest('snapshot')) + 1;
  const snapshot = await buildSnapshot(
    hostileRepo,
    new Map([
      ['targets', await newest('targets')],
      [role, roleVersion + 1],
    ]),
    { version: snapshotVersion, expires: expiresAfter(new Date(), 7) },
  );
  snapshot.sign(online);
  await writeMetadata(hostileRepo, 'snapshot', snapshot);
  const timestampNow = JSON.parse(
    fs.readFileSync(path.join(hostileRepo, 'metadata', 'timestamp.json'), 'utf8'),
  ) as {
    signed: { version: number };
  };
  const timestamp = await buildTimestamp(hostileRepo, snapshotVersion, {
    version: timestampNow.signed.version + 1,
    expires: expiresAfter(new Date(), 1),
  });
  timestamp.sign(online);
  await writeMetadata(hostileRepo, 'timestamp', timestamp);
  const hostile = await startUpstream(path.join(dir, 'hostile-site'));
  t.teardown(() => hostile.stop());

  const notInstalled = check.json.patches.filter((p) => !critical.includes(p.id)).map((p) => p.id);
  const refused = await run(BIN.client, [
    '--config',
    clientConfig,
    '--server',
    hostile.url,
    '--data-dir',
    path.join(dir, 'fresh-host'),
    'install',
    ...notInstalled.slice(0, 1),
  ]);
  t.equal(refused.code, 1, 'a host refuses the forged role');
  t.match(refused.stderr, /arcserve-backup~19\.0/, 'the refusal names the forged role');
  t.ok(hostile.url !== server.url, 'the hostile server was the one asked');
  t.notOk(fs.existsSync(pwned), 'no command of the forged metadata ran');
});
