// The CLIs' shared output pieces: colour decision, tables, units, progress lines, next-step hints.
/* eslint-disable no-control-regex -- these tests match terminal escape codes */
import t from 'tap';
import {
  FileProgress,
  SyncProgress,
  TransferMeter,
  colorEnabled,
  createStyle,
  displayWidth,
  formatBytes,
  formatDuration,
  formatError,
  formatProgressLine,
  formatRate,
  formatTable,
  nextStep,
  nextStepForMessage,
  progressEnabled,
  sanitizeTerminal,
  stripAnsi,
  truncate,
} from '../src/cli-output/index.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';

const ESC = '\u001b';
const tty = { isTTY: true };
const pipe = { isTTY: false };

/** A terminal-like stream that records what is written. */
function recorder(columns = 100): { isTTY: true; columns: number; text: string; write(c: string): boolean } {
  return {
    isTTY: true,
    columns,
    text: '',
    write(chunk: string) {
      this.text += chunk;
      return true;
    },
  };
}

t.test('colour: only on a terminal, never with NO_COLOR, FORCE_COLOR=0 or TERM=dumb', async (t) => {
  t.equal(colorEnabled(tty, {}), true);
  t.equal(colorEnabled(pipe, {}), false, 'a pipe gets plain text');
  t.equal(colorEnabled(pipe, { FORCE_COLOR: '1' }), false, 'FORCE_COLOR does not colour a pipe');
  t.equal(colorEnabled(tty, { NO_COLOR: '1' }), false);
  t.equal(colorEnabled(tty, { NO_COLOR: 'yes please' }), false, 'any non-empty NO_COLOR');
  t.equal(colorEnabled(tty, { NO_COLOR: '' }), true, 'an empty NO_COLOR is unset (no-color.org)');
  t.equal(colorEnabled(tty, { FORCE_COLOR: '0' }), false);
  t.equal(colorEnabled(tty, { FORCE_COLOR: 'false' }), false);
  t.equal(colorEnabled(tty, { TERM: 'dumb' }), false);
  t.equal(colorEnabled({}, {}), false, 'a stream without isTTY is no terminal');

  t.equal(createStyle(false).paint('red', 'x'), 'x');
  const red = createStyle(true).paint('red', 'x');
  t.match(red, new RegExp(`^${ESC}\\[31mx${ESC}\\[39m$`));
  t.equal(createStyle(true).paint(['bold', 'red'], ''), '', 'nothing to paint, no codes');
});

t.test('progress bars: a terminal, and neither --json nor --quiet', async (t) => {
  t.equal(progressEnabled(tty, {}, {}), true);
  t.equal(progressEnabled(pipe, {}, {}), false);
  t.equal(progressEnabled(tty, { json: true }, {}), false);
  t.equal(progressEnabled(tty, { quiet: true }, {}), false);
  t.equal(progressEnabled(tty, {}, { TERM: 'dumb' }), false);
  t.equal(progressEnabled(tty, {}, { NO_COLOR: '1' }), true, 'NO_COLOR is about colour, not progress');
});

t.test('display width ignores escape codes and counts wide characters twice', async (t) => {
  t.equal(displayWidth(createStyle(true).paint('green', 'abc')), 3);
  t.equal(displayWidth('补丁'), 4);
  t.equal(displayWidth('e\u0301'), 1, 'a combining accent takes no column');
  t.equal(truncate('abcdefgh', 5), 'abcd…');
  t.equal(truncate('abc', 5), 'abc');
  t.equal(displayWidth(truncate('补丁补丁补丁', 5)), 5);
});

