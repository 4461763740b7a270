// A publication between GET /v1/catalog and GET /v1/catalog.sig must not make the client
// refuse a good catalog as badly signed: it sees the .sig's ETag differ and fetches the pair again.
// Under trust v2 the same race is harmless by design: the timestamp names a snapshot version,
// the snapshot names role versions, and every version stays on the server (consistent snapshots).
import t from 'tap';
import { makeSandbox } from './fixtures/client.js';
import { buildCatalog, startStaging } from './fixtures/staging.js';

t.test(
  'a catalog published between the catalog and its signature is fetched again, not refused',
  async (t) => {
    const first = buildCatalog([{ id: 'A' }], 1);
    const second = buildCatalog([{ id: 'A' }, { id: 'B' }], 2);
    const staging = await startStaging(first);
    t.teardown(() => staging.close());
    let published = false;
    staging.beforeSignature = () => {
      if (published) return;
      published = true;
      void staging.setCatalog(second);
    };
    // v1 (mirror key): removed with the v1 client path
    const sb = makeSandbox(t.testdir(), () => [staging.url], { trust: { root: null } });
    const check = await sb.json<{ patches: { id: string }[] }>(['check']);
    t.equal(check.code, 0, check.stderr);
    t.same(
      check.doc.patches.map((p) => p.id).sort(),
      ['A', 'B'],
      'the client works from the catalog the signature belongs to',
    );
    const catalogGets = staging.requests.filter((r) => r.url === '/v1/catalog').length;
    t.equal(catalogGets, 2, 'the catalog was fetched again once');
  },
);

t.test(
  'trust v2: a publication between the timestamp and the snapshot it names is not a failure',
  async (t) => {
    const staging = await startStaging(buildCatalog([{ id: 'A' }]));
    t.teardown(() => staging.close());
    let publication: Promise<void> | undefined;
    staging.beforeMetadata = (name) => {
      if (publication || !name.endsWith('.snapshot.json')) return;
      publication = staging.setCatalog(buildCatalog([{ id: 'A' }, { id: 'B' }]));
    };
    const sb = makeSandbox(t.testdir(), () => [staging.url]);
    const check = await sb.json<{ patches: { id: string }[] }>(['check']);
    t.equal(check.code, 0, check.stderr);
    t.ok(publication, 'a new snapshot and timestamp were published while the host read the old ones');
    t.same(
      check.doc.patches.map((p) => p.id),
      ['A'],
      'the host works from the snapshot its timestamp named',
    );
    await publication;
    const next = await sb.json<{ patches: { id: string }[] }>(['check']);
    t.equal(next.code, 0, next.stderr);
    t.same(next.doc.patches.map((p) => p.id).sort(), ['A', 'B'], 'the next check has the new one');
  },
);
