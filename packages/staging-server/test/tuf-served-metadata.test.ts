// The served TUF metadata kept in memory (tuf/served-metadata.ts): one server trusts its own
// writes (the cache is dropped after each), replicas check each file's identity with a stat,
// so a file another process renamed into place is served at once; and a read begun before a
// write never puts the old bytes back in the cache.
import { createHash } from 'node:crypto';
import { rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { ServedMetadataCache } from '../src/tuf/served-metadata.js';

/** As the repository writes: a new file renamed into place. */
async function publish(dir: string, name: string, text: string): Promise<void> {
  await writeFile(join(dir, `.${name}.tmp`), text);
  await rename(join(dir, `.${name}.tmp`), join(dir, name));
}

const etagOf = (text: string) => `"${createHash('sha256').update(text).digest('hex')}"`;

t.test('one server: cached until its own write drops it', async (t) => {
  const dir = t.testdir();
  await publish(dir, 'timestamp.json', '{"v":1}');
  const cache = new ServedMetadataCache(dir, 'own-writes');
  t.same(await cache.read('timestamp.json'), { bytes: Buffer.from('{"v":1}'), etag: etagOf('{"v":1}') });
  t.equal(await cache.read('2.root.json'), null, 'an absent file is null');

  await publish(dir, 'timestamp.json', '{"v":2}');
  await publish(dir, '2.root.json', '{"root":2}');
  t.equal((await cache.read('timestamp.json'))?.bytes.toString(), '{"v":1}', 'no file read while cached');
  t.equal(await cache.read('2.root.json'), null, 'nor a stat for a known absence');

  cache.invalidate();
  t.same(await cache.read('timestamp.json'), { bytes: Buffer.from('{"v":2}'), etag: etagOf('{"v":2}') });
  t.equal((await cache.read('2.root.json'))?.bytes.toString(), '{"root":2}');
});

t.test('a read begun before an invalidation does not fill the cache', async (t) => {
  const dir = t.testdir();
  await publish(dir, 'timestamp.json', '{"v":1}');
  const cache = new ServedMetadataCache(dir, 'own-writes');
  const reading = cache.read('timestamp.json');
  cache.invalidate();
  t.equal((await reading)?.bytes.toString(), '{"v":1}');
  await publish(dir, 'timestamp.json', '{"v":2}');
  t.equal((await cache.read('timestamp.json'))?.bytes.toString(), '{"v":2}', 'read again, not the old copy');
});

t.test('replicas: a file another process renamed into place is served at once', async (t) => {
  const dir = t.testdir();
  await publish(dir, 'timestamp.json', '{"v":1}');
  const cache = new ServedMetadataCache(dir, 'stat');
  t.equal((await cache.read('timestamp.json'))?.etag, etagOf('{"v":1}'));
  t.equal(await cache.read('2.root.json'), null);
  // same length: only the inode tells the files apart
  await publish(dir, 'timestamp.json', '{"v":2}');
  await publish(dir, '2.root.json', '{"root":2}');
  t.equal(
    (await cache.read('timestamp.json'))?.etag,
    etagOf('{"v":2}'),
    'the new timestamp, no reload asked',
  );
  t.equal((await cache.read('2.root.json'))?.bytes.toString(), '{"root":2}', 'a file that appeared');
});

t.test('a flood of names a host may ask for keeps the cache bounded: the oldest entries go', async (t) => {
  const dir = t.testdir();
  await publish(dir, 'timestamp.json', '{"v":1}');
  const cache = new ServedMetadataCache(dir, 'own-writes');
  t.equal((await cache.read('timestamp.json'))?.bytes.toString(), '{"v":1}');
  // unannounced, so only a cache that let the entry go reads the new bytes
  await publish(dir, 'timestamp.json', '{"v":2}');
  const flood: unknown[] = [];
  for (let n = 2; n < 1_002; n++) flood.push(await cache.read(`${n}.root.json`));
  t.ok(
    flood.every((file) => file === null),
    '1,000 absent names',
  );
  t.equal(
    (await cache.read('timestamp.json'))?.bytes.toString(),
    '{"v":2}',
    'the first entry was pushed out by the flood and read again',
  );
  await publish(dir, '2.root.json', '{"root":2}');
  t.equal(
    (await cache.read('2.root.json'))?.bytes.toString(),
    '{"root":2}',
    "so were the flood's own first names",
  );
});
