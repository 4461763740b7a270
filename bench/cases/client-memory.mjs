// Client memory: `patchbay-client download` of one big patch file (2 GiB by default), peak RSS
// of the client process (VmHWM), and its transfer rate. The host reads the memory feed as the
// publisher's TUF repository (direct mode: `{ "repository": URL }` over loopback HTTP).
import path from 'node:path';
import { BIN, runOk } from '../lib/procs.mjs';
import { publishRepository, startUpstream, writeClientConfig } from '../lib/stack.mjs';
import { fmt } from '../lib/table.mjs';
import { rmSync } from 'node:fs';

const TARGET = 80 * 2 ** 20;

export async function clientMemory(ctx) {
  const { memory, work } = ctx;
  const dir = path.join(work, 'client-memory');
  const repo = path.join(dir, 'repository');
  const { rootFile } = await publishRepository({
    feedDir: memory.feedDir,
    repo,
    keys: path.join(dir, 'publisher-keys'),
  });
  const upstream = await startUpstream(repo);
  try {
    return await measure(ctx, dir, { server: [{ repository: upstream.url }], rootFile });
  } finally {
    await upstream.stop().catch(() => undefined);
  }
}

async function measure(ctx, dir, { server, rootFile }) {
  const { memory, opts } = ctx;
  const config = writeClientConfig(dir, {
    server,
    hostId: 'bench-memory-host',
    product: 'bench-big',
    release: '1.0',
    rootFile,
  });
  const { id, size } = memory.feed.big.client;
  const result = await runOk(process.execPath, [BIN.client, '--config', config, 'download', id, '--json'], {
    watchRss: true,
    timeoutMs: 600_000,
  });
  rmSync(path.join(dir, 'data', 'cache'), { recursive: true, force: true });
  // The floor under that figure: the same client doing no transfer at all (`status` reads the
  // cached catalog, no network), and node itself.
  const status = await runOk(process.execPath, [BIN.client, '--config', config, 'status', '--json'], {
    watchRss: true,
  });
  const node = await runOk(process.execPath, ['-e', 'setTimeout(() => {}, 200)'], { watchRss: true });
  return [
    {
      case: `client memory, one ${fmt.mib(opts.clientMemBytes)} blob`,
      figure: 'peak RSS of `download`',
      value: `${fmt.mib(result.peakRss)} (${fmt.mibps(size, result.ms / 1000)}, ${fmt.ms(result.ms)})`,
      baseline: `\`status\` ${fmt.mib(status.peakRss)}; node ${fmt.mib(node.peakRss)}`,
      target: '< 80 MiB',
      met: result.peakRss < TARGET,
    },
  ];
}
