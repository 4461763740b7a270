// The build-time validators (scripts/compile-schemas.mjs -> dist/schemas/*.cjs) must
// judge every document exactly as a run-time compile of the same schema would, and must
// never be used once the schema text differs from what they were built from.
import { readFileSync } from 'node:fs';
import t from 'tap';
// The built modules (core's own, not its public index): the generated validators are
// looked up beside dist/precompiled.js.
import { compileConfigValidator, configValidatorSources } from '../dist/config/validator.js';
import { CATALOG_SCHEMA_PATH, FEED_SCHEMA_PATH, compileFeedValidators } from '../dist/feed.js';
import { loadPrecompiledValidator, type PrecompiledSchema } from '../dist/precompiled.js';
import { REPORT_SCHEMA } from '../dist/report.js';
import { createAjv } from '../dist/schema-errors.js';

const feedText = readFileSync(FEED_SCHEMA_PATH, 'utf8');
const catalogText = readFileSync(CATALOG_SCHEMA_PATH, 'utf8');
const reportText = JSON.stringify(REPORT_SCHEMA);
const runtimeFeed = compileFeedValidators(feedText, catalogText);

const cases: Record<
  PrecompiledSchema,
  {
    sources: string[];
    runtime: ReturnType<typeof createAjv>['compile'] extends (...a: never[]) => infer V ? V : never;
    documents: unknown[];
  }
> = {
  feed: {
    sources: [feedText],
    runtime: runtimeFeed.feed,
    documents: [
      {},
      {
        format: 'patchbay-feed/1',
        vendor: 'v',
        sequence: 1,
        generatedAt: '2026-11-20T08:00:00Z',
        products: [],
        patches: [],
      },
      {
        format: 'patchbay-feed/1',
        vendor: 'v',
        sequence: 1,
        generatedAt: 'yesterday',
        products: [],
        patches: [],
      },
      {
        format: 'patchbay-feed/1',
        vendor: 'v',
        sequence: -1,
        generatedAt: '2026-11-20T08:00:00Z',
        products: [],
        patches: [],
      },
      { format: 'patchbay-feed/2', vendor: 7, sequence: 'x', generatedAt: 1, products: {}, patches: null },
    ],
  },
  catalog: {
    sources: [feedText, catalogText],
    runtime: runtimeFeed.catalog,
    documents: [{}, { format: 'x' }, []],
  },
  report: {
    sources: [reportText],
    runtime: createAjv().compile(REPORT_SCHEMA),
    documents: [{}, { hostId: 'h1', reportedAt: 'not a date', patches: [], events: [] }, { hostId: '-bad' }],
  },
  'server-config': {
    sources: configValidatorSources('server-config'),
    runtime: compileConfigValidator('server-config'),
    documents: [{}, { listen: { port: 'eighty' } }, { unknownKey: true }, { upstream: { url: 'not a url' } }],
  },
  'client-config': {
    sources: configValidatorSources('client-config'),
    runtime: compileConfigValidator('client-config'),
    documents: [{}, { server: { url: 7 } }, { hostId: '' }, { schedule: { check: 5 } }],
  },
};

for (const [name, { sources, runtime, documents }] of Object.entries(cases) as [
  PrecompiledSchema,
  (typeof cases)[PrecompiledSchema],
][]) {
  t.test(`${name}: the build's validator agrees with a run-time compile`, async (t) => {
    const built = loadPrecompiledValidator(name, sources);
    if (!built) return t.fail(`dist/schemas/${name}.cjs is missing or stale: run npm run build`);
    for (const document of documents) {
      const label = JSON.stringify(document);
      // each its own copy: the config validators fill in defaults
      const [forBuilt, forRuntime] = [structuredClone(document), structuredClone(document)];
      t.equal(built(forBuilt), runtime(forRuntime), `${label}: same verdict`);
      t.same(built.errors ?? null, runtime.errors ?? null, `${label}: same errors`);
      t.same(forBuilt, forRuntime, `${label}: same defaults filled in`);
    }
    t.not(
      documents.every((d) => runtime(d)),
      true,
      'the cases include invalid documents',
    );
  });
}

t.test('a validator built from another schema text is never used', async (t) => {
  t.equal(loadPrecompiledValidator('feed', [`${feedText} `]), undefined, 'one byte of difference');
  t.equal(
    loadPrecompiledValidator('catalog', [catalogText]),
    undefined,
    'the catalog is digested with the feed schema it refers to',
  );
});
