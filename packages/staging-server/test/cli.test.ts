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

t.test('--help prints usage and exits 0; each command has its own --help', async (t) => {
  const r = await run(['--help']);
  t.equal(r.code, 0);
  t.match(r.stdout, /^Usage: patchbay-server \[--config FILE\]/);
  t.match(r.stdout, /serve/);
  const exportHelp = await runInProcess(['export', '--help']);
  t.equal(exportHelp.code, 0);
  t.match(exportHelp.stdout, /^Usage: patchbay-server export \[options\] <DIR>/);
  t.match(exportHelp.stdout, /--chunk-size <SIZE>/);
  t.match(exportHelp.stdout, /Global Options:[^]*--data-dir <DIR>/, 'the global flags too');
  t.notMatch(exportHelp.stdout, /--rotate/, "not keygen's flags");
  const version = await runInProcess(['--version']);
  t.equal(version.code, 0);
  t.match(version.stdout, /^\d+\.\d+\.\d+\n$/);
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

t.test(
  'bad usage (child process): exit 2, the message and the hint on stderr, nothing on stdout',
  async (t) => {
    const cases: [string[], string][] = [
      [
        ['serve', '--bogus'],
        'unknown option \'--bogus\'\npatchbay-server: hint: run "patchbay-server serve --help"',
      ],
      [['frobnicate'], 'unknown command \'frobnicate\'\npatchbay-server: hint: run "patchbay-server --help"'],
      [
        ['import'],
        'missing required argument \'PATH\'\npatchbay-server: hint: run "patchbay-server import --help"',
      ],
      [['keygen', '--rotate', '--force'], "option '--force' cannot be used with option '--rotate'"],
    ];
    for (const [argv, message] of cases) {
      const r = await run(['--json', ...argv]);
      t.equal(r.code, 2, argv.join(' '));
      t.equal(r.stderr.indexOf(`patchbay-server: ${message}`), 0, argv.join(' '));
      t.equal(r.stdout, '', argv.join(' '));
    }
  },
);

t.test('usage errors exit 2 naming the flag or command', async (t) => {
  const command = await runInProcess(['frobnicate']);
  t.equal(command.code, 2);
  t.match(command.stderr, /unknown command 'frobnicate'/);
  const typo = await runInProcess(['sync', '--jsn']);
  t.equal(typo.code, 2);
  t.match(typo.stderr, "unknown option '--jsn' (Did you mean --json?)");
  const missing = await runInProcess([]);
  t.equal(missing.code, 2);
  t.match(missing.stderr, /missing COMMAND/);
  const port = await runInProcess(['--port', 'eighty', 'serve']);
  t.equal(port.code, 2);
  t.match(port.stderr, '--port must be an integer from 0 to 65535, got "eighty"');
  const extra = await runInProcess(['sync', 'now']);
  t.equal(extra.code, 2);
  t.match(extra.stderr, "too many arguments for 'sync'");
  const value = await runInProcess(['serve', '--port']);
  t.equal(value.code, 2);
  t.match(value.stderr, "option '--port <N>' argument missing");
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
    [['import'], "missing required argument 'PATH'"],
    [['export', 'a', 'b'], "too many arguments for 'export'. Expected 1 argument but got 2."],
    [['gc', 'x'], "too many arguments for 'gc'"],
    [
      ['sync', '--since', '3'],
      'unknown option \'--since\'\npatchbay-server: hint: run "patchbay-server sync --help"',
    ],
    [['import', 'x', '--dry-run'], "unknown option '--dry-run'"],
    [['serve', '--chunk-size', '1G'], "unknown option '--chunk-size'"],
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
  t.match(extra.stderr, "too many arguments for 'keygen'");
  const both = await runInProcess(['keygen', '--force', '--rotate']);
  t.equal(both.code, 2);
  t.match(both.stderr, "option '--force' cannot be used with option '--rotate'");
  const misplaced = await runInProcess(['sync', '--rotate']);
  t.equal(misplaced.code, 2);
  t.match(misplaced.stderr, "unknown option '--rotate'");
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
