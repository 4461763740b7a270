// Pure parts of the sync: hold-back, filter, catalog building, sequence checks, URLs.
import t from 'tap';
import { ErrorCodes } from '@patchbay/core';
import { buildCatalog, sameCatalogContent } from '../src/sync/build-catalog.js';
import { planBlobs, failedPatches } from '../src/sync/blob-downloads.js';
import { checkFeedSequence } from '../src/sync/feed-acceptance.js';
import { holdBack } from '@patchbay/core';
import { filterFeed } from '../src/sync/mirror-filter.js';
import { resolveFeedUrl, resolveFileUrl } from '../src/upstream/feed-location.js';
import { buildFeed, sha256, simplePatch } from './fixtures/sync-upstream.js';

t.test('holdBack: transitive dependants, feed order, root cause named', async (t) => {
  const feed = buildFeed({
    sequence: 1,
    patches: [
      simplePatch('TOP', { requires: ['MID'] }),
      simplePatch('MID', { requires: ['BASE', 'OTHER'] }),
      simplePatch('BASE'),
      simplePatch('OTHER'),
      simplePatch('FREE', { requires: ['OTHER'] }),
      simplePatch('CYCLE-A', { requires: ['CYCLE-B'] }),
      simplePatch('CYCLE-B', { requires: ['CYCLE-A', 'BASE'] }),
    ],
  });
  const held = holdBack(feed.patches, new Map([['BASE', 'file base.sh: digest mismatch']]));
  t.same(
    held.map((h) => h.patchId),
    ['TOP', 'MID', 'BASE', 'CYCLE-A', 'CYCLE-B'],
  );
  const byId = new Map(held.map((h) => [h.patchId, h.error]));
  t.equal(byId.get('BASE'), 'file base.sh: digest mismatch');
  t.match(byId.get('MID'), /requires held-back patch BASE .*digest mismatch/);
  t.match(byId.get('TOP'), /requires held-back patch MID .*BASE: file base\.sh: digest mismatch/);
  t.same(holdBack(feed.patches, new Map()), []);
});

t.test('filterFeed: products and releases; absent filter keeps everything', async (t) => {
  const feed = buildFeed({
    sequence: 1,
    patches: [
      simplePatch('A', { release: '19.0' }),
      simplePatch('B', { release: '18.0' }),
      simplePatch('U', { product: 'arcserve-udp', release: '9.0' }),
    ],
  });
  t.equal(filterFeed(feed, undefined), feed);
  const onlyBackup19 = filterFeed(feed, [{ id: 'arcserve-backup', releases: ['19.0'] }]);
  t.same(
    onlyBackup19.patches.map((p) => p.id),
    ['A'],
  );
  t.same(
    onlyBackup19.products.map((p) => [p.id, p.releases]),
    [['arcserve-backup', ['19.0']]],
  );
  const allBackup = filterFeed(feed, [{ id: 'arcserve-backup' }, { id: 'arcserve-udp', releases: ['8.0'] }]);
  t.same(
    allBackup.patches.map((p) => p.id),
    ['A', 'B'],
  );
  t.equal(feed.patches.length, 3, 'input not changed');
});

t.test('buildCatalog: shape, blob URLs, held back removed, extensions kept', async (t) => {
  const feed = buildFeed({
    sequence: 9,
    patches: [simplePatch('A', { extra: { kb: 'KB1' } }), simplePatch('B')],
  });
  const withExtension = { ...feed, vendorNote: 'hello', sequence: 9 };
  const catalog = buildCatalog(withExtension, new Set(['B']), {
    sequence: 2,
    publishedAt: '2026-11-21T00:00:00Z',
    expiresAt: '2026-11-28T00:00:00Z',
  });
  t.equal(catalog.format, 'patchbay-catalog/1');
  t.equal(catalog.sequence, 2);
  t.equal(catalog.upstreamSequence, 9);
  t.equal(catalog.expiresAt, '2026-11-28T00:00:00Z');
  t.same(Object.keys(catalog).slice(0, 9), [
    'format',
    'vendor',
    'sequence',
    'upstreamSequence',
    'generatedAt',
    'publishedAt',
    'expiresAt',
    'products',
    'patches',
  ]);
  t.equal((catalog as unknown as Record<string, unknown>).vendorNote, 'hello');
  t.same(
    catalog.patches.map((p) => p.id),
    ['A'],
  );
  const file = catalog.patches[0]!.files[0]!;
  t.equal(file.url, `/v1/blobs/sha256/${file.sha256}`);
  t.equal((catalog.patches[0] as unknown as Record<string, unknown>).kb, 'KB1');
  t.equal(feed.patches[0]!.files[0]!.url, 'files/A/A.sh', 'feed not changed');

  const later = buildCatalog(feed, new Set(['B']), {
    sequence: 3,
    publishedAt: '2026-11-22T00:00:00Z',
    expiresAt: '2026-11-29T00:00:00Z',
  });
  t.ok(sameCatalogContent(catalog, later), 'same content under another sequence/time');
  const more = buildCatalog(feed, new Set(), {
    sequence: 3,
    publishedAt: '2026-11-22T00:00:00Z',
    expiresAt: '2026-11-29T00:00:00Z',
  });
  t.notOk(sameCatalogContent(catalog, more));
  const nextPublication = buildCatalog({ ...feed, sequence: feed.sequence + 1 }, new Set(['B']), {
    sequence: 3,
    publishedAt: '2026-11-22T00:00:00Z',
    expiresAt: '2026-11-29T00:00:00Z',
  });
  t.notOk(
    sameCatalogContent(catalog, nextPublication),
    'a new upstream sequence is news even with the same patches',
  );
});

