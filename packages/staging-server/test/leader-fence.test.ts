// Fencing (cluster/published-files.ts): a mirror whose replica is no longer the leader stops
// a sync before it publishes, and nothing of it is served: no catalog, no TUF metadata. The
// leadership is a stand-in here (the lock itself is tested on PostgreSQL in leader-lock.test.ts);
// the sync is real, from the bundled sample TUF repository.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { createMirrorService } from '../src/sync/mirror-service.js';
import { silentLogger } from './fixtures/http-harness.js';
import { sampleTufConfig } from './fixtures/sample-tuf.js';

t.test('a sync that finds its replica no longer leads publishes nothing', async (t) => {
  const dataDir = join(t.testdir(), 'data');
  const config = sampleTufConfig(dataDir);
  let leads = true;
  const fenceChecks: boolean[] = [];
  const mirror = await createMirrorService(config, silentLogger, {
    leadership: {
      isLeader: () => true,
      stillLeader: () => {
        fenceChecks.push(leads);
        return Promise.resolve(leads);
      },
    },
  });
  t.teardown(() => mirror.close());
  const timestamp = join(dataDir, 'tuf', 'metadata', 'timestamp.json');
  const catalog = join(dataDir, 'catalog', 'current.json');

  leads = false; // the lock was lost while the sync ran
  const fenced = await mirror.startSync();
  t.equal(fenced.outcome, 'failed');
  t.match(fenced.error, /leadership lost before publishing: nothing was published/);
  t.ok(fenceChecks.length > 0, 'the fence asked the database');
  t.notOk(existsSync(timestamp), 'no TUF metadata published');
  t.notOk(existsSync(catalog), 'no catalog published');
  t.equal(mirror.current(), null);

  leads = true;
  const published = await mirror.startSync();
  t.equal(published.outcome, 'ok', 'the same sync publishes while the replica leads');
  t.ok(existsSync(timestamp));
});
