import t from 'tap';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

// These run the real bin scripts, which load dist/: build first (npm run build, or
// npx tsc -b packages/sample-feed).
const bin = (name: string): string => fileURLToPath(new URL(`../bin/${name}.js`, import.meta.url));

function runSync(name: string, args: string[]) {
  const result = spawnSync(process.execPath, [bin(name), ...args], { encoding: 'utf8', timeout: 60_000 });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}

/** Spawn the upstream CLI and wait for its one stdout line. */
async function spawnUpstream(args: string[], env: NodeJS.ProcessEnv = process.env) {
  const child = spawn(process.execPath, [bin('patchbay-upstream'), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
    env,
  });
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const lines = createInterface({ input: child.stdout });
  const [line] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(() => {
      throw new Error(`patchbay-upstream exited before listening: ${stderr}`);
    }),
  ])) as [string];
  return { child, line, stderr: () => stderr };
}

t.test('patchbay-sample-feed generate writes the feed, then reports it up to date', async (t) => {
  const out = join(t.testdir(), 'feed');
  const first = runSync('patchbay-sample-feed', [
    'generate',
    '--out',
    out,
    '--sequence',
    '8',
    '--extra-patches',
  ]);
  t.equal(first.status, 0, first.stderr);
  t.match(
    first.stdout,
    /^sample feed: 30 patches, 34 files, sequence 8 in .*feed \(36 written, 0 removed\)\n$/,
  );
  t.equal(JSON.parse(await readFile(join(out, 'feed.json'), 'utf8')).sequence, 8);

  const again = runSync('patchbay-sample-feed', [
    '--json',
    'generate',
    '--sequence=8',
    '--extra-patches',
    '--out',
    out,
  ]);
  t.equal(again.status, 0);
  t.match(JSON.parse(again.stdout), { sequence: 8, patches: 30, changed: 0, removed: 0 });

  const table = runSync('patchbay-sample-feed', ['table']);
  t.equal(table.status, 0);
  t.match(table.stdout, /^\| id +\| product/);
});

t.test('patchbay-sample-feed: bad usage exits 2 and says why', async (t) => {
  for (const [args, why] of [
    [['generate', '--sequence', '0'], /--sequence must be an integer >= 1/],
    [['generate', '--sequence', 'seven'], /--sequence/],
    [
      ['frobnicate'],
      /^patchbay-sample-feed: unknown command 'frobnicate'\npatchbay-sample-feed: hint: run "patchbay-sample-feed --help" for usage\n$/,
    ],
    [[], /missing COMMAND/],
    [['generate', '--colour'], /unknown option '--colour'\n.*run "patchbay-sample-feed generate --help"/],
  ] as [string[], RegExp][]) {
    const result = runSync('patchbay-sample-feed', args);
    t.equal(result.status, 2, args.join(' '));
    t.match(result.stderr, why);
    t.equal(result.stdout, '', args.join(' '));
  }
  const help = runSync('patchbay-sample-feed', ['repository', '--help']);
  t.equal(help.status, 0);
  t.match(help.stdout, /^Usage: patchbay-sample-feed repository \[options\][^]*--renew-days <N>/);
});

t.test('patchbay-upstream --json prints its URL, serves, and exits 0 on SIGTERM', async (t) => {
  const dir = t.testdir({ 'feed.json': '{"sequence":1}\n' });
  const env = { ...process.env, PATCHBAY_LOG_LEVEL: 'debug' };
  const { child, line, stderr } = await spawnUpstream(['--dir', dir, '--json', '--port', '0'], env);
  const { url } = JSON.parse(line) as { url: string };
  t.match(url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
  const res = await fetch(new URL('feed.json', url));
  t.equal(res.status, 200);
  t.equal(await res.text(), '{"sequence":1}\n');
  t.match(res.headers.get('etag'), /^"[0-9a-f]{64}"$/);
  t.equal((await fetch(new URL('missing', url))).status, 404);
  child.kill('SIGTERM');
  const [code, signal] = (await once(child, 'close')) as [number | null, string | null];
  t.equal(code, 0);
  t.equal(signal, null);
  // One pino line per request at debug, on stderr.
  const requests = stderr()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((entry) => entry.msg === 'request');
  t.match(requests, [
    { level: 20, name: 'patchbay-upstream', method: 'GET', url: '/feed.json', status: 200, bytes: 15 },
    { level: 20, method: 'GET', url: '/missing', status: 404 },
  ]);
  t.equal(requests.length, 2);
});

t.test('patchbay-upstream human line, and SIGINT', async (t) => {
  const dir = t.testdir({ 'feed.json': '{}' });
  const { child, line } = await spawnUpstream(['--host', '127.0.0.1', '--dir', dir]);
  t.match(line, /^patchbay-upstream listening on http:\/\/127\.0\.0\.1:\d+\/$/);
  child.kill('SIGINT');
  const [code] = (await once(child, 'close')) as [number | null];
  t.equal(code, 0);
});

t.test('patchbay-upstream: bad usage exits 2', async (t) => {
  const dir = t.testdir({ 'feed.json': '{}' });
  for (const [args, why] of [
    [[], /required option '--dir <DIR>' not specified/],
    [['--dir', join(dir, 'nope')], /not a directory/],
    [['--dir', dir, '--port', '70000'], /--port must be an integer from 0 to 65535, got "70000"/],
    [['--dir', dir, '--port', 'x'], /--port must be an integer/],
    [['--dir', dir, 'extra'], /too many arguments/],
  ] as [string[], RegExp][]) {
    const result = runSync('patchbay-upstream', args);
    t.equal(result.status, 2, args.join(' '));
    t.match(result.stderr, why);
  }
});
