// Readable output of patchbay-server: the sync's progress bar and colour on a real terminal
// (util-linux `script` gives the child a pty), plain text off one, --json unchanged, and
// failures that say what to do next.
/* eslint-disable no-control-regex -- these tests match terminal escape codes */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import t from 'tap';
import { main } from '../src/cli.js';
import { BIN } from './fixtures/server-cli.js';
import { runMainCaptured, type CapturedRun } from '../../core/test/fixtures/capture-main.js';

const ESC = '\u001b';
const SGR_ALL = /\u001b\[[0-9;]*m/g;
const SCRIPT = '/usr/bin/script';
const root = t.testdir();

/** A feed directory with one patch whose file is `size` bytes; returns its file: URL. */
async function writeFeed(dir: string, size: number): Promise<string> {
  await mkdir(join(dir, 'files'), { recursive: true });
  const bytes = Buffer.alloc(size, 'patchbay ');
  await writeFile(join(dir, 'files', 'BIG.sh'), bytes);
  const feed = {
    format: 'patchbay-feed/1',
    vendor: 'Test',
    sequence: 1,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: [
      {
        id: 'T5KB0001',
        product: 'arcserve-backup',
        release: '19.0',
        title: 'A big one',
        severity: 'critical',
        publishedAt: '2026-11-01T00:00:00Z',
        requires: [],
        supersedes: [],
        files: [
          {
            name: 'BIG.sh',
            url: 'files/BIG.sh',
            size,
            sha256: createHash('sha256').update(bytes).digest('hex'),
          },
        ],
        install: { command: ['sh', '{file:BIG.sh}'] },
      },
    ],
  };
  await writeFile(join(dir, 'feed.json'), JSON.stringify(feed));
  return pathToFileURL(dir).href + '/';
}

const upstream = await writeFeed(join(root, 'feed'), 4 * 1024 * 1024);

type Ran = CapturedRun;

/** main() in this process, stdout/stderr captured (capture-main.ts). */
const inProcess = (args: string[]): Promise<Ran> => runMainCaptured(main, args);

/** The server CLI on a real pty (script(1)), 120 columns, colour allowed: all it printed. */
function onTerminal(cliArgs: string[]): Promise<string> {
  const args = [process.execPath, BIN, ...cliArgs];
  const env: NodeJS.ProcessEnv = { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', TERM: 'xterm' };
  delete env.NO_COLOR;
  delete env.FORCE_COLOR;
  // a pty made by script(1) has no size: give it a usual one
  const command = `stty cols 120 rows 40; ${args.map((a) => `'${a}'`).join(' ')}`;
  return new Promise<string>((resolve, reject) => {
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let text = '';
    child.stdout.on('data', (c: Buffer) => (text += c.toString()));
    child.stderr.on('data', (c: Buffer) => (text += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(text));
  });
}

t.test(
  'sync and export on a terminal: a progress line for the transfer, the outcome in colour; --quiet none',
  { skip: !existsSync(SCRIPT) && 'no script(1)' },
  async (t) => {
    const dataDir = join(root, 'tty');
    const out = await onTerminal(['--data-dir', dataDir, '--upstream', upstream, 'sync']);
    t.match(
      out.replace(SGR_ALL, ''),
      /\rsync {2}\[[=>-]+\] +\d+% {2}0\/1 files {2}[\d.]+ [KM]?i?B\/4\.0 MiB/,
      'a progress frame: bar, percent, files, bytes',
    );
    t.match(out, /\r\u001b\[K/, 'the line is cleared when the downloads end');
    t.match(out, `sync ${ESC}[1m${ESC}[32mok${ESC}[39m${ESC}[22m`, 'the outcome in bold green');
    t.match(out, /files fetched: +1 \(4194304 bytes, 4\.0 MiB\)/);

    // export in 1 MiB parts reports as its tar stream is cut: the same shared progress line
    const exported = await onTerminal([
      '--data-dir',
      dataDir,
      'export',
      join(root, 'export-tty'),
      '--chunk-size',
      '1M',
    ]);
    t.match(
      exported.replace(SGR_ALL, ''),
      /\rexport {2}\[[=>-]+\] +\d+% {2}[\d.]+ [KM]?i?B\/[\d.]+ MiB/,
      'an export frame',
    );
    t.match(exported, /\r\u001b\[K/, 'cleared at the end');
    const quiet = await onTerminal([
      '--data-dir',
      dataDir,
      '--quiet',
      'export',
      join(root, 'export-quiet'),
      '--chunk-size',
      '1M',
    ]);
    t.notMatch(quiet, /\rexport /, '--quiet: no progress line');
  },
);

t.test('sync off a terminal: plain text, no progress; --json as before', async (t) => {
  const dataDir = join(root, 'plain');
  const human = await inProcess(['--data-dir', dataDir, '--upstream', upstream, 'sync']);
  t.equal(human.code, 0, human.stderr);
  t.match(human.stdout, /^sync ok\n {2}upstream sequence: 1\n/);
  t.notMatch(human.stdout + human.stderr, ESC, 'no escape codes');
  t.notMatch(human.stderr, /\r|%/, 'no progress');

  const json = await inProcess(['--data-dir', dataDir, '--upstream', upstream, 'sync', '--json']);
  t.equal(json.code, 0);
  const report = JSON.parse(json.stdout) as Record<string, unknown>;
  t.same(Object.keys(report).sort(), [
    'bytesFetched',
    'error',
    'filesFetched',
    'finishedAt',
    'heldBack',
    'notModified',
    'outcome',
    'published',
    'startedAt',
    'upstreamSequence',
  ]);
  t.equal(json.stderr, '', 'nothing but the document');
});

t.test('failures say what to do next', async (t) => {
  const missing = pathToFileURL(join(root, 'nowhere')).href + '/';
  const failed = await inProcess(['--data-dir', join(root, 'failed'), '--upstream', missing, 'sync']);
  t.equal(failed.code, 1);
  t.match(failed.stdout, /^sync failed: /);
  t.match(
    failed.stderr,
    /^patchbay-server: hint: check that upstream\.url in the config file \(--config FILE\) \(or --upstream\) names the feed directory/m,
  );

  await writeFile(join(root, 'bad.json'), JSON.stringify({ upstrem: {} }));
  const config = await inProcess(['--config', join(root, 'bad.json'), 'sync']);
  t.equal(config.code, 2);
  t.match(config.stderr, `patchbay-server: hint: fix "upstrem" in ${join(root, 'bad.json')}`);

  const usage = await inProcess(['frobnicate']);
  t.equal(usage.code, 2);
  t.equal(
    usage.stderr,
    'patchbay-server: unknown command \'frobnicate\'\npatchbay-server: hint: run "patchbay-server --help" for usage\n',
  );
});
