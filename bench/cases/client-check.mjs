// Client `check` on the big catalog: the whole command as a host runs it (process start,
// fetch, signature verification, parse, scan of the detect rules, resolve, ledger, report),
// first with no cached catalog (200), then with it cached (304), the median of several runs.
import path from 'node:path';
import { BIN, runOk } from '../lib/procs.mjs';
import { writeClientConfig } from '../lib/stack.mjs';
import { fmt } from '../lib/table.mjs';

const TARGET_MS = 300;

export async function clientCheck(ctx) {
  const { serve, opts, work } = ctx;
  const config = writeClientConfig(path.join(work, 'client-check'), {
    server: serve.url,
    hostId: 'bench-check-host',
    product: 'bench-suite',
    release: '1.0',
  });
  const check = () =>
    runOk(process.execPath, [BIN.client, '--config', config, 'check', '--json'], { watchRss: true });
  const cold = await check();
  const evaluated = JSON.parse(cold.stdout).patches?.length ?? '?';
  const warm = [];
  for (let i = 0; i < opts.checkRuns; i++) warm.push(await check());
  warm.sort((a, b) => a.ms - b.ms);
  const median = warm[Math.floor(warm.length / 2)];
  // What node itself costs to start, for the explanation: the same process with nothing to do.
  const bare = await runOk(process.execPath, ['-e', '0']);
  ctx.log(`client check: ${evaluated} patches listed; node -e 0 takes ${fmt.ms(bare.ms)}`);
  // the trust v2 case (client-check-tuf.mjs) compares itself with these
  ctx.checkV1 = { warm: median.ms, cold: cold.ms };
  return [
    {
      case: `client check, ${opts.patches.toLocaleString('en-US')}-patch catalog`,
      figure: 'cached catalog (304), median',
      value: `${fmt.ms(median.ms)} (peak RSS ${fmt.mib(median.peakRss)})`,
      baseline: `node -e 0: ${fmt.ms(bare.ms)}`,
      target: `< ${TARGET_MS} ms`,
      met: median.ms < TARGET_MS,
      raw: { warm: warm.map((r) => r.ms), cold: cold.ms },
    },
    {
      case: '',
      figure: 'first check (200, pins the key)',
      value: `${fmt.ms(cold.ms)} (peak RSS ${fmt.mib(cold.peakRss)})`,
      target: `< ${TARGET_MS} ms`,
      met: cold.ms < TARGET_MS,
    },
  ];
}
