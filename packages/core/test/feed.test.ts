import t from 'tap';
import { exitCodeClass } from '../src/exit-code-classes.js';
import type { Test } from 'tap';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { FEED_SCHEMA_PATH, CATALOG_SCHEMA_PATH, parseCatalog, parseFeed, validateFeed } from '../src/feed.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';

const HEX = 'ab'.repeat(32);

/** The example from CONTRACT §1, with a real digest. */
function contractFeed(): Record<string, unknown> {
  return {
    format: 'patchbay-feed/1',
    vendor: 'Arcserve',
    sequence: 7,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['18.0', '19.0'] }],
    patches: [
      {
        id: 'T5KB0042',
        product: 'arcserve-backup',
        release: '19.0',
        title: 'Tape drive timeout during merge jobs',
        description: 'free text',
        severity: 'critical',
        publishedAt: '2026-11-01T00:00:00Z',
        requires: ['T5KB0040'],
        supersedes: ['T5KB0031'],
        rebootRequired: false,
        platforms: ['linux', 'win32'],
        files: [{ name: 'T5KB0042.sh', url: 'files/T5KB0042.sh', size: 1234, sha256: HEX }],
        install: {
          command: ['sh', '{file:T5KB0042.sh}', 'install'],
          timeoutSeconds: 600,
          successExitCodes: [0],
        },
        uninstall: { command: ['sh', '{file:T5KB0042.sh}', 'uninstall'], timeoutSeconds: 600 },
        detect: { fileExists: '{installDir}/patches/T5KB0042.installed' },
      },
    ],
  };
}

type Mutator = (feed: any) => void; // eslint-disable-line @typescript-eslint/no-explicit-any

function feedWith(mutate: Mutator): string {
  const feed = contractFeed();
  mutate(feed);
  return JSON.stringify(feed);
}

