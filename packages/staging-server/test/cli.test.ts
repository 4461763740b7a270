// The built program as a child process (run `npx tsc -b packages/staging-server` first).
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { BIN, run, type Run } from './fixtures/server-cli.js';
import { main } from '../src/cli.js';

async function writeEmptyFeed(dir: string): Promise<string> {
  const feed = {
    format: 'patchbay-feed/1',
    vendor: 'Test',
    sequence: 1,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: [],
  };
  await writeFile(join(dir, 'feed.json'), JSON.stringify(feed));
  return pathToFileURL(dir + '/').href;
}

t.test('--help prints usage and exits 0', async (t) => {
  const r = await run(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Usage: patchbay-server \[--config FILE\]/);
  t.match(r.stdout, /serve/);
});

/** main() in this process, for the usage checks that need no child (each spawn costs seconds). */
async function runInProcess(args: string[]): Promise<Run> {
  let stderr = '';
  let stdout = '';
  const writeErr = process.stderr.write.bind(process.stderr);
  const writeOut = process.stdout.write.bind(process.stdout);
  process.stderr.write = ((chunk: string) => ((stderr += chunk), true)) as typeof process.stderr.write;
  process.stdout.write = ((chunk: string) => ((stdout += chunk), true)) as typeof process.stdout.write;
  try {
    return { code: await main(args), stdout, stderr };
  } finally {
    process.stderr.write = writeErr;
    process.stdout.write = writeOut;
  }
}

t.test('unknown flag exits 2 naming it (child process)', async (t) => {
  const flag = await run(['serve', '--bogus']);
  t.equal(flag.code, 2);
  t.match(flag.stderr, /unknown flag --bogus/);
});

t.test('usage errors exit 2 naming the flag or command', async (t) => {
  const command = await runInProcess(['frobnicate']);
  t.equal(command.code, 2);
  t.match(command.stderr, /unknown command "frobnicate"/);
  const missing = await runInProcess([]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /missing COMMAND/);
  const port = await runInProcess(['--port', 'eighty', 'serve']);
  t.equal(port.code, 2);
  t.match(port.stderr, /--port/);
  const extra = await runInProcess(['sync', 'now']);
  t.equal(extra.code, 2);
  t.match(extra.stderr, /sync takes no arguments/);
  const value = await runInProcess(['serve', '--port']);
  t.equal(value.code, 2);
  t.match(value.stderr, /--port/);
});

t.test('a bad config key exits 2 naming the key', async (t) => {
  const dir = t.testdir({ 'server.json': JSON.stringify({ listen: { host: '127.0.0.1', prot: 8080 } }) });
  const r = await run(['--config', join(dir, 'server.json'), 'serve']);
  t.equal(r.code, 2);
  t.match(r.stderr, /prot/);
  t.equal(r.stdout, '');
});

t.test('gc, import and export: bad usage exits 2 and names the flag or argument', async (t) => {
  const cases: [string[], string][] = [
    [['import'], 'import takes exactly one PATH, got none'],
    [['export', 'a', 'b'], 'export takes exactly one DIR, got "a b"'],
    [['gc', 'x'], 'gc takes no arguments'],
    [['sync', '--since', '3'], '--since belongs to export, not sync'],
    [['import', 'x', '--dry-run'], '--dry-run belongs to gc and export, not import'],
    [['serve', '--chunk-size', '1G'], '--chunk-size belongs to export, not serve'],
  ];
  for (const [argv, message] of cases) {
    const r = await runInProcess(argv);
    t.equal(r.code, 2, argv.join(' '));
    t.match(r.stderr, message, argv.join(' '));
  }
});

t.test('keygen: bad usage exits 2 and says why', async (t) => {
  const extra = await runInProcess(['keygen', 'x']);
  t.equal(extra.code, 2);
  t.match(extra.stderr, 'keygen takes no arguments');
  const both = await runInProcess(['keygen', '--force', '--rotate']);
  t.equal(both.code, 2);
  t.match(both.stderr, '--force or --rotate, not both');
  const misplaced = await runInProcess(['sync', '--rotate']);
  t.equal(misplaced.code, 2);
  t.match(misplaced.stderr, '--rotate belongs to keygen');
});

t.test('sync --json: one sync, the report on stdout, exit 0', async (t) => {
  const dir = t.testdir({ feed: {}, data: {} });
  const upstream = await writeEmptyFeed(join(dir, 'feed'));
  const r = await run(['sync', '--json', '--data-dir', join(dir, 'data'), '--upstream', upstream]);
  t.equal(r.code, 0, r.stderr);
  const report = JSON.parse(r.stdout) as { outcome: string; upstreamSequence: number };
  t.equal(report.outcome, 'ok');
  t.equal(report.upstreamSequence, 1);
});

t.test('sync fails with exit 1 when the upstream is missing', async (t) => {
  const dir = t.testdir({ data: {} });
  const r = await run([
    '--data-dir',
    join(dir, 'data'),
    '--upstream',
    pathToFileURL(join(dir, 'nowhere')).href + '/',
    'sync',
  ]);
  t.equal(r.code, 1);
  t.match(r.stdout, /^sync failed/);
});

t.test('serve: one line when listening, syncs at start, stops on SIGTERM with exit 0', async (t) => {
  const dir = t.testdir({ feed: {}, data: {} });
  const upstream = await writeEmptyFeed(join(dir, 'feed'));
  const child = spawn(
    process.execPath,
    [
      BIN,
      'serve',
      '--json',
      '--host',
      '127.0.0.1',
      '--port',
      '0',
      '--data-dir',
      join(dir, 'data'),
      '--upstream',
      upstream,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  t.teardown(() => {
    if (child.exitCode === null) child.kill('SIGKILL');
  });
  const firstLine = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout }).once('line', resolve);
    child.once('exit', () => reject(new Error('serve exited before listening')));
  });
  const { url } = JSON.parse(firstLine) as { url: string };
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+$/);

  let ready = 503;
  for (let i = 0; i < 100 && ready !== 200; i++) {
    ready = (await fetch(`${url}/readyz`)).status;
    if (ready !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  t.equal(ready, 200, 'the start-up sync published a catalog');
  const status = (await (await fetch(`${url}/v1/status`)).json()) as {
    lastSync: { outcome: string };
    nextSyncAt: string;
  };
  t.equal(status.lastSync.outcome, 'ok');
  t.match(status.nextSyncAt, /^\d{4}-\d{2}-\d{2}T/, 'next run of the default hourly schedule');
  // serve's own syncs go through the metrics wrapper (docs/metrics.md); counted as the sync returns
  let metrics = '';
  for (let i = 0; i < 100 && !/^patchbay_syncs_total\{outcome="ok"\} 1$/m.test(metrics); i++) {
    if (i > 0) await new Promise((r) => setTimeout(r, 100));
    metrics = await (await fetch(`${url}/metrics`)).text();
  }
  t.match(metrics, /^patchbay_syncs_total\{outcome="ok"\} 1$/m, 'the start-up sync is counted at /metrics');

  child.kill('SIGTERM');
  t.equal(await exited, 0);
});
