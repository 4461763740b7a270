// The installer log's tail (installer-log.ts): decoded by its byte order mark, cut at a line
// start, bounded, cleaned; real files, no processes.
import { execFileSync } from 'node:child_process';
import { readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { EVENT_OUTPUT_MAX_CHARS } from '@patchbay/core';
import {
  combinedOutput,
  installerLogPathFor,
  lastLinesInline,
  readInstallerLogTail,
} from '../src/installer-log.js';
import { prunePatchLogs } from '../src/log-retention.js';

const BOM = {
  utf16le: Buffer.from([0xff, 0xfe]),
  utf16be: Buffer.from([0xfe, 0xff]),
  utf8: Buffer.from([0xef, 0xbb, 0xbf]),
};

function utf16be(text: string): Buffer {
  return Buffer.from(text, 'utf16le').swap16();
}

t.test('beside the run log', async (t) => {
  t.equal(installerLogPathFor('/d/logs/A-install-2026.log'), '/d/logs/A-install-2026.installer.log');
});

t.test('decoded by the BOM: UTF-16LE, UTF-16BE, UTF-8 with and without one', async (t) => {
  const text = 'Start\r\nProdukt: Sicherung – fehlgeschlagen\r\nMainEngineThread is returning 1603\r\n';
  const dir = t.testdir({});
  const files: [string, Buffer][] = [
    ['le.log', Buffer.concat([BOM.utf16le, Buffer.from(text, 'utf16le')])],
    ['be.log', Buffer.concat([BOM.utf16be, utf16be(text)])],
    ['utf8bom.log', Buffer.concat([BOM.utf8, Buffer.from(text)])],
    ['plain.log', Buffer.from(text)],
  ];
  for (const [name, bytes] of files) {
    writeFileSync(path.join(dir, name), bytes);
    t.equal(
      await readInstallerLogTail(path.join(dir, name)),
      'Start\nProdukt: Sicherung – fehlgeschlagen\nMainEngineThread is returning 1603',
      name,
    );
  }
});

t.test('a long log: its last characters from a line start; an odd trailing byte ignored', async (t) => {
  const dir = t.testdir({});
  const lines = Array.from({ length: 400 }, (_, i) => `MSI (s) (A4:5C) line ${i} ${'x'.repeat(20)}`);
  const le = Buffer.concat([BOM.utf16le, Buffer.from(lines.join('\r\n'), 'utf16le'), Buffer.from([0x41])]);
  writeFileSync(path.join(dir, 'long.log'), le);
  const tail = (await readInstallerLogTail(path.join(dir, 'long.log'), 500)) ?? '';
  t.ok(tail.length <= 500, `bounded (${tail.length})`);
  t.match(tail, /^MSI \(s\) \(A4:5C\) line \d+ x+\n/, 'starts at a line');
  t.match(tail, /line 399 x{20}$/, 'ends with the last line');
});

t.test(
  'no file, a FIFO, an empty one or one holding a BOM only: nothing; control characters cleaned',
  async (t) => {
    const dir = t.testdir({});
    t.equal(await readInstallerLogTail(path.join(dir, 'absent.log')), undefined);
    // an installer decides what is at {log}: a FIFO there is no log, and never waited on
    execFileSync('mkfifo', [path.join(dir, 'fifo.log')]);
    t.equal(await readInstallerLogTail(path.join(dir, 'fifo.log')), undefined);
    writeFileSync(path.join(dir, 'empty.log'), '');
    t.equal(await readInstallerLogTail(path.join(dir, 'empty.log')), undefined);
    writeFileSync(path.join(dir, 'bom.log'), BOM.utf16le);
    t.equal(await readInstallerLogTail(path.join(dir, 'bom.log')), undefined);
    writeFileSync(path.join(dir, 'esc.log'), 'ok \u001b[31mred\u001b[0m\u0007 done\n');
    t.equal(await readInstallerLogTail(path.join(dir, 'esc.log')), 'ok red done');
  },
);

t.test('one line for a message; output with both parts, the command part giving way', async (t) => {
  t.equal(lastLinesInline('a\n\nb\nc\nd\n'), 'b | c | d');
  t.equal(lastLinesInline('x'.repeat(1000), 3, 10), `…${'x'.repeat(9)}`);
  t.equal(combinedOutput('own', '/l/A.installer.log', undefined), 'own');
  t.equal(combinedOutput('', '/l/A.installer.log', undefined), undefined);
  t.equal(
    combinedOutput(undefined, '/l/A.installer.log', 'msi'),
    '--- A.installer.log (last lines) ---\nmsi',
  );
  const long = Array.from({ length: 100 }, (_, i) => `out ${i} ${'y'.repeat(30)}`).join('\n');
  const both = combinedOutput(long, '/l/A.installer.log', 'z'.repeat(2048)) ?? '';
  t.ok(both.length <= EVENT_OUTPUT_MAX_CHARS, `fits an event (${both.length})`);
  t.match(both, /^out \d+ y+\n(.|\n)*out 99 y+\n--- A\.installer\.log/);
});

t.test('pruning keeps the newest run logs and installer logs of that patch and action only', async (t) => {
  const stamp = (minute: number): string => `2026-12-07T20-${String(minute).padStart(2, '0')}-00-000Z`;
  const files: Record<string, string> = {};
  for (let m = 1; m <= 8; m++) files[`A-install-${stamp(m)}.installer.log`] = `run ${m}`;
  for (let m = 1; m <= 8; m++) files[`A-install-${stamp(m)}.log`] = 'run log';
  files[`A-uninstall-${stamp(1)}.installer.log`] = 'other action';
  files[`A-install-install-${stamp(1)}.installer.log`] = 'patch "A-install"';
  files[`AB-install-${stamp(1)}.installer.log`] = 'patch "AB"';
  files['A-install-notes.installer.log'] = 'not a stamp';
  files[`A-install-${stamp(9)}.log`] = 'a run log without an installer log';
  const dir = t.testdir(files);
  const removed = await prunePatchLogs(dir, 'A', 'install', { keep: { run: 4, installer: 5 } });
  t.same(
    removed,
    [
      ...[1, 2, 3].map((m) => `A-install-${stamp(m)}.installer.log`),
      ...[1, 2, 3, 4, 5].map((m) => `A-install-${stamp(m)}.log`),
    ],
    'the oldest of each kind, counted on its own',
  );
  const left = readdirSync(dir);
  t.same(
    left.filter((n) => /^A-install-2026.*\.installer\.log$/.test(n)).sort(),
    [4, 5, 6, 7, 8].map((m) => `A-install-${stamp(m)}.installer.log`),
  );
  t.same(
    left.filter((n) => /^A-install-2026.*Z\.log$/.test(n)).sort(),
    [6, 7, 8, 9].map((m) => `A-install-${stamp(m)}.log`),
  );
  t.equal(left.length, Object.keys(files).length - 8, 'other actions, other patches and odd names stay');
  t.same(await prunePatchLogs(path.join(dir, 'absent'), 'A', 'install'), [], 'no logs dir: nothing');
  // this run's logs stay whatever their names say (a clock set back makes them the "oldest")
  const behind = `A-install-${stamp(0)}`;
  writeFileSync(path.join(dir, `${behind}.log`), 'this run');
  writeFileSync(path.join(dir, `${behind}.installer.log`), 'this run');
  t.same(
    await prunePatchLogs(dir, 'A', 'install', {
      keep: { run: 4, installer: 5 },
      current: [`${behind}.log`, `${behind}.installer.log`],
    }),
    [],
    'nothing else over the limits; the current two kept though sorting oldest',
  );
});
