// free-space.ts: measuring free bytes, the preflight error, and ENOSPC during downloadBlob
// (injected into this process's file writes; test/faults/disk-full.test.ts fills a real tmpfs).
import { randomBytes } from 'node:crypto';
import { open, readdir, statfs } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ContentStore } from '../src/content-store.js';
import type { PatchbayError } from '../src/errors.js';
import { ErrorCodes, isPatchbayError } from '../src/errors.js';
import { assertFreeSpace, diskFullError, freeBytes, isDiskFullError } from '../src/free-space.js';
import { sha256Hex } from '../src/hash.js';
import { downloadBlob } from '../src/http-fetch.js';
import { startFaultServer } from './fixtures/fault-server.js';

function errno(code: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`${code}: injected`), { code });
}

t.test('freeBytes is bavail × bsize, measured at the nearest existing directory', async (t) => {
  const dir = t.testdir();
  const info = await statfs(dir);
  const free = await freeBytes(dir);
  // Other processes write meanwhile: the same filesystem, within a generous window.
  t.ok(Math.abs(free - info.bavail * info.bsize) < 256 * 1024 * 1024, 'matches statfs');
  t.ok(free > 0);
  const deep = await freeBytes(join(dir, 'not', 'yet', 'there'));
  t.ok(Math.abs(deep - free) < 256 * 1024 * 1024, 'a missing path is measured at its ancestor');
});

t.test('assertFreeSpace passes when needed + margin fit', async (t) => {
  const dir = t.testdir();
  const check = await assertFreeSpace(dir, 1024, 1024, 'a test');
  t.equal(check.required, 2048);
  t.ok(check.free >= 2048);
});

t.test('assertFreeSpace throws DISK_FULL naming the path, bytes and what to do', async (t) => {
  const dir = t.testdir();
  const huge = Number.MAX_SAFE_INTEGER - 100;
  const err = await assertFreeSpace(
    dir,
    huge,
    100,
    "the sync's 3 file(s)",
    'storage.freeSpaceMarginBytes',
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  t.ok(isPatchbayError(err, ErrorCodes.DISK_FULL), 'PB_ERR_DISK_FULL');
  const e = err as PatchbayError;
  t.match(e.message, dir);
  t.match(e.message, `need ${huge + 100} bytes (${huge} to write + 100 margin)`);
  t.match(
    e.message,
    / \d+ free; free at least \d+ bytes there or lower storage\.freeSpaceMarginBytes \(now 100\)/,
  );
  t.match(e.message, "the sync's 3 file(s)");
  t.match(e.context, {
    path: dir,
    needed: huge,
    margin: 100,
    required: huge + 100,
    marginKey: 'storage.freeSpaceMarginBytes',
  });
});

t.test('isDiskFullError sees ENOSPC, EDQUOT and SQLITE_FULL, also as a cause', async (t) => {
  t.ok(isDiskFullError(errno('ENOSPC')));
  t.ok(isDiskFullError(errno('EDQUOT')));
  t.ok(isDiskFullError(errno('SQLITE_FULL')));
  t.ok(isDiskFullError(new Error('wrapped', { cause: errno('ENOSPC') })));
  t.notOk(isDiskFullError(errno('EACCES')));
  t.notOk(isDiskFullError('ENOSPC'));
  const e = diskFullError('/x/y.part', 'http://h/f', errno('EDQUOT'), 'the partial file was removed');
  t.equal(e.code, ErrorCodes.DISK_FULL);
  t.equal(
    e.message,
    'disk full writing http://h/f to /x/y.part (EDQUOT); the partial file was removed: free space there and try again',
  );
});

t.test('ENOSPC mid-body: partial and sidecar removed, DISK_FULL naming the file, not retried', async (t) => {
  // Bigger than one write batch (downloads gather ~1 MiB per writev), so the second body write fails.
  const body = randomBytes(3 * 1024 * 1024);
  const server = await startFaultServer({ '/blob': { etag: '"v1"', body } });
  t.teardown(server.close);
  const store = new ContentStore(t.testdir());
  const sha256 = sha256Hex(body);

  // Every FileHandle shares one prototype: the second body write (write or writev) into the partial fails.
  const probe = await open(join(store.root, 'probe'), 'w');
  type Writes = { write: FileHandle['write']; writev: FileHandle['writev'] };
  const proto = Object.getPrototypeOf(probe) as Writes;
  await probe.close();
  const real: Writes = { write: proto.write, writev: proto.writev };
  let writes = 0;
  const failSecond = (method: keyof Writes) =>
    function (this: FileHandle, ...args: unknown[]) {
      writes += 1;
      if (writes === 2) return Promise.reject(errno('ENOSPC'));
      return (real[method] as (...a: unknown[]) => Promise<unknown>).apply(this, args);
    };
  proto.write = failSecond('write') as FileHandle['write'];
  proto.writev = failSecond('writev') as FileHandle['writev'];
  const restore = () => Object.assign(proto, real);
  t.teardown(restore);

  const err = await downloadBlob(
    { url: server.url('/blob'), sha256, size: body.length, store },
    { retries: 3, retryBaseMs: 10 },
  ).then(
    () => undefined,
    (e: unknown) => e,
  );
  restore();
  t.ok(isPatchbayError(err, ErrorCodes.DISK_FULL), 'PB_ERR_DISK_FULL');
  const e = err as PatchbayError;
  t.match(e.message, store.partialPath(sha256), 'names the partial file');
  t.match(e.message, server.url('/blob'), 'names the URL');
  t.match(e.message, 'ENOSPC');
  t.match(e.context, { url: server.url('/blob'), sha256, cause: 'ENOSPC' });
  t.equal(server.requests.length, 1, 'not retried');
  t.same(await readdir(store.tmpDir), [], 'no partial or sidecar left');
  t.notOk(await store.has(sha256));

  // With space again, the same call completes.
  const ok = await downloadBlob(
    { url: server.url('/blob'), sha256, size: body.length, store },
    { retries: 0 },
  );
  t.equal(ok.bytesFetched, body.length);
  t.ok(await store.verify(sha256));
});
