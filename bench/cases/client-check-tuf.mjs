// Client `check` under trust v2 on the same big feed: the publisher signs it
// (`patchbay-publish import-feed`), a staging server in TUF mode mirrors the host's product
// release only (one delegated role), and the host checks with `trust.root`: process start,
// TUF refresh (timestamp; snapshot, targets and its one role when they changed), signature
// checks, descriptors to catalog, scan, resolve, ledger, report. Baseline: node's own start.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { BIN, runOk } from '../lib/procs.mjs';
import {
  publishRepository,
  serverKeygen,
  startServer,
  startUpstream,
  writeClientConfig,
} from '../lib/stack.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET_MS = 300;
const PRODUCT = 'bench-suite';
const RELEASE = '1.0';

export async function clientCheckTuf(ctx) {
  const { opts, work } = ctx;
  const dir = path.join(work, 'tuf-check');
  const serverDir = path.join(dir, 'server');
  mkdirSync(serverDir, { recursive: true });
  const onlinePub = await serverKeygen(path.join(serverDir, 'server-data'));

  const repo = path.join(dir, 'repository');
  const { rootFile, importMs } = await publishRepository({
    feedDir: path.join(work, 'serve-feed'),
    repo,
    keys: path.join(dir, 'publisher-keys'),
    onlineKeys: [onlinePub],
  });

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
    const clientConfig = writeClientConfig(path.join(dir, 'client'), {
      server: server.url,
      hostId: 'bench-check-tuf-host',
      product: PRODUCT,
      release: RELEASE,
      rootFile,
    });
    const check = () =>
      runOk(process.execPath, [BIN.client, '--config', clientConfig, 'check', '--json'], { watchRss: true });
    const cold = await check();
    const listed = JSON.parse(cold.stdout).patches?.length ?? '?';
    const warm = [];
    for (let i = 0; i < opts.checkRuns; i++) warm.push(await check());
    warm.sort((a, b) => a.ms - b.ms);
    const median = warm[Math.floor(warm.length / 2)];
    // What node itself costs to start, for the explanation: the same process with nothing to do.
    const bare = await runOk(process.execPath, ['-e', '0']);
    ctx.log(
      `client check: ${listed} patches listed from role ${PRODUCT}~${RELEASE}; import-feed took ${fmt.ms(importMs)}; node -e 0 takes ${fmt.ms(bare.ms)}`,
    );
    return [
      {
        case: 'client check, trust v2 (TUF, one product role)',
        figure: 'metadata kept, timestamp unchanged, median',
        value: `${fmt.ms(median.ms)} (peak RSS ${fmt.mib(median.peakRss)})`,
        baseline: `node -e 0: ${fmt.ms(bare.ms)}`,
        target: `< ${TARGET_MS} ms`,
        met: median.ms < TARGET_MS,
        raw: { warm: warm.map((r) => r.ms), cold: cold.ms, listed },
      },
      {
        case: '',
        figure: 'first check (root, timestamp, snapshot, targets, role)',
        value: `${fmt.ms(cold.ms)} (peak RSS ${fmt.mib(cold.peakRss)})`,
        target: `< ${TARGET_MS} ms`,
        met: cold.ms < TARGET_MS,
      },
      {
        case: '',
        figure: `publisher import-feed of the ${opts.patches.toLocaleString('en-US')}-patch feed`,
        value: fmt.ms(importMs),
      },
    ];
  } finally {
    await server?.stop().catch(() => undefined);
    await upstream.stop().catch(() => undefined);
  }
}
