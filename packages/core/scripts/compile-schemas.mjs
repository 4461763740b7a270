// Build step: compile the JSON Schemas the programs validate with into standalone
// validator modules (Ajv's code generator), dist/schemas/<name>.cjs, each stamped with
// the digest of the schema text it came from (see src/precompiled.ts for why).
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
// core's own modules, not its public index: the schema paths and compilers are internal.
import { CLIENT_CONFIG_SCHEMA_PATH, SERVER_CONFIG_SCHEMA_PATH } from '../dist/config.js';
import { CATALOG_SCHEMA_PATH, FEED_SCHEMA_PATH, compileFeedValidators } from '../dist/feed.js';
import { schemaSourceDigest } from '../dist/precompiled.js';
import { REPORT_SCHEMA } from '../dist/report.js';
import { createAjv } from '../dist/schema-errors.js';

const require = createRequire(import.meta.url);
const standaloneCode = require('ajv/dist/standalone').default;
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'dist', 'schemas');
// The formats import is spelled here, with this package's own Ajv codegen: ajv-formats
// builds it with whichever Ajv it resolves, and a second copy's code object would be
// serialized as data instead of code.
const { _ } = require('ajv/dist/compile/codegen');
const codeOptions = { code: { source: true, formats: _`require("ajv-formats/dist/formats").fullFormats` } };

const feedText = readFileSync(FEED_SCHEMA_PATH, 'utf8');
const catalogText = readFileSync(CATALOG_SCHEMA_PATH, 'utf8');
const reportText = JSON.stringify(REPORT_SCHEMA);

/** name -> [sources (digested), () => [ajv, validate]] */
const builds = {
  feed: [[feedText], () => withAjv((ajv) => compileFeedValidators(feedText, catalogText, ajv).feed)],
  catalog: [
    [feedText, catalogText],
    () => withAjv((ajv) => compileFeedValidators(feedText, catalogText, ajv).catalog),
  ],
  report: [[reportText], () => withAjv((ajv) => ajv.compile(REPORT_SCHEMA))],
  'server-config': configBuild(SERVER_CONFIG_SCHEMA_PATH),
  'client-config': configBuild(CLIENT_CONFIG_SCHEMA_PATH),
};

function withAjv(compile) {
  const ajv = createAjv(codeOptions);
  return [ajv, compile(ajv)];
}

function configBuild(path) {
  const text = readFileSync(path, 'utf8');
  return [[text], () => withAjv((ajv) => ajv.compile(JSON.parse(text)))];
}

mkdirSync(outDir, { recursive: true });
for (const [name, [sources, compile]] of Object.entries(builds)) {
  const [ajv, validate] = compile();
  const code = `${standaloneCode(ajv, validate)}\nmodule.exports.sourceSha256 = ${JSON.stringify(schemaSourceDigest(sources))};\n`;
  const file = join(outDir, `${name}.cjs`);
  writeFileSync(`${file}.tmp`, code);
  renameSync(`${file}.tmp`, file);
}
console.log(`compiled ${Object.keys(builds).length} schemas into ${outDir}`);