/** `text` as a RegExp source matching itself. */
function escape(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

function expectError(t: Test, fn: () => unknown, code: string, pattern: RegExp, label = code): void {
  try {
    fn();
    t.fail(`expected ${label} to throw ${code}`);
  } catch (err) {
    t.ok(err instanceof PatchbayError, 'is a PatchbayError');
    t.equal((err as PatchbayError).code, code, 'code');
    t.match((err as Error).message, pattern);
  }
}

t.test('the schema file is the one in docs/ and the contract example validates against it', async (t) => {
  t.match(FEED_SCHEMA_PATH, /docs[/\\]feed\.schema\.json$/);
  t.match(CATALOG_SCHEMA_PATH, /docs[/\\]catalog\.schema\.json$/);
  const schema = JSON.parse(readFileSync(FEED_SCHEMA_PATH, 'utf8'));
  t.equal(schema.$schema, 'http://json-schema.org/draft-07/schema#');
  const dir = t.testdir({ 'feed.json': JSON.stringify(contractFeed(), null, 2) });
  const feed = parseFeed(readFileSync(join(dir, 'feed.json')));
  t.equal(feed.patches[0]?.id, 'T5KB0042');
  t.equal(feed.sequence, 7);
});

t.test('unknown fields are kept, never fatal', async (t) => {
  const feed = parseFeed(
    feedWith((f) => {
      f.futureField = { x: 1 };
      f.patches[0].files[0].mirrors = ['https://example.invalid/x'];
      f.patches[0].detect.extra = true;
    }),
  );
  t.same((feed as unknown as Record<string, unknown>).futureField, { x: 1 });
});

t.test('optional parts may be absent; the other detect shapes validate', async (t) => {
  const feed = parseFeed(
    feedWith((f) => {
      delete f.patches[0].uninstall;
      delete f.patches[0].requires;
      delete f.patches[0].platforms;
      f.patches[0].detect = { fileSha256: { path: '/x', sha256: HEX } };
      f.patches.push({
        ...f.patches[0],
        id: 'T5KB0043',
        files: [],
        detect: { command: ['true'], installedExitCodes: [0, 3010] },
      });
      f.patches.push({
        ...f.patches[0],
        id: 'T5KB0044',
        files: [],
        detect: { fileVersion: { path: '{installDir}\\ARCserve.exe', op: '>=', version: '19.0.1234.5' } },
      });
    }),
  );
  t.equal(feed.patches.length, 3);
  t.ok(validateFeed(JSON.parse(feedWith(() => undefined))));
});

t.test('not JSON: PB_ERR_FEED_NOT_JSON naming the source and the parser reason', async (t) => {
  const dir = t.testdir({ 'feed.json': '{ "format": "patchbay-feed/1", ' });
  expectError(
    t,
    () => parseFeed(readFileSync(join(dir, 'feed.json')), 'upstream feed.json'),
    ErrorCodes.FEED_NOT_JSON,
    /^upstream feed\.json: not valid JSON: .+/,
  );
  expectError(t, () => parseFeed(''), ErrorCodes.FEED_NOT_JSON, /feed\.json: not valid JSON/);
});

t.test('schema violations name the JSON path and the rule', async (t) => {
  const cases: [string, Mutator, RegExp][] = [
    [
      'root not an object',
      (f) => Object.keys(f).forEach((k) => delete f[k]),
      /^feed\.json: \/ must have required property 'format' \(required\)$/,
    ],
    ['wrong format', (f) => (f.format = 'patchbay-feed/2'), /\/format must be "patchbay-feed\/1" \(const\)/],
    ['sequence zero', (f) => (f.sequence = 0), /\/sequence must be >= 1 \(minimum\)/],
    ['sequence fractional', (f) => (f.sequence = 1.5), /\/sequence must be integer \(type\)/],
    [
      'bad severity',
      (f) => (f.patches[0].severity = 'urgent'),
      /\/patches\/0\/severity must be one of "critical", "recommended", "optional" \(enum\), got "urgent"/,
    ],
    [
      'bad timestamp',
      (f) => (f.generatedAt = 'yesterday'),
      /\/generatedAt must match format "date-time" \(format\)/,
    ],
    [
      'unsafe id',
      (f) => (f.patches[0].id = '../../etc'),
      /\/patches\/0\/id must match pattern .* \(pattern\), got "..\/..\/etc"/,
    ],
    ['id too long', (f) => (f.patches[0].id = 'A'.repeat(65)), /\/patches\/0\/id must match pattern/],
    [
      'negative size',
      (f) => (f.patches[0].files[0].size = -1),
      /^feed\.json: \/patches\/0\/files\/0\/size must be >= 0 \(minimum\), got -1$/,
    ],
    [
      'absurd size',
      (f) => (f.patches[0].files[0].size = 2 ** 40 * 100),
      /^feed\.json: \/patches\/0\/files\/0\/size must be <= 68719476736 \(maximum\)/,
    ],
    ['string size', (f) => (f.patches[0].files[0].size = '12'), /\/files\/0\/size must be integer \(type\)/],
    [
      'uppercase digest',
      (f) => (f.patches[0].files[0].sha256 = HEX.toUpperCase()),
      /\/files\/0\/sha256 must match pattern/,
    ],
    ['short digest', (f) => (f.patches[0].files[0].sha256 = 'abc'), /\/files\/0\/sha256 must match pattern/],
    [
      'file name with /',
      (f) => (f.patches[0].files[0].name = 'a/b.sh'),
      /\/patches\/0\/files\/0\/name must match pattern/,
    ],
    [
      'file name with \\',
      (f) => (f.patches[0].files[0].name = 'a\\b.sh'),
      /\/patches\/0\/files\/0\/name must match pattern/,
    ],
    [
      'file name with NUL',
      (f) => (f.patches[0].files[0].name = 'a\0b'),
      /\/patches\/0\/files\/0\/name must match pattern/,
    ],
    [
      'empty command',
      (f) => (f.patches[0].install.command = []),
      /\/patches\/0\/install\/command must NOT have fewer than 1 items \(minItems\)/,
    ],
    [
      'command not strings',
      (f) => (f.patches[0].install.command = ['sh', 3]),
      /\/install\/command\/1 must be string \(type\)/,
    ],
    [
      'timeout zero',
      (f) => (f.patches[0].install.timeoutSeconds = 0),
      /\/install\/timeoutSeconds must be >= 1/,
    ],
    [
      'timeout too long',
      (f) => (f.patches[0].uninstall.timeoutSeconds = 86401),
      /\/uninstall\/timeoutSeconds must be <= 86400/,
    ],
    [
      'exit codes not integers',
      (f) => (f.patches[0].install.successExitCodes = [0, 'x']),
      /\/successExitCodes\/1 must be integer/,
    ],
    [
      'missing install',
      (f) => delete f.patches[0].install,
      /\/patches\/0 must have required property 'install' \(required\)/,
    ],
    [
      'detect of no known shape',
      (f) => (f.patches[0].detect = { registryKey: 'x' }),
      /\/patches\/0\/detect must be one of \{ "fileExists": \.\.\. \}, \{ "fileSha256": \.\.\. \}, \{ "fileVersion": \.\.\. \}, \{ "registry": \.\.\. \}, \{ "msiProduct": \.\.\. \}, \{ "msiPatch": \.\.\. \}, \{ "command": \.\.\. \} \(oneOf\)/,
    ],
    [
      'fileVersion with an unknown op',
      (f) => (f.patches[0].detect = { fileVersion: { path: '/x', op: '>', version: '1.2' } }),
      /\/detect\/fileVersion\/op must be one of/,
    ],
    [
      'fileVersion with a version that is not dotted 16-bit parts',
      (f) => (f.patches[0].detect = { fileVersion: { path: '/x', op: '=', version: '1.2.3.4.5' } }),
      /\/detect\/fileVersion\/version must match pattern/,
    ],
    [
      'fileVersion without an op',
      (f) => (f.patches[0].detect = { fileVersion: { path: '/x', version: '1' } }),
      /\/detect\/fileVersion must have required property 'op'/,
    ],
    [
      'detect shape with a bad value',
      (f) => (f.patches[0].detect = { fileExists: 5 }),
      /\/patches\/0\/detect\/fileExists must be string \(type\)/,
    ],
    [
      'detect digest bad',
      (f) => (f.patches[0].detect = { fileSha256: { path: '/x', sha256: 'nope' } }),
      /\/detect\/fileSha256\/sha256 must match pattern/,
    ],
    [
      'detect of two shapes',
      (f) => (f.patches[0].detect = { fileExists: '/x', command: ['true'] }),
      /\/patches\/0\/detect must match exactly one of the allowed shapes, but matches 2 \(oneOf\)/,
    ],
    [
      'requires not a list',
      (f) => (f.patches[0].requires = 'T5KB0040'),
      /\/patches\/0\/requires must be array/,
    ],
  ];
  for (const [name, mutate, pattern] of cases) {
    expectError(t, () => parseFeed(feedWith(mutate)), ErrorCodes.FEED_SCHEMA, pattern, name);
  }
  try {
    parseFeed(feedWith((f) => (f.patches[0].files[0].size = -5)));
  } catch (err) {
    t.same((err as PatchbayError).context, {
      source: 'feed.json',
      path: '/patches/0/files/0/size',
      rule: 'minimum',
    });
  }
});

t.test('semantic errors: PB_ERR_FEED_INVALID naming the thing', async (t) => {
  expectError(
    t,
    () =>
      parseFeed(
        feedWith((f) => {
          f.patches.push({ ...f.patches[0], id: 'T5KB0050' }, { ...f.patches[0] });
        }),
      ),
    ErrorCodes.FEED_INVALID,
    /duplicate patch id "T5KB0042" at \/patches\/0 and \/patches\/2/,
  );
  expectError(
    t,
    () => parseFeed(feedWith((f) => f.patches[0].files.push({ ...f.patches[0].files[0] }))),
    ErrorCodes.FEED_INVALID,
    /\/patches\/0\/files\/1\/name \(T5KB0042\): duplicate file name "T5KB0042.sh"/,
  );
  for (const name of ['..', 'a..b', 'C:evil.exe', '.']) {
    expectError(
      t,
      () => parseFeed(feedWith((f) => (f.patches[0].files[0].name = name))),
      ErrorCodes.FEED_INVALID,
      /is not a plain file name/,
    );
  }
  // a patch that may run on Windows (platforms absent, or naming win32): Windows' rules too
  for (const [name, reason] of [
    ['NUL.txt', '"NUL" is a reserved device name on Windows'],
    ['setup.msp:evil', '":", which names an NTFS alternate data stream'],
    ['setup.exe.', 'ends with a dot or a space'],
    ['a|b.sh', 'contains "|"'],
  ]) {
    expectError(
      t,
      () => parseFeed(feedWith((f) => (f.patches[0].files[0].name = name))),
      ErrorCodes.FEED_INVALID,
      new RegExp(
        escape(`/patches/0/files/0/name (T5KB0042): file "${name}" is not a plain file name: `) +
          '.*' +
          escape(reason),
      ),
      name,
    );
  }
  const caseTwins = (platforms: string[] | undefined): string =>
    feedWith((f) => {
      f.patches[0].platforms = platforms;
      f.patches[0].files.push({ ...f.patches[0].files[0], name: 't5kb0042.SH' });
    });
  expectError(
    t,
    () => parseFeed(caseTwins(undefined)),
    ErrorCodes.FEED_INVALID,
    /\/patches\/0\/files\/1\/name \(T5KB0042\): file names "T5KB0042.sh" and "t5kb0042.SH" differ only by case/,
    'case twins, every platform',
  );
  // a Linux-only patch keeps POSIX's rules: its names never meet NTFS
  t.ok(parseFeed(caseTwins(['linux'])), 'case twins in a linux-only patch');
  const linuxOnly = feedWith((f) => {
    f.patches[0].platforms = ['linux'];
    f.patches[0].files[0].name = 'aux:1.sh';
  });
  t.ok(parseFeed(linuxOnly), 'a colon and a device name in a linux-only patch');
  expectError(
    t,
    () => parseFeed(feedWith((f) => (f.patches[0].release = '20.0'))),
    ErrorCodes.FEED_INVALID,
    /product "arcserve-backup" release "20.0" is not declared in products/,
  );
  expectError(
    t,
    () => parseFeed(feedWith((f) => (f.patches[0].product = 'udp'))),
    ErrorCodes.FEED_INVALID,
    /product "udp" release "19.0" is not declared/,
  );
});

t.test('{log} in a detect rule is refused with the feed, not met at every scan', async (t) => {
  expectError(
    t,
    () => parseFeed(feedWith((f) => (f.patches[0].detect = { fileExists: '{log}' }))),
    ErrorCodes.FEED_INVALID,
    /\/patches\/0\/detect \(T5KB0042\): placeholder \{log\} is for install and uninstall argv only/,
  );
  expectError(
    t,
    () => parseFeed(feedWith((f) => (f.patches[0].detect = { command: ['check', '{log}'] }))),
    ErrorCodes.FEED_INVALID,
    /\/patches\/0\/detect \(T5KB0042\): placeholder \{log\}/,
  );
});

t.test(
  'an exit code in two of success/reboot/retry lists is refused, naming patch, code and lists',
  async (t) => {
    const msiexec = {
      command: ['msiexec', '/p', '{file:T5KB0042.sh}', '/qn', '/norestart', '/l*v', '{log}'],
      successExitCodes: [0],
      rebootExitCodes: [3010, 1641],
      retryExitCodes: [1618],
    };
    const ok = parseFeed(feedWith((f) => (f.patches[0].install = msiexec)));
    t.same(ok.patches[0]?.install.rebootExitCodes, [3010, 1641], 'disjoint lists pass');
    expectError(
      t,
      () => parseFeed(feedWith((f) => (f.patches[0].install = { ...msiexec, retryExitCodes: [1618, 3010] }))),
      ErrorCodes.FEED_INVALID,
      /\/patches\/0\/install \(T5KB0042\): exit code 3010 is in both rebootExitCodes and retryExitCodes/,
    );
    expectError(
      t,
      () =>
        parseFeed(
          feedWith(
            (f) =>
              (f.patches[0].uninstall = {
                command: ['x'],
                successExitCodes: [0, 1618],
                retryExitCodes: [1618],
              }),
          ),
        ),
      ErrorCodes.FEED_INVALID,
      /\/patches\/0\/uninstall \(T5KB0042\): exit code 1618 is in both successExitCodes and retryExitCodes/,
    );
    expectError(
      t,
      () =>
        parseFeed(
          feedWith(
            (f) =>
              (f.patches[0].install = {
                command: ['x'],
                successExitCodes: [-1],
                retryExitCodes: [4294967295],
              }),
          ),
        ),
      ErrorCodes.FEED_INVALID,
      /exit code 4294967295 is in both successExitCodes and retryExitCodes/,
      'one DWORD written two ways is one code',
    );
    t.equal(
      exitCodeClass({ command: ['x'], retryExitCodes: [-1] }, 4294967295),
      'retry',
      'and matches as one',
    );
    expectError(
      t,
      () => parseFeed(feedWith((f) => (f.patches[0].install = { command: ['x'], rebootExitCodes: [0] }))),
      ErrorCodes.FEED_INVALID,
      /exit code 0 is in both successExitCodes \(default \[0\]\) and rebootExitCodes/,
    );
    try {
      parseFeed(
        feedWith(
          (f) => (f.patches[0].install = { command: ['x'], successExitCodes: [5], retryExitCodes: [5] }),
        ),
      );
      t.fail('expected overlapping lists to be refused');
    } catch (err) {
      t.match((err as PatchbayError).context, {
        patchId: 'T5KB0042',
        path: '/patches/0/install',
        exitCode: 5,
      });
    }
  },
);

t.test('requires/supersedes naming unknown ids is not an error', async (t) => {
  const feed = parseFeed(feedWith((f) => (f.patches[0].requires = ['NOPE1', 'NOPE2'])));
  t.same(feed.patches[0]?.requires, ['NOPE1', 'NOPE2']);
});

t.test('catalogs: own format and counters, same patch rules', async (t) => {
  const catalog = (mutate: Mutator = () => undefined): string =>
    feedWith((f) => {
      f.format = 'patchbay-catalog/1';
      f.upstreamSequence = f.sequence;
      f.sequence = 3;
      f.publishedAt = '2026-11-20T09:00:00Z';
      f.patches[0].files[0].url = `/v1/blobs/sha256/${HEX}`;
      mutate(f);
    });
  const dir = t.testdir({ 'catalog.json': catalog() });
  const parsed = parseCatalog(readFileSync(join(dir, 'catalog.json')));
  t.equal(parsed.upstreamSequence, 7);
  t.equal(parsed.sequence, 3);
  t.ok(parseCatalog(catalog((f) => delete f.publishedAt)), 'publishedAt is optional');
  expectError(
    t,
    () => parseCatalog(catalog((f) => delete f.upstreamSequence)),
    ErrorCodes.FEED_SCHEMA,
    /^catalog: \/ must have required property 'upstreamSequence'/,
  );
  expectError(
    t,
    () => parseCatalog(feedWith(() => undefined)),
    ErrorCodes.FEED_SCHEMA,
    /\/format must be "patchbay-catalog\/1"/,
  );
  expectError(t, () => parseFeed(catalog()), ErrorCodes.FEED_SCHEMA, /\/format must be "patchbay-feed\/1"/);
  expectError(
    t,
    () => parseCatalog(catalog((f) => (f.patches[0].files[0].size = -1))),
    ErrorCodes.FEED_SCHEMA,
    /^catalog: \/patches\/0\/files\/0\/size must be >= 0/,
  );
  expectError(
    t,
    () => parseCatalog(catalog((f) => f.patches.push(f.patches[0]))),
    ErrorCodes.FEED_INVALID,
    /duplicate patch id/,
  );
  expectError(
    t,
    () => parseCatalog('nope', 'http://127.0.0.1:1/v1/catalog'),
    ErrorCodes.FEED_NOT_JSON,
    /^http:\/\/127\.0\.0\.1:1\/v1\/catalog: not valid JSON/,
  );
  const out = join(dir, 'again.json');
  writeFileSync(out, catalog());
  t.ok(parseCatalog(readFileSync(out, 'utf8')));
});
