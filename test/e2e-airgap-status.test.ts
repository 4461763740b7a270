// An air-gapped server whose upstream.url is the media path: after a successful import, the
// sync `serve` tries at start fails (the medium is not mounted) — /v1/status must still show
// the import as the mirror's last update (docs/topologies.md), across restarts, and the status
// page must not paint the mirror red for it. Real processes over loopback.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { launchChromium } from './helpers/chromium.js';
import { BIN, run, runJson, startListening, waitFor } from './helpers/processes.js';
import { startStack } from './helpers/stack.js';

interface Status {
  lastSync: { outcome: string; finishedAt: string | null; error: string | null; imported?: unknown } | null;
  lastUpdate: {
    kind: string;
    at: string;
    outcome: string;
    upstreamSequence: number | null;
    source?: string;
  } | null;
  mirror: { patches: number };
}

t.test('the import is the last update although the media path is gone', async (t) => {
  const dir = t.testdir();
  // the server's feed path, as test/e2e-airgap.test.ts
  const stack = await startStack(dir, { upstream: 'feed', releases: ['19.0'] });
  t.teardown(stack.stop);
  const bundle = path.join(dir, 'media', 'current');
  fs.mkdirSync(path.dirname(bundle));
  const exported = await runJson<{ sequence: number }>(
    BIN.server,
    ['--config', stack.serverConfig, 'export', bundle],
    { cwd: dir },
  );
  t.equal(exported.code, 0, exported.stderr);
  const { mirror: keyA } = await stack.getJson<{ mirror: string }>('/v1/keys');

  const config = path.join(dir, 'b.json');
  fs.writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: './b-data',
      upstream: { url: `file://${bundle}/`, publicKey: keyA, retries: 0 },
      mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
      schedule: { sync: null },
    }),
  );
  const imported = await run(BIN.server, ['--config', config, 'import', bundle, '--json'], { cwd: dir });
  t.equal(imported.code, 0, imported.stderr);
  fs.rmSync(path.join(dir, 'media'), { recursive: true }); // the medium is taken away

  const serveB = async (): Promise<{ status: Status; url: string; stop: () => Promise<number | null> }> => {
    const server = await startListening(BIN.server, ['--config', config, 'serve', '--json'], { cwd: dir });
    t.teardown(server.stop);
    const status = await waitFor('the start sync', async () => {
      const doc = (await (await fetch(`${server.url}/v1/status`)).json()) as Status;
      return doc.lastSync && !doc.lastSync.imported && doc.lastSync.finishedAt ? doc : undefined;
    });
    return { status, url: server.url, stop: server.stop };
  };

  const first = await serveB();
  t.equal(first.status.lastSync?.outcome, 'failed', 'the sync from the absent medium fails');
  t.match(first.status.lastUpdate, {
    kind: 'import',
    outcome: 'ok',
    upstreamSequence: exported.json.sequence,
    source: bundle,
  });
  t.ok(first.status.mirror.patches > 0, 'the imported catalog is served');
  await first.stop();

  const again = await serveB();
  t.equal(again.status.lastSync?.outcome, 'failed');
  t.match(again.status.lastUpdate, { kind: 'import', source: bundle }, 'still the import after a restart');

  // The status page: the import as the last update, the failed sync not painted red.
  const context = await launchChromium(t);
  if (!context) return; // no browser here (outside CI): said in the output
  const page = await context.newPage();
  await page.goto(`${again.url}/`);
  await page.waitForSelector('body[data-state="ready"]', { timeout: 60_000 });
  t.match(
    await page.locator('[data-field="lastUpdate"]').textContent(),
    /^import .*sequence 1 from .*media\/current/,
  );
  const outcome = page.locator('[data-field="lastSync.outcome"] .outcome');
  t.match(await outcome.textContent(), /^failed · the imported catalog is served/);
  t.equal(await outcome.getAttribute('class'), 'outcome outcome-superseded', 'not red');
});