t.test('tables: columns line up for long ids and long names; colour changes no position', async (t) => {
  const headers = ['ID', 'SEVERITY', 'STATE', 'TITLE'];
  const rows = [
    ['T5KB0042', 'critical', 'installed', 'Tape drive timeout during merge jobs'],
    ['VENDOR-HOTFIX-2026-11-0000000000042', 'optional', 'failed (exit 3)', 'x'],
    ['A', 'recommended', 'available', 'A title that is very long indeed, '.repeat(4)],
  ];
  const lines = formatTable(headers, rows);
  t.equal(lines.length, 4);
  // every column starts at the same offset on every line
  const starts = (line: string, cells: readonly string[]): number[] => {
    let from = 0;
    return cells.map((cell) => {
      const at = line.indexOf(cell, from);
      from = at + cell.length;
      return at;
    });
  };
  const expected = starts(lines[0]!, headers);
  t.same(expected, [0, 37, 50, 67], 'widest cell plus two spaces per column');
  for (const [i, row] of rows.entries())
    t.same(
      starts(
        lines[i + 1]!,
        row.map((c) => c.trimEnd()),
      ),
      expected,
    );
  for (const line of lines) t.equal(line, line.trimEnd(), 'no trailing spaces');
  t.ok(lines[3]!.length > 100, 'the last column is not cut');

  const painted = formatTable(
    headers,
    rows.map(([id, sev, state, title]) => [id!, { text: sev!, color: 'red' as const }, state!, title!]),
    { style: createStyle(true) },
  );
  t.match(painted[0], `${ESC}[1mID`, 'headers bold');
  t.match(painted[1], `${ESC}[31mcritical`);
  t.same(painted.map(stripAnsi), lines, 'the same text, only painted');
  t.notMatch(lines.join('\n'), ESC, 'no style: no escape codes');

  const right = formatTable(
    ['SEQ', 'WHAT'],
    [
      ['7', 'a'],
      ['1234', 'b'],
    ],
    { align: ['right', 'left'] },
  );
  t.same(right, [' SEQ  WHAT', '   7  a', '1234  b']);
  t.same(
    formatTable(['A', 'B'], [['x\ny', 'z']]),
    ['A    B', 'x y  z'],
    'a newline in a cell stays on its row',
  );
});

t.test('units', async (t) => {
  t.equal(formatBytes(0), '0 B');
  t.equal(formatBytes(1023), '1023 B');
  t.equal(formatBytes(1536), '1.5 KiB');
  t.equal(formatBytes(1024 * 1024 - 1), '1.0 MiB', 'no "1024 KiB"');
  t.equal(formatBytes(150 * 1024 * 1024), '150 MiB');
  t.equal(formatBytes(-1), '?');
  t.equal(formatRate(null), '-');
  t.equal(formatRate(2048), '2.0 KiB/s');
  t.equal(formatDuration(null), '-');
  t.equal(formatDuration(6.2), '7s');
  t.equal(formatDuration(125), '2m05s');
  t.equal(formatDuration(3725), '1h02m');
});

t.test('transfer meter: rate over the window, ETA from it', async (t) => {
  let now = 0;
  const meter = new TransferMeter(5000, () => now);
  meter.sample(0);
  t.equal(meter.bytesPerSecond(), null, 'too early to say');
  t.equal(meter.etaSeconds(1000), null);
  now = 1000;
  meter.sample(1000);
  t.equal(meter.bytesPerSecond(), 1000);
  t.equal(meter.etaSeconds(5000), 4);
  now = 10_000;
  meter.sample(1000);
  now = 11_000;
  meter.sample(3000);
  t.equal(meter.bytesPerSecond(), 2000, 'old samples leave the window');
});

