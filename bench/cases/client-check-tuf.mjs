// Client `check` under trust v2 on the same big feed: the publisher signs it
// (`patchbay-publish import-feed`), a staging server in TUF mode mirrors the host's product
// release only (one delegated role), and the host checks with `trust.root`: process start,
// TUF refresh (timestamp; snapshot, targets and its one role when they changed), signature
// checks, descriptors to catalog, scan, resolve, ledger, report. Baseline: the v1 check (the
// whole signed catalog) measured in the same run by the `check` case.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, REPO_ROOT, runOk } from '../lib/procs.mjs';
import { startServer, startUpstream } from '../lib/stack.mjs';
import { fmt } from '../lib/table.mjs';

const PUBLISH = path.join(REPO_ROOT, 'packages/publisher/bin/patchbay-publish.js');
const TARGET_MS = 300;
const PRODUCT = 'bench-suite';
const RELEASE = '1.0';

export async function clientCheckTuf(ctx) {
  const { opts, work } = ctx;
  const dir = path.join(work, 'tuf-check');
  const serverDir = path.join(dir, 'server');
  mkdirSync(serverDir, { recursive: true });
  const keygen = await runOk(process.execPath, [
    BIN.server,
    '--data-dir',
    path.join(serverDir, 'server-data'),
    'keygen',
    '--json',
  ]);
  const onlinePub = JSON.parse(keygen.stdout).onlineKey.publicKeyFile;

  const repo = path.join(dir, 'repository');
  const keys = path.join(dir, 'publisher-keys');
  await runOk(process.execPath, [
    PUBLISH,
    'init',
    '--repo',
    repo,
    '--keys',
    keys,
    '--online-key',
    onlinePub,
    '--vendor',
    'Bench',
  ]);
  const imported = await runOk(
    process.execPath,
    [PUBLISH, 'import-feed', '--feed', path.join(work, 'serve-feed'), '--repo', repo, '--keys', keys],
    { timeoutMs: 1_800_000 },
  );
  const rootFile = path.join(repo, 'metadata', '1.root.json');

  const upstream = await startUpstream(repo);
  let server;
  try {
    const config = path.join(serverDir, 'staging-server.json');
    writeFileSync(
      config,
      JSON.stringify({
        listen: { host: '127.0.0.1', port: 0 },
        dataDir: './server-data',
        upstream: { url: `${upstream.url}/`, trustedRoot: rootFile, concurrency: 4, retries: 1 },
        mirror: { products: [{ id: PRODUCT, releases: [RELEASE] }] },
        schedule: { sync: null, gc: null },
        auth: { reportTokens: 'optional' }, // measures check, not enrolment
      }),
    );
    server = await startServer(config);
    const clientDir = path.join(dir, 'client');
    mkdirSync(path.join(clientDir, 'install', 'patches'), { recursive: true });
    const clientConfig = path.join(clientDir, 'client.json');
    writeFileSync(
      clientConfig,
      JSON.stringify({
        server: server.url,
        hostId: 'bench-check-tuf-host',
        dataDir: './data',
        products: [{ id: PRODUCT, release: RELEASE, installDir: './install' }],
        policy: { autoInstall: 'none' },
        trust: { root: rootFile },
        retries: 0,
        timeoutSeconds: 30,
      }),
    );
    const check = () =>
      runOk(process.execPath, [BIN.client, '--config', clientConfig, 'check', '--json'], { watchRss: true });
    const cold = await check();
    const listed = JSON.parse(cold.stdout).patches?.length ?? '?';
    const warm = [];
    for (let i = 0; i < opts.checkRuns; i++) warm.push(await check());
    warm.sort((a, b) => a.ms - b.ms);
    const median = warm[Math.floor(warm.length / 2)];
    const v1 = ctx.checkV1;
    ctx.log(
      `client check (trust v2): ${listed} patches listed from role ${PRODUCT}~${RELEASE}; import-feed took ${fmt.ms(imported.ms)}`,
    );
    const ratio = (ms, base) => (base ? `${(ms / base).toFixed(2)}× of v1` : undefined);
    return [
      {
        case: 'client check, trust v2 (TUF, one product role)',
        figure: 'metadata kept, timestamp unchanged, median',
        value: `${fmt.ms(median.ms)} (peak RSS ${fmt.mib(median.peakRss)})`,
        baseline: v1 ? `v1 cached catalog: ${fmt.ms(v1.warm)}` : undefined,
        ratio: ratio(median.ms, v1?.warm),
        target: `< ${TARGET_MS} ms`,
        met: median.ms < TARGET_MS,
        raw: { warm: warm.map((r) => r.ms), cold: cold.ms, listed },
      },
      {
        case: '',
        figure: 'first check (root, timestamp, snapshot, targets, role)',
        value: `${fmt.ms(cold.ms)} (peak RSS ${fmt.mib(cold.peakRss)})`,
        baseline: v1 ? `v1 first check: ${fmt.ms(v1.cold)}` : undefined,
        ratio: ratio(cold.ms, v1?.cold),
        target: `< ${TARGET_MS} ms`,
        met: cold.ms < TARGET_MS,
      },
      {
        case: '',
        figure: `publisher import-feed of the ${opts.patches.toLocaleString('en-US')}-patch feed`,
        value: fmt.ms(imported.ms),
      },
    ];
  } finally {
    await server?.stop().catch(() => undefined);
    await upstream.stop().catch(() => undefined);
  }
}
