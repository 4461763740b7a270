// The fileVersion detect rule against real PE files that mingw-w64 builds here from a .rc with
// a VERSIONINFO block, and against hostile variants of them.
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import t from 'tap';
import type { ClientConfig, ContentStore, FeedPatch, Logger } from '@patchbay/core';
import { detectInstalled } from '../src/inventory.js';
import { compareVersions, parseDottedVersion, readPeFileVersion } from '../src/pe-version.js';
import { buildPeProgram, requireMingw } from './fixtures/mingw.js';

interface Built {
  versioned: string;
  bare: string;
  /** file offset of the versioned file's resource root directory */
  rsrcOffset: number;
}

function build(dir: string): Built {
  const versioned = buildPeProgram(dir, 'versioned.exe', '19.0.1234.5');
  const bare = buildPeProgram(dir, 'bare.exe');
  // objdump -h: "Idx Name Size VMA LMA File-off Algn"; an independent view of where .rsrc sits.
  const line = execFileSync('x86_64-w64-mingw32-objdump', ['-h', versioned], { encoding: 'utf8' })
    .split('\n')
    .find((l) => /\s\.rsrc\s/.test(l));
  return { versioned, bare, rsrcOffset: parseInt(line!.trim().split(/\s+/)[5]!, 16) };
}

/** A copy of `source` with `edit` applied to its bytes. */
function variant(dir: string, name: string, source: string, edit: (bytes: Buffer) => Buffer): string {
  const file = path.join(dir, name);
  writeFileSync(file, edit(Buffer.from(readFileSync(source))));
  return file;
}

if (requireMingw(t)) {
  const dir = t.testdir();
  const built = build(dir);

  t.test('reads the VS_FIXEDFILEINFO file version of a real PE file', async (t) => {
    t.same(await readPeFileVersion(built.versioned), { ok: true, version: [19, 0, 1234, 5] });
  });

  t.test(
    'a file without a version resource, an absent file and a non-PE file have none, with a reason',
    async (t) => {
      t.match(await readPeFileVersion(built.bare), { ok: false, reason: /no version resource/ });
      t.match(await readPeFileVersion(path.join(dir, 'absent.exe')), { ok: false, reason: 'file not found' });
      const text = path.join(dir, 'notes.txt');
      writeFileSync(text, 'plain text, long enough to hold a DOS header of sixty-four bytes.....');
      t.match(await readPeFileVersion(text), { ok: false, reason: /no MZ signature/ });
    },
  );

  t.test('hostile files give a reason, never a throw or a hang', async (t) => {
    const truncated = variant(dir, 'truncated.exe', built.versioned, (b) =>
      b.subarray(0, built.rsrcOffset + 8),
    );
    t.match(await readPeFileVersion(truncated), { ok: false, reason: /outside the file|in no section/ });

    const tiny = variant(dir, 'tiny.exe', built.versioned, (b) => b.subarray(0, 10));
    t.match(await readPeFileVersion(tiny), { ok: false, reason: /DOS header .* outside the file/ });

    // The root's first entry (RT_VERSION) names a subdirectory far beyond the resource section.
    const outside = variant(dir, 'outside.exe', built.versioned, (b) => {
      b.writeUInt32LE(0xffff0000, built.rsrcOffset + 16 + 4);
      return b;
    });
    t.match(await readPeFileVersion(outside), { ok: false, reason: /RT_VERSION directory .* in no section/ });

    // ...or the root directory itself: a loop, cut by the fixed three-level walk.
    const loop = variant(dir, 'loop.exe', built.versioned, (b) => {
      b.writeUInt32LE(0x80000000, built.rsrcOffset + 16 + 4);
      return b;
    });
    t.match(await readPeFileVersion(loop), { ok: false, reason: /language entry is not data/ });

    const notMz = variant(dir, 'not-mz.exe', built.versioned, (b) => {
      b.write('ZM', 0, 'latin1');
      return b;
    });
    t.match(await readPeFileVersion(notMz), { ok: false, reason: /no MZ signature/ });

    const fifo = path.join(dir, 'fifo.exe');
    execFileSync('mkfifo', [fifo]);
    t.match(await readPeFileVersion(fifo), { ok: false, reason: 'not a regular file' });
  });

  t.test('a fileVersion detect rule compares at the boundaries', async (t) => {
    const warnings: unknown[] = [];
    const logger = { warn: (obj: unknown) => warnings.push(obj) } as unknown as Logger;
    const config = {
      dataDir: dir,
      products: [{ id: 'p', release: '19.0', installDir: dir }],
    } as ClientConfig;
    const store = { blobPath: () => '' } as unknown as ContentStore;
    const detect = (file: string, op: '>=' | '=' | '<', version: string): Promise<boolean | undefined> => {
      const patch = {
        id: 'T1',
        product: 'p',
        release: '19.0',
        files: [],
        detect: { fileVersion: { path: `{installDir}/${file}`, op, version } },
      } as unknown as FeedPatch;
      return detectInstalled(patch, { config, store, logger });
    };
    const cases: ['>=' | '=' | '<', string, boolean][] = [
      ['=', '19.0.1234.5', true],
      ['>=', '19.0.1234.5', true],
      ['<', '19.0.1234.5', false],
      ['>=', '19.0.1234.6', false],
      ['<', '19.0.1234.6', true],
      ['>=', '19.0.1234.4', true],
      ['=', '19.0.1234.4', false],
      ['>=', '19', true],
      ['=', '19', false],
      ['<', '19.1', true],
      ['>=', '20', false],
    ];
    for (const [op, version, expected] of cases) {
      t.equal(await detect('versioned.exe', op, version), expected, `19.0.1234.5 ${op} ${version}`);
    }
    t.same(warnings, []);
    t.equal(await detect('bare.exe', '<', '99'), false, 'no version resource: not installed, even for <');
    t.equal(await detect('absent.exe', '<', '99'), false);
    t.match(warnings, [
      { patchId: 'T1', path: built.bare, reason: /no version resource/ },
      { patchId: 'T1', path: path.join(dir, 'absent.exe'), reason: 'file not found' },
    ]);
  });
}

t.test('dotted versions: parsed strictly, missing parts count as 0', async (t) => {
  t.same(parseDottedVersion('19.0.1234.5'), [19, 0, 1234, 5]);
  t.equal(parseDottedVersion('1.2.3.4.5'), undefined);
  t.equal(parseDottedVersion('65536'), undefined);
  t.equal(parseDottedVersion('1.x'), undefined);
  t.equal(compareVersions([19], [19, 0, 0, 0]), 0);
  t.ok(compareVersions([19, 0, 0, 1], [19]) > 0);
  t.ok(compareVersions([2], [10]) < 0, 'numeric, not textual');
});
