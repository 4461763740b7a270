// parseCatalog's schemaChecked: the schema pass is skipped for bytes a caller validated
// before, but never the format check or the rules beyond the schema.
import t from 'tap';
import { catalogSchemaId, parseCatalog } from '../src/feed.js';

const patch = (id: string) => ({
  id,
  product: 'p',
  release: '1',
  title: id,
  severity: 'critical',
  publishedAt: '2026-01-01T00:00:00Z',
  files: [],
  install: { command: ['true'] },
});

const catalog = (patches: unknown[]) => ({
  format: 'patchbay-catalog/1',
  vendor: 'V',
  sequence: 1,
  upstreamSequence: 1,
  generatedAt: '2026-01-01T00:00:00Z',
  publishedAt: '2026-01-01T00:00:00Z',
  products: [{ id: 'p', name: 'P', releases: ['1'] }],
  patches,
});

t.test('the schema pass is what schemaChecked skips', async (t) => {
  // A severity the schema refuses: caught by a full parse, not by a schema-checked one.
  const bytes = Buffer.from(JSON.stringify(catalog([{ ...patch('A'), severity: 'urgent' }])));
  t.throws(() => parseCatalog(bytes), { code: 'PB_ERR_FEED_SCHEMA' });
  t.equal(parseCatalog(bytes, 'c', { schemaChecked: true }).patches.length, 1);
});

t.test('schemaChecked still checks the format and the semantic rules', async (t) => {
  const feed = Buffer.from(JSON.stringify({ ...catalog([patch('A')]), format: 'patchbay-feed/1' }));
  t.throws(() => parseCatalog(feed, 'c', { schemaChecked: true }), { code: 'PB_ERR_FEED_SCHEMA' });
  const twice = Buffer.from(JSON.stringify(catalog([patch('A'), patch('A')])));
  t.throws(() => parseCatalog(twice, 'c', { schemaChecked: true }), { code: 'PB_ERR_FEED_INVALID' });
  t.throws(() => parseCatalog('{', 'c', { schemaChecked: true }), { code: 'PB_ERR_FEED_NOT_JSON' });
});

t.test('catalogSchemaId names the schema files', async (t) => {
  t.match(catalogSchemaId(), /^[0-9a-f]{64}$/);
  t.equal(catalogSchemaId(), catalogSchemaId());
});
