// Tiers under trust v2, in process over loopback HTTP: a DMZ server mirrors a TUF upstream, a
// branch mirrors the DMZ's own repository (<dmz>/v1/tuf/) verified from the publisher's root,
// and a host verifies the branch with tuf-js. The snapshot's mirror chain names the servers a
// repository passed through; a server fed its own output (A <- B <- A) refuses the loop.
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { ErrorCodes, isPatchbayError } from '@patchbay/core';
import { runExport } from '../src/exchange/export-cli.js';
import { runImport } from '../src/exchange/import-run.js';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import {
  MIRROR_CHAIN_SNAPSHOT_FIELD,
  readServedState,
  servedRepositoryDir,
} from '../src/tuf/served-repository.js';
import { silentLogger } from './fixtures/http-harness.js';
import { startTufServer, tufServerConfig } from './fixtures/tuf-server.js';
import { buildUpstream, hostUpdater, newUpstreamKeys, script, trustedSet } from './fixtures/tuf-upstream.js';

t.test('DMZ -> branch -> host; the mirror chain; A <- B <- A refused as a loop', async (t) => {
  const root = t.testdir();
  const dmzData = join(root, 'dmz');
  const branchData = join(root, 'branch');
  const dmzKey = (await ensureOnlineKey({ dataDir: dmzData })).key;
  const branchKey = (await ensureOnlineKey({ dataDir: branchData })).key;
  const upstreamDir = join(root, 'upstream');
  const trustedRoot = await buildUpstream(upstreamDir, newUpstreamKeys(), {
    onlineKey: [dmzKey.publicKeyPem, branchKey.publicKeyPem],
  });
  const rootFile = join(upstreamDir, 'metadata', '1.root.json');
  const upstreamUrl = `${pathToFileURL(upstreamDir).href}/`;

  // the DMZ carries one product release; the branch asks for everything
  const dmzSettings = tufServerConfig(dmzData, upstreamUrl, rootFile, {
    mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
  });
  let dmz = await startTufServer(t, dmzSettings);
  t.equal((await dmz.mirror.startSync()).outcome, 'ok');
  const branch = await startTufServer(t, tufServerConfig(branchData, `${dmz.base}/v1/tuf/`, rootFile));
  const report = await branch.mirror.startSync();
  t.equal(report.outcome, 'ok', report.error ?? '');

  const served = await readServedState(servedRepositoryDir(branchData));
  t.same(
    [...served!.roles.keys()].sort(),
    ['arcserve-backup~19.0', 'targets'],
    "what the DMZ's snapshot lists",
  );
  t.same(served!.chain, [dmzKey.keyId, branchKey.keyId], 'the chain: the DMZ, then the branch');
  t.same(served!.signedBy.snapshot, [branchKey.keyId]);

  const updater = await hostUpdater(branch.base, join(root, 'host'), trustedRoot);
  await updater.refresh();
  const chain = trustedSet(updater).snapshot!.signed.unrecognizedFields[MIRROR_CHAIN_SNAPSHOT_FIELD];
  t.same(chain, [dmzKey.keyId, branchKey.keyId], 'a host reads the chain inside the signed snapshot');
  const info = await updater.getTargetInfo('arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
  t.same(await readFile(await updater.downloadTarget(info!)), script('T5KB0042').bytes, 'through two tiers');

  // A <- B <- A: the DMZ is pointed at the branch; its sync refuses and keeps what it serves
  const before = await readFile(join(servedRepositoryDir(dmzData), 'metadata', 'timestamp.json'));
  await dmz.close();
  dmz = await startTufServer(t, tufServerConfig(dmzData, `${branch.base}/v1/tuf/`, rootFile));
  const loop = await dmz.mirror.startSync();
  t.equal(loop.outcome, 'failed');
  t.match(loop.error, /mirror loop/);
  t.match(loop.error, `${dmzKey.keyId} -> ${branchKey.keyId}`, 'naming the chain');
  t.match(loop.error, ErrorCodes.MIRROR_LOOP);
  t.ok(
    (await readFile(join(servedRepositoryDir(dmzData), 'metadata', 'timestamp.json'))).equals(before),
    'nothing was published',
  );
  await dmz.close();

  // the same loop by media: the branch's export imported back into the DMZ
  const bundle = join(root, 'branch-export');
  await runExport(branch.config, silentLogger, {
    dryRun: false,
    products: [],
    releases: [],
    since: undefined,
    chunkSize: undefined,
    dir: bundle,
    json: true,
  });
  try {
    await runImport(dmz.config, silentLogger, [bundle]);
    t.fail('the import should be refused');
  } catch (err) {
    t.ok(isPatchbayError(err, ErrorCodes.MIRROR_LOOP), String(err));
  }
});
