// The bundled sample feed, served by the reference upstream (patchbay-upstream), mirrored end to end.
import { join } from 'node:path';
import t from 'tap';
import { generateSampleFeed, startUpstreamServer } from '@patchbay/sample-feed';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { silentLogger, testConfig } from './fixtures/sync-upstream.js';

t.test('sample feed through the reference upstream: mirror, 304, new publication', async (t) => {
  const root = t.testdir({ feed: {}, data: {} });
  const feedDir = join(root, 'feed');
  const written = await generateSampleFeed({ outDir: feedDir });
  const upstream = await startUpstreamServer({ root: feedDir, logger: silentLogger });
  t.teardown(() => upstream.close());
  const mirror = await createMirrorService(testConfig(join(root, 'data'), upstream.url), silentLogger);
  t.teardown(() => mirror.close());

  const first = await mirror.startSync();
  t.equal(first.outcome, 'ok', first.error ?? '');
  const catalog = mirror.current()!.catalog;
  t.equal(catalog.upstreamSequence, written.feed!.sequence);
  t.same(
    catalog.patches.map((p) => p.id),
    written.feed!.patches.map((p) => p.id),
  );
  for (const patch of catalog.patches) {
    for (const file of patch.files) {
      t.equal(file.url, `/v1/blobs/sha256/${file.sha256}`);
      t.ok(await mirror.blobPath(file.sha256), `${patch.id}/${file.name} stored`);
    }
  }

  const second = await mirror.startSync();
  t.equal(second.notModified, true, 'the reference upstream answers 304');
  t.equal(second.filesFetched, 0);

  await generateSampleFeed({ outDir: feedDir, sequence: written.feed!.sequence + 1, extraPatches: true });
  const third = await mirror.startSync();
  t.equal(third.outcome, 'ok', third.error ?? '');
  t.ok(third.filesFetched > 0 && third.filesFetched < first.filesFetched, 'only the new files were fetched');
  t.equal(mirror.current()!.sequence, 2);
  t.ok(mirror.current()!.catalog.patches.length > catalog.patches.length);
});
