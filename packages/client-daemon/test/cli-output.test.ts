// Readable output of patchbay-client: aligned tables, no escape codes off a terminal, colour and
// a download progress bar on a real terminal (util-linux `script` gives the child a pty), --json
// on every command that prints data, and errors that say what to do next.
/* eslint-disable no-control-regex -- these tests match terminal escape codes */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import t from 'tap';
import { main } from '../src/cli.js';
import { Output } from '../src/output.js';
import { BIN, makeSandbox } from './fixtures/client.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';
import { runMainCaptured, type CapturedRun } from '../../core/test/fixtures/capture-main.js';

const ESC = '\u001b';
/** Select Graphic Rendition: the colour and bold codes (ESC[K, which erases a line, is not colour). */
const SGR = /\u001b\[[0-9;]*m/;
const SGR_ALL = new RegExp(SGR.source, 'g');
const LONG_ID = 'VENDOR-HOTFIX-2026-11-0000000042';
const LONG_TITLE = 'Tape drive timeout during merge jobs on deduplication devices, all platforms';
const SCRIPT = '/usr/bin/script';

const built = buildCatalog([
  { id: 'A' },
  { id: LONG_ID, requires: ['A'], severity: 'critical', padBytes: 3 * 1024 * 1024 },
]);
built.catalog.patches[1]!.title = LONG_TITLE;
const staging = await startStaging(built);
t.teardown(() => staging.close());
const root = t.testdir();

type Ran = CapturedRun;

/** main() in this process, stdout/stderr captured (capture-main.ts). */
const inProcess = (args: string[]): Promise<Ran> => runMainCaptured(main, args);

/** In front of `target`: answers every report with 401 (as a server requiring tokens does), passes the rest. */
async function refusingReports(target: string): Promise<{ url: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    if (req.method === 'PUT') {
      req.resume();
      res.writeHead(401, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({ statusCode: 401, error: 'Unauthorized', message: 'a report token is required' }),
      );
      return;
    }
    const upstream = http.request(
      `${target}${req.url ?? '/'}`,
      { method: req.method, headers: req.headers },
      (r) => {
        res.writeHead(r.statusCode ?? 502, r.headers);
        r.pipe(res);
      },
    );
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

/** Column start offsets of `cells` in `line`, searched left to right. */
function offsets(line: string, cells: readonly string[]): number[] {
  let from = 0;
  return cells.map((cell) => {
    const at = line.indexOf(cell, from);
    from = at + cell.length;
    return at;
  });
}

t.test('off a terminal: aligned tables, no escape codes, no progress', async (t) => {
  const sb = makeSandbox(path.join(root, 'plain'), () => [staging.url]);
  const check = await inProcess(['--config', sb.configPath, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.notMatch(check.stdout + check.stderr, ESC, 'no escape codes');
  const lines = check.stdout.trimEnd().split('\n');
  t.equal(lines.length, 3);
  const header = offsets(lines[0]!, ['ID', 'SEVERITY', 'RELEASE', 'STATE', 'TITLE']);
  t.equal(header[1], LONG_ID.length + 2, 'the long id sets the first column');
  t.same(offsets(lines[1]!, ['A', 'recommended', '19.0', 'available', 'Fixture patch A']), header);
  t.same(offsets(lines[2]!, [LONG_ID, 'critical', '19.0', 'available', LONG_TITLE]), header);
  t.ok(lines[2]!.endsWith(LONG_TITLE), 'the long title is not cut');

  const download = await inProcess(['--config', sb.configPath, 'download', LONG_ID]);
  t.equal(download.code, 0, download.stderr);
  t.notMatch(download.stdout + download.stderr, ESC);
  t.notMatch(download.stderr, /\r|%/, 'no progress off a terminal');
  t.match(download.stdout, /^ID +OUTCOME +MESSAGE$/m);
  t.match(download.stdout, /^2 ok, 0 failed, 0 skipped$/m);

  const history = await inProcess(['--config', sb.configPath, 'history']);
  t.equal(history.code, 0);
  t.notMatch(history.stdout, ESC);
  const rows = history.stdout.trimEnd().split('\n');
  t.match(rows[0], /^SEQ {2}AT +TYPE/);
  t.match(rows[1], /^ {2}1 {2}\d{4}-/, 'SEQ is aligned right');

  const status = await inProcess(['--config', sb.configPath, 'status']);
  t.equal(status.code, 0);
  t.notMatch(status.stdout + status.stderr, ESC);
  t.match(status.stdout, new RegExp(`^${LONG_ID} +critical +19\\.0 +downloaded +`, 'm'));
});

t.test('--json on every command that prints data; errors carry a hint', async (t) => {
  const sb = makeSandbox(path.join(root, 'json'), () => [staging.url]);
  const json = async (args: string[]): Promise<Record<string, unknown>> => {
    const ran = await inProcess(['--config', sb.configPath, ...args, '--json']);
    t.notMatch(ran.stdout, ESC, `${args[0]}: no escape codes in JSON`);
    return JSON.parse(ran.stdout) as Record<string, unknown>;
  };
  t.same((await json(['check'])).patches, [
    {
      id: 'A',
      title: 'Fixture patch A',
      severity: 'recommended',
      release: '19.0',
      state: 'available',
      requires: [],
    },
    {
      id: LONG_ID,
      title: LONG_TITLE,
      severity: 'critical',
      release: '19.0',
      state: 'available',
      requires: ['A'],
    },
  ]);
  t.match(await json(['download', 'A']), { results: [{ id: 'A', outcome: 'ok' }] });
  t.match(await json(['install', 'A']), { results: [{ id: 'A', outcome: 'ok' }] });
  t.match(await json(['status']), { patches: [{ id: 'A', state: 'installed' }], pendingReboot: false });
  t.match(await json(['history']), { events: [{ seq: 1, type: 'check', reported: true }] });
  t.match(await json(['uninstall', 'A']), { results: [{ id: 'A', outcome: 'ok' }] });
  t.match(await json(['doctor']), { ok: true, checks: [{ check: 'config', ok: true }] });

  const unknown = await inProcess(['--config', sb.configPath, 'install', 'NOPE', '--json']);
  t.equal(unknown.code, 2);
  t.match(JSON.parse(unknown.stdout), {
    error: {
      code: 'PB_ERR_UNKNOWN_PATCH',
      hint: 'run "patchbay-client check" to list the patch ids for this host',
    },
  });
  t.match(
    unknown.stderr,
    /^patchbay-client: unknown patch id: NOPE \(not in this host's catalog: arcserve-backup 19\.0\)\npatchbay-client: hint: run "patchbay-client check"/,
  );

  // a server that wants a report token this host does not have: said, with the enroll command
  const refusing = await refusingReports(staging.url);
  t.teardown(() => refusing.close());
  const unenrolled = makeSandbox(path.join(root, 'unenrolled'), () => [refusing.url]);
  const check = await inProcess(['--config', unenrolled.configPath, 'check']);
  t.equal(check.code, 1, 'a refused report fails the command (its events wait on disk)');
  t.match(
    check.stderr,
    /^patchbay-client: the staging server refused this host's report \(HTTP 401: a report token is required\); 1 event\(s\) wait on disk/m,
  );
  t.match(
    check.stderr,
    /hint: enroll this host: run "patchbay-server enroll test-host" on the staging server/,
  );

  sb.writeConfig({ sever: 'x' });
  const config = await inProcess(['--config', sb.configPath, 'check']);
  t.equal(config.code, 2);
  t.match(config.stderr, `hint: fix "sever" in ${sb.configPath}`);
});

/** The client under a pseudo-terminal: `script` gives it one for stdin, stdout and stderr. */
function onTerminal(args: string[], env: Record<string, string>): Promise<string> {
  const quoted = [process.execPath, BIN, ...args].map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  // a pty made by script(1) has no size: give it a usual one
  const command = `stty cols 120 rows 40; ${quoted}`;
  const base: NodeJS.ProcessEnv = { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', TERM: 'xterm', ...env };
  delete base.FORCE_COLOR;
  if (!('NO_COLOR' in env)) delete base.NO_COLOR;
  return new Promise((resolve, reject) => {
    const child = spawn(SCRIPT, ['-qec', command, '/dev/null'], {
      env: base,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.on('error', reject);
    child.on('close', () => resolve(out));
  });
}

const PROGRESS_FRAME = new RegExp(`\\r${LONG_ID}\\.sh {2}\\[[=>-]+\\] +\\d+% {2}[\\d.]+ [KM]?i?B/3\\.0 MiB`);

t.test(
  'on a terminal: colour and a progress bar; NO_COLOR and --quiet',
  { skip: !existsSync(SCRIPT) && 'no script(1)' },
  async (t) => {
    const fresh = (name: string): string =>
      makeSandbox(path.join(root, name), () => [staging.url]).configPath;
    const [colour, noColor, quiet] = await Promise.all([
      onTerminal(['--config', fresh('tty'), 'download', LONG_ID], {}),
      onTerminal(['--config', fresh('tty-no-color'), 'download', LONG_ID], { NO_COLOR: '1' }),
      onTerminal(['--config', fresh('tty-quiet'), 'download', LONG_ID, '--quiet'], {}),
    ]);
    t.match(colour.replace(SGR_ALL, ''), PROGRESS_FRAME, 'a progress frame: file, bar, percent, bytes');
    t.match(colour, /\[\u001b\[32m[=>]/, 'the bar is painted');
    t.match(colour, `${ESC}[1mID${ESC}[22m`, 'bold headers');
    t.match(colour, `${ESC}[32mok${ESC}[39m`, 'a green ok');

    t.match(noColor, PROGRESS_FRAME, 'NO_COLOR keeps the progress bar');
    t.notMatch(noColor, SGR, 'NO_COLOR: no colour codes');
    t.match(noColor, /2 ok, 0 failed, 0 skipped/);

    t.notMatch(quiet, /\[[=>-]+\]/, '--quiet: no progress bar');
    t.match(quiet, SGR, '--quiet keeps colour');
  },
);

t.test('a hostile catalog title: no ESC/BEL in human output, kept as data in --json', async (t) => {
  const HOSTILE = 'Fix \u001b]0;pwned\u0007screen\u001b[2J now\u009b2J'; // title, clear screen, C1 CSI
  const evil = buildCatalog([{ id: 'A' }]);
  evil.catalog.patches[0]!.title = HOSTILE;
  const server = await startStaging(evil);
  t.teardown(() => server.close());
  const sb = makeSandbox(path.join(root, 'hostile'), () => [server.url]);
  const check = await inProcess(['--config', sb.configPath, 'check']);
  t.equal(check.code, 0, check.stderr);
  t.notMatch(check.stdout + check.stderr, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'no ESC, BEL or C1');
  t.match(
    check.stdout,
    /^A +recommended +19\.0 +available +Fix screen now$/m,
    'the text stays; the OSC payload (pwned) goes with its sequence',
  );
  const json = await inProcess(['--config', sb.configPath, 'check', '--json']);
  t.equal(json.code, 0, json.stderr);
  t.equal(
    (JSON.parse(json.stdout) as { patches: { title: string }[] }).patches[0]?.title,
    HOSTILE,
    '--json keeps the title exactly (JSON escapes the control characters)',
  );
  t.notMatch(json.stdout, ESC, 'escaped in the JSON text, never raw');

  // every Output channel, on a coloured terminal: our colours stay, nothing else with ESC
  let text = '';
  const tty = { isTTY: true, columns: 100, write: (c: string) => ((text += c), true) };
  const out = new Output(false, tty as never, tty as never, { env: {} });
  out.line(`${out.style.paint('green', 'ok')} ${HOSTILE}`);
  out.note(HOSTILE);
  out.warn(`warning: ${HOSTILE}`);
  out.error(HOSTILE);
  out.stderrWrite(`${HOSTILE}\n`);
  out.table(['ID', 'STATE', 'TITLE'], [['A', 'failed', HOSTILE]]);
  t.notMatch(text.replace(SGR_ALL, ''), /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/, 'only SGR codes left');
  t.match(text, `${ESC}[32mok${ESC}[39m Fix screen now\n`, 'our own colour is kept');
  t.match(text, `${ESC}[31mfailed${ESC}[39m`, 'table cells still coloured');
  t.notMatch(text, /\u001b\[2J|\u001b\]/, 'no clear screen, no title');
});
