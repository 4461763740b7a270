// Server memory: N concurrent GETs of the 1 GiB blob against a freshly started server, held
// for the test duration (half read as fast as they can, half read 64 KiB every 100 ms, the
// slow clients that make a server buffer if it does not respect backpressure), then dropped.
// Peak RSS is the server's VmHWM, read from /proc at the end.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { memoryOf, runOk } from '../lib/procs.mjs';
import { startServer } from '../lib/stack.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET = 200 * 2 ** 20;
const DOWNLOADER = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'slow-downloads.mjs');

export async function serverMemory(ctx) {
  const { memory, opts } = ctx;
  // A fresh process: VmHWM is a lifetime peak, and the first server synced gigabytes.
  await memory.server.stop();
  const server = await startServer(memory.config);
  memory.server = server;
  memory.url = server.url;
  const idle = memoryOf(server.pid);
  const blob = memory.feed.big.server;
  const seconds = Math.max(2, opts.duration);
  const result = await runOk(process.execPath, [
    DOWNLOADER,
    JSON.stringify({
      url: `${server.url}/v1/blobs/sha256/${blob.sha256}`,
      downloads: opts.downloads,
      seconds,
    }),
  ]);
  const summary = JSON.parse(result.stdout.trim().split('\n').pop());
  const peak = memoryOf(server.pid).peak;
  if (summary.started < opts.downloads) {
    throw new Error(`server memory: only ${summary.started} of ${opts.downloads} downloads got a 200`);
  }
  return [
    {
      case: `server memory, ${opts.downloads} concurrent ${fmt.mib(opts.serverMemBytes)} downloads`,
      figure: `peak RSS, all open, then ${seconds} s more`,
      value: `${fmt.mib(peak)} (idle ${fmt.mib(idle.current)}; ${fmt.mibps(summary.bytes, summary.seconds)} sent)`,
      target: '< 200 MiB',
      met: peak < TARGET,
      raw: summary,
    },
  ];
}