t.test('progress line: bar, percent, bytes, rate, ETA; always fits the width', async (t) => {
  const input = {
    label: 'T5KB0042.sh',
    received: 1200 * 1024,
    total: 2700 * 1024,
    bytesPerSecond: 3.4 * 1024 * 1024,
    etaSeconds: 2,
  };
  const wide = formatProgressLine(input, 120);
  t.match(wide, /^T5KB0042\.sh {2}\[=+>-+\] {3}44% {2}1\.2 MiB\/2\.6 MiB {2}3\.4 MiB\/s {2}ETA 2s$/);
  for (let width = 20; width <= 140; width += 7) {
    t.ok(displayWidth(formatProgressLine(input, width)) <= width, `fits ${width} columns`);
  }
  t.notMatch(formatProgressLine(input, 50), /\[/, 'too narrow: the bar goes first');
  const painted = formatProgressLine(input, 120, createStyle(true));
  t.equal(stripAnsi(painted), wide, 'colour changes nothing but colour');
  t.match(
    formatProgressLine({ ...input, received: input.total, etaSeconds: null }, 120),
    /100%.*ETA 0s$/,
    'done: ETA 0',
  );
  t.match(
    formatProgressLine({ ...input, label: 'sync', detail: '3/12 files' }, 120),
    /44% {2}3\/12 files {2}1\.2/,
  );
});

t.test('file progress: redrawn in place, throttled, cleared when the file is whole', async (t) => {
  let now = 0;
  const out = recorder(80);
  const progress = new FileProgress(out, createStyle(false), () => now);
  progress.update('a', 'A.sh', 100, 1000);
  t.match(out.text, /^\rA\.sh {2}\[.*\] {3}10% .*\u001b\[K$/, 'first chunk: drawn at once');
  const drawn = out.text.length;
  now = 50;
  progress.update('a', 'A.sh', 200, 1000);
  t.equal(out.text.length, drawn, 'not redrawn within 100 ms');
  now = 150;
  progress.update('a', 'A.sh', 500, 1000);
  t.match(out.text.slice(drawn), /^\rA\.sh .* 50% /);
  t.ok(
    out.text.split('\r').every((frame) => displayWidth(frame.replace(/\u001b\[K/g, '')) <= 79),
    'every frame fits the terminal',
  );
  progress.update('a', 'A.sh', 1000, 1000);
  t.match(out.text, /\r\u001b\[K$/, 'complete: the line is cleared');

  out.text = '';
  progress.update('b', 'B.sh', 10, 100);
  progress.pause();
  t.match(out.text, /^\rB\.sh .*\r\u001b\[K$/, 'pause clears the line for other output');
  out.text = '';
  progress.pause();
  progress.close();
  t.equal(out.text, '', 'nothing to clear twice');
  progress.update('b', 'B.sh', 20, 100);
  progress.update('c', 'C.sh', 5, 100);
  t.match(out.text, /B\.sh.*\r\u001b\[K\rC\.sh/, 'a new file replaces the line of the last one');
});

t.test('sync progress: one line for all blobs, resumed bytes counted once', async (t) => {
  let now = 0;
  const out = recorder(100);
  const progress = new SyncProgress(out, createStyle(false), 'sync', () => now);
  progress.start(0, 0);
  t.equal(out.text, '', 'nothing to fetch: no line');
  progress.start(2, 3000);
  t.match(out.text, /^\rsync .* 0% {2}0\/2 files {2}0 B\/2\.9 KiB/);
  now = 200;
  progress.blob('a', 1000);
  progress.blob('b', 500);
  now = 400;
  progress.blob('b', 1000);
  progress.done('a', true);
  t.match(out.text.split('\r').at(-1), /66% {2}1\/2 files {2}2\.0 KiB\/2\.9 KiB/);
  progress.done('b', false);
  t.match(out.text, /\r\u001b\[K$/, 'every blob ended: cleared');
});

t.test('next steps: the key, the command or the file', async (t) => {
  const client = { program: 'patchbay-client' as const, configFile: 'client.json', hostId: 'db-01' };
  const server = { program: 'patchbay-server' as const, configFile: 'server.json' };
  const err = (code: (typeof ErrorCodes)[keyof typeof ErrorCodes], message: string, ctx = {}) =>
    new PatchbayError(code, message, ctx);

  t.equal(
    nextStep(err(ErrorCodes.CONFIG, 'x: unknown key', { file: 'client.json', key: 'sever' }), client),
    'fix "sever" in client.json (every key and its default: docs/config.md)',
  );
  t.match(nextStep(err(ErrorCodes.CONFIG, 'cannot read config file x: no such file'), client), /--config/);
  t.equal(
    nextStep(err(ErrorCodes.USAGE, 'missing COMMAND'), server),
    'run "patchbay-server --help" for usage',
  );
  t.match(
    nextStep(err(ErrorCodes.NO_CATALOG, 'no staging server answered'), client),
    /"server" in client\.json/,
  );
  t.match(nextStep(err(ErrorCodes.NETWORK, 'x'), client), /patchbay-client doctor/);
  t.notMatch(nextStep(err(ErrorCodes.NETWORK, 'x'), { ...client, command: 'doctor' }), /doctor/);
  t.match(nextStep(err(ErrorCodes.NETWORK, 'x'), server), /upstream\.url in server\.json/);
  t.match(
    nextStep(err(ErrorCodes.HTTP_STATUS, 'answered 401', { status: 401 }), client),
    /patchbay-server enroll db-01.*"token" \(or "tokenFile"\) in client\.json/,
  );
  t.match(nextStep(err(ErrorCodes.HTTP_STATUS, 'answered 403', { status: 403 }), client), /another host/);
  t.match(nextStep(err(ErrorCodes.TUF_VERIFY, 'x'), client), /trust\.root in client\.json/);
  t.notMatch(
    nextStep(err(ErrorCodes.SIGNATURE, 'x'), client) ?? '',
    /mirrorKey|\/v1\/keys/,
    'no v1 hint on a host',
  );
  t.match(
    nextStep(err(ErrorCodes.CATALOG_STALE, 'x', { reason: 'expired' }), client),
    /patchbay-server sync/,
  );
  t.match(nextStep(err(ErrorCodes.UNKNOWN_PATCH, 'unknown patch id: X'), client), /patchbay-client check/);
  t.match(
    nextStep(err(ErrorCodes.UNKNOWN_PRODUCT, 'x', { key: 'products[0].release' }), client),
    /"products\[0\]\.release" in client\.json/,
  );
  t.match(nextStep(err(ErrorCodes.DIGEST_MISMATCH, 'x'), client), /again/);
  t.match(nextStep(err(ErrorCodes.LOCKED, 'held'), client), /wait/);
  t.equal(
    nextStep(err(ErrorCodes.LOCKED, 'lock held; try again when it is done'), client),
    undefined,
    'a message that says what to do gets no second hint',
  );
  t.equal(
    nextStep(err(ErrorCodes.DISK_FULL, 'need 5 bytes; free at least 3 bytes there'), client),
    undefined,
  );
  const eacces = Object.assign(new Error('EACCES: permission denied'), { code: 'EACCES', path: '/var/x' });
  t.match(nextStep(eacces, client), /\/var\/x is writable/);
  t.match(nextStep(new Error('boom'), client), /report it/);

  t.match(
    nextStepForMessage('GET http://u/feed.json failed after 5 attempts: ECONNREFUSED', server),
    /upstream/,
  );
  t.match(nextStepForMessage('GET http://u/feed.json answered HTTP 404', server), /feed\.json/);
  t.match(nextStepForMessage('feed.json fails the schema at /sequence', server), /malformed/);
  t.equal(nextStepForMessage('something odd', server), undefined);
  // "installed" is no "stalled": a refused uninstall is not a network failure (issue 14)
  t.equal(
    nextStepForMessage(
      'uninstall A refused: installed patches require it: B (use --cascade to uninstall them first)',
      client,
    ),
    undefined,
  );
  t.equal(nextStepForMessage('install A: the detect rule says it is not installed', client), undefined);
  t.match(nextStepForMessage('download stalled after 30 s', client), /reachable/);

  t.equal(formatError('patchbay-client', 'boom'), 'patchbay-client: boom\n');
  t.equal(
    formatError('patchbay-client', 'boom', 'do x'),
    'patchbay-client: boom\npatchbay-client: hint: do x\n',
  );
  const painted = formatError('patchbay-client', 'boom', 'do x', createStyle(true));
  t.equal(stripAnsi(painted), 'patchbay-client: boom\npatchbay-client: hint: do x\n');
  t.not(painted, stripAnsi(painted));
});

t.test(
  'sanitizeTerminal: no escape sequence or control character from elsewhere reaches a terminal',
  async (t) => {
    const hostile =
      'A\u001b]0;pwned\u0007B\u001b[2JC\u001b]8;;http://x\u001b\\D\u009b2JE\u009d0;t\u009cF\u001bcG\u0000\u0008\r\u007fH\u0085';
    t.equal(
      sanitizeTerminal(hostile),
      'ABCDEFGH',
      'OSC (BEL or ST), CSI (7-bit and C1), ESC c, C0, DEL, C1 go',
    );
    t.equal(sanitizeTerminal('a\tb\nc'), 'a\tb\nc', 'TAB and LF stay');
    t.equal(
      sanitizeTerminal('cut off \u001b]0;title to the end'),
      'cut off ',
      'an unterminated string is dropped',
    );
    t.equal(sanitizeTerminal('lone \u001b'), 'lone ');
    t.equal(sanitizeTerminal('\u001b\u0007[31mx'), '[31mx', 'removing bytes never forms a new sequence');
    t.equal(sanitizeTerminal('Überprüfung – 修正 ✓'), 'Überprüfung – 修正 ✓', 'printable Unicode is kept');
    const painted = createStyle(true).paint('green', 'ok');
    t.equal(sanitizeTerminal(painted), 'ok', 'no colour off a coloured stream');
    t.equal(sanitizeTerminal(painted, true), painted, "patchbay's own colours stay on a coloured stream");
    t.equal(
      sanitizeTerminal(`${painted}\u001b[8m\u001b[2J\u001b[31;1m`, true),
      painted,
      'only our own plain SGR codes: not conceal, not erase, not combined codes',
    );
    t.equal(
      formatError('prog', 'bad \u001b]0;pwned\u0007title', 'see \u001b[2Jhere'),
      'prog: bad title\nprog: hint: see here\n',
      'formatError cleans the message and the hint',
    );
    t.notMatch(
      formatProgressLine(
        { label: 'x\u001b]0;pwned\u0007.sh', received: 1, total: 2, bytesPerSecond: null, etaSeconds: null },
        80,
      ),
      ESC,
      'a progress label from a catalog file name is cleaned',
    );
  },
);
