// A publication between GET /v1/catalog and GET /v1/catalog.sig must not make the client
// refuse a good catalog as badly signed: it sees the .sig's ETag differ and fetches the pair again.
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
      staging.setCatalog(second);
    };
    const sb = makeSandbox(t.testdir(), () => [staging.url]);
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