t.test('checkFeedSequence: new, same, rollback, equal with other bytes', async (t) => {
  const feed = buildFeed({ sequence: 5, patches: [] });
  const bytes = Buffer.from(JSON.stringify(feed));
  t.equal(checkFeedSequence(feed, bytes, undefined, undefined), 'new');
  t.equal(checkFeedSequence(feed, bytes, 4, Buffer.from('old')), 'new');
  t.equal(checkFeedSequence(feed, bytes, 5, Buffer.from(bytes)), 'same');
  t.throws(() => checkFeedSequence(feed, bytes, 6, undefined), {
    code: ErrorCodes.FEED_ROLLBACK,
    message: /5 is lower .* 6/,
  });
  t.throws(() => checkFeedSequence(feed, bytes, 5, Buffer.from('other')), {
    code: ErrorCodes.FEED_ROLLBACK,
    message: /differ/,
  });
});

t.test('planBlobs: one job per digest, conflicting sizes invalid, failures per patch', async (t) => {
  const shared = { name: 'shared.bin', content: 'same bytes' };
  const feed = buildFeed({
    sequence: 1,
    patches: [
      simplePatch('A', { files: [shared] }),
      simplePatch('B', { files: [shared, { name: 'b.sh', content: 'b' }] }),
      simplePatch('C', { files: [{ ...shared, claimSize: 99 }] }),
    ],
  });
  const plan = planBlobs(feed.patches, 'http://127.0.0.1:1/feed/feed.json');
  t.equal(plan.jobs.length, 2);
  t.equal(plan.jobs[0]!.url, 'http://127.0.0.1:1/feed/files/A/shared.bin');
  t.same(
    plan.jobs[0]!.users.map((u) => u.patchId),
    ['A', 'B'],
  );
  t.match(plan.invalid.get('C'), /shared\.bin.*99.*10/);
  const failed = failedPatches(plan.jobs, new Map([[sha256('same bytes'), 'HTTP 404']]));
  t.same(Object.fromEntries(failed), { A: 'file shared.bin: HTTP 404', B: 'file shared.bin: HTTP 404' });
});

t.test('feed and file URLs', async (t) => {
  t.equal(resolveFeedUrl('http://127.0.0.1:8080/feed'), 'http://127.0.0.1:8080/feed/feed.json');
  t.equal(resolveFeedUrl('http://127.0.0.1:8080/feed/'), 'http://127.0.0.1:8080/feed/feed.json');
  t.equal(resolveFeedUrl('file:///media/feed/feed.json'), 'file:///media/feed/feed.json');
  t.throws(() => resolveFeedUrl('ftp://x/feed'), { code: ErrorCodes.UNSUPPORTED_URL });
  t.throws(() => resolveFeedUrl('relative/dir'), { code: ErrorCodes.UNSUPPORTED_URL });
  t.equal(resolveFileUrl('file:///media/feed/feed.json', 'files/a.sh'), 'file:///media/feed/files/a.sh');
  t.equal(resolveFileUrl('http://h/feed/feed.json', 'https://cdn/x.bin'), 'https://cdn/x.bin');
  t.throws(() => resolveFileUrl('http://h/feed/feed.json', 'javascript:alert(1)'), {
    code: ErrorCodes.UNSUPPORTED_URL,
  });
});
