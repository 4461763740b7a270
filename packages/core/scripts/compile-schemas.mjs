// Build step: compile the JSON Schemas the programs validate with into standalone
// validator modules (Ajv's code generator), dist/schemas/<name>.cjs, each stamped with
// the digest of the schema text it came from (see src/precompiled.ts for why); and publish
// the config schemas, written in TypeScript (src/config/*-schema.ts), as docs/*-config.schema.json.
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
// core's own modules, not its public index: the schema paths and compilers are internal.
import { CONFIG_SCHEMA_FILES } from '../dist/config/schema-files.js';
import {
  CONFIG_AJV_OPTIONS,
  CONFIG_SCHEMAS,
  compileConfigValidator,
  configValidatorSources,
} from '../dist/config/validator.js';
import { CATALOG_SCHEMA_PATH, FEED_SCHEMA_PATH, compileFeedValidators } from '../dist/feed.js';
import { schemaSourceDigest } from '../dist/precompiled.js';
import { REPORT_SCHEMA } from '../dist/report.js';
import { createAjv } from '../dist/schema-errors.js';
import { publishedSchemaText } from './published-schema.mjs';

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
  'server-config': configBuild('server-config'),
  'client-config': configBuild('client-config'),
};

function withAjv(compile, options = {}) {
  const ajv = createAjv({ ...codeOptions, ...options });
  return [ajv, compile(ajv)];
}

function configBuild(name) {
  return [
    configValidatorSources(name),
    () => withAjv((ajv) => compileConfigValidator(name, ajv), CONFIG_AJV_OPTIONS),
  ];
}

function writeAtomically(file, text) {
  writeFileSync(`${file}.tmp`, text);
  renameSync(`${file}.tmp`, file);
}

for (const [name, file] of Object.entries(CONFIG_SCHEMA_FILES)) {
  const text = await publishedSchemaText(CONFIG_SCHEMAS[name], file);
  if (readFileSync(file, 'utf8') !== text) writeAtomically(file, text);
}

mkdirSync(outDir, { recursive: true });
for (const [name, [sources, compile]] of Object.entries(builds)) {
  const [ajv, validate] = compile();
  const code = `${standaloneCode(ajv, validate)}\nmodule.exports.sourceSha256 = ${JSON.stringify(schemaSourceDigest(sources))};\n`;
  writeAtomically(join(outDir, `${name}.cjs`), code);
}
console.log(
  `compiled ${Object.keys(builds).length} schemas into ${outDir}; config schemas published in docs/`,
);
