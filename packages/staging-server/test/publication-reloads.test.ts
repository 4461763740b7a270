// A follower reloads the leader's publication only when the published files changed, and
// requests that arrive together (a flood of unknown target paths) share one check.
import { mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { PublicationReloads } from '../src/cluster/published-files.js';

t.test('loads once per publication, however many callers ask', async (t) => {
  const dataDir = t.testdir();
  await mkdir(join(dataDir, 'catalog'), { recursive: true });
  const publish = async (text: string) => {
    await writeFile(join(dataDir, 'catalog', 'current.json.tmp'), text);
    await rename(join(dataDir, 'catalog', 'current.json.tmp'), join(dataDir, 'catalog', 'current.json'));
  };
  let loads = 0;
  const reloads = new PublicationReloads(dataDir, async () => {
    loads += 1;
  });
  await publish('{"sequence":1}');
  const first = await Promise.all(Array.from({ length: 20 }, () => reloads.reloadIfPublished()));
  t.equal(loads, 1, '20 callers at once: one load');
  t.ok(
    first.every((moved) => moved),
    'each is told the publication was new',
  );
  t.notOk(await reloads.reloadIfPublished(), 'nothing published since: no load');
  t.equal(loads, 1);
  await publish('{"sequence":2}');
  t.ok(await reloads.reloadIfPublished(), 'a new publication is loaded');
  t.equal(loads, 2);
});
