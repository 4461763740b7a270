// Parsing and validating feed.json and mirror catalogs. The JSON Schema lives in
// docs/ (the documentation and the code share one file); semantic rules that a
// schema cannot say (unique ids, declared products, '..' in names) follow it here.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { ErrorCodes, PatchbayError } from './errors.js';
import { patchExitCodeConflict } from './exit-code-classes.js';
import { detectPlaceholderProblem } from './placeholders.js';
import { patchFileNameIssue } from './names.js';
import { loadPrecompiledValidator, schemaSourceDigest } from './precompiled.js';
import { createAjv, formatIssue, pickIssue } from './schema-errors.js';
import type { Catalog, Feed, FeedPatch, FeedProduct } from './types.js';

// Same depth from src/ (tests) and dist/ (built): packages/core/{src,dist}/feed.*
const FEED_SCHEMA_URL = new URL('../../../docs/feed.schema.json', import.meta.url);
const CATALOG_SCHEMA_URL = new URL('../../../docs/catalog.schema.json', import.meta.url);

/** Absolute path of docs/feed.schema.json, the JSON Schema the code validates with. */
export const FEED_SCHEMA_PATH: string = fileURLToPath(FEED_SCHEMA_URL);
/** Absolute path of docs/catalog.schema.json (refers to the feed schema's definitions). */
export const CATALOG_SCHEMA_PATH: string = fileURLToPath(CATALOG_SCHEMA_URL);

interface Validators {
  feed: ValidateFunction;
  catalog: ValidateFunction;
}

let validators: Validators | undefined;

/** Compile both at run time; the build does the same ahead of time (precompiled.ts). */
export function compileFeedValidators(
  feedSchemaText: string,
  catalogSchemaText: string,
  ajv = createAjv(),
): Validators {
  ajv.addSchema(JSON.parse(feedSchemaText) as Record<string, unknown>);
  const feed = ajv.getSchema('urn:patchbay:schema:feed');
  if (!feed) throw new Error(`feed schema ${FEED_SCHEMA_PATH} did not compile`);
  return { feed, catalog: ajv.compile(JSON.parse(catalogSchemaText) as Record<string, unknown>) };
}

/** Loaded once, on first use, so importing core costs no file reads. */
function getValidators(): Validators {
  if (!validators) {
    const feedText = readFileSync(FEED_SCHEMA_URL, 'utf8');
    const catalogText = readFileSync(CATALOG_SCHEMA_URL, 'utf8');
    const feed = loadPrecompiledValidator('feed', [feedText]);
    const catalog = loadPrecompiledValidator('catalog', [feedText, catalogText]);
    validators = feed && catalog ? { feed, catalog } : compileFeedValidators(feedText, catalogText);
  }
  return validators;
}

function parseJson(bytes: Buffer | string, source: string): unknown {
  const text = typeof bytes === 'string' ? bytes : bytes.toString('utf8');
  try {
    // A UTF-8 BOM is not JSON, but editors add it; tolerate it rather than refuse a feed.
    return JSON.parse(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw new PatchbayError(
      ErrorCodes.FEED_NOT_JSON,
      `${source}: not valid JSON: ${reason}`,
      { source },
      {
        cause: err,
      },
    );
  }
}

function validateShape(validate: ValidateFunction, value: unknown, source: string, format: string): void {
  // The format decides what else is expected: a catalog handed to parseFeed (or the
  // reverse) should be told so, not that it lacks some field of the other format.
  const given = (value as { format?: unknown } | null)?.format;
  if (typeof value === 'object' && value !== null && given !== undefined && given !== format) {
    const issue = { path: '/format', rule: 'const', message: `must be ${JSON.stringify(format)}` };
    throw new PatchbayError(
      ErrorCodes.FEED_SCHEMA,
      formatIssue(source, { ...issue, got: JSON.stringify(given).slice(0, 80) }),
      { source, path: issue.path, rule: issue.rule },
    );
  }
  if (validate(value)) return;
  const issue = pickIssue(validate.errors ?? [], value);
  throw new PatchbayError(ErrorCodes.FEED_SCHEMA, formatIssue(source, issue), {
    source,
    path: issue.path,
    rule: issue.rule,
  });
}

function invalid(source: string, message: string, context: Record<string, unknown>): PatchbayError {
  return new PatchbayError(ErrorCodes.FEED_INVALID, `${source}: ${message}`, { source, ...context });
}

/**
 * Rules beyond the schema: patch ids unique, file names unique within a patch and
 * plain (no '..' or drive letter; for a patch that may run on Windows, none of the names
 * Windows refuses or reads otherwise: see patchFileNameIssue), every patch's product/release declared,
 * no exit code in two of a command's success/reboot/retry lists.
 * requires/supersedes naming unknown ids are allowed: clients show those patches blocked.
 */
function checkSemantics(
  products: readonly FeedProduct[],
  patches: readonly FeedPatch[],
  source: string,
): void {
  const releases = new Map<string, Set<string>>();
  for (const product of products) {
    const set = releases.get(product.id) ?? new Set<string>();
    for (const release of product.releases) set.add(release);
    releases.set(product.id, set);
  }
  const firstIndex = new Map<string, number>();
  patches.forEach((patch, index) => {
    const earlier = firstIndex.get(patch.id);
    if (earlier !== undefined) {
      throw invalid(source, `duplicate patch id "${patch.id}" at /patches/${earlier} and /patches/${index}`, {
        patchId: patch.id,
        path: `/patches/${index}/id`,
      });
    }
    firstIndex.set(patch.id, index);
    const declared = releases.get(patch.product);
    if (!declared || !declared.has(patch.release)) {
      throw invalid(
        source,
        `/patches/${index} (${patch.id}): product "${patch.product}" release "${patch.release}" is not declared in products`,
        { patchId: patch.id, path: `/patches/${index}` },
      );
    }
    const issue = patchFileNameIssue(
      patch.files.map((file) => file.name),
      patch.platforms,
    );
    if (issue) {
      const path = `/patches/${index}/files/${issue.index}/name`;
      throw invalid(source, `${path} (${patch.id}): ${issue.reason}`, { patchId: patch.id, path });
    }
    checkExitCodeLists(patch, index, source);
    const detectProblem = detectPlaceholderProblem(patch.detect);
    if (detectProblem) {
      const path = `/patches/${index}/detect`;
      throw invalid(source, `${path} (${patch.id}): ${detectProblem}`, { patchId: patch.id, path });
    }
  });
}

/** An exit code means one thing: a code in two of success/reboot/retry lists is refused. */
function checkExitCodeLists(patch: FeedPatch, index: number, source: string): void {
  const problem = patchExitCodeConflict(patch);
  if (!problem) return;
  const path = `/patches/${index}/${problem.action}`;
  throw invalid(source, `${path} (${patch.id}): ${problem.text}`, {
    patchId: patch.id,
    path,
    exitCode: problem.conflict.code,
  });
}

/**
 * Parse and validate feed.json bytes. Throws PatchbayError:
 * PB_ERR_FEED_NOT_JSON, PB_ERR_FEED_SCHEMA (message names the JSON path and the rule),
 * PB_ERR_FEED_INVALID (duplicate patch id, duplicate file name in a patch, unsafe file name…).
 * Unknown fields are ignored (kept in the object), never fatal.
 */
export function parseFeed(bytes: Buffer | string, source = 'feed.json'): Feed {
  return validateFeed(parseJson(bytes, source), source);
}

export interface ParseCatalogOptions {
  /**
   * These exact bytes passed parseCatalog before, under the same catalogSchemaId() (the caller
   * keeps that record, e.g. beside a cached copy whose signature it verifies again): skip the
   * JSON Schema pass, the costliest part at 20,000 patches. The format and the rules beyond the
   * schema are still checked.
   */
  schemaChecked?: boolean;
}

/** The same for a mirror catalog (format patchbay-catalog/1, file urls /v1/blobs/sha256/<hex>). */
export function parseCatalog(
  bytes: Buffer | string,
  source = 'catalog',
  opts: ParseCatalogOptions = {},
): Catalog {
  const value = parseJson(bytes, source);
  if (!opts.schemaChecked || !looksLikeCatalog(value)) {
    validateShape(getValidators().catalog, value, source, 'patchbay-catalog/1');
  }
  const catalog = value as Catalog;
  checkSemantics(catalog.products, catalog.patches, source);
  return catalog;
}

function looksLikeCatalog(value: unknown): boolean {
  const doc = value as Partial<Catalog> | null;
  return (
    typeof doc === 'object' &&
    doc !== null &&
    doc.format === 'patchbay-catalog/1' &&
    Array.isArray(doc.products) &&
    Array.isArray(doc.patches)
  );
}

let schemaId: string | undefined;

/**
 * Names the rules parseCatalog applies: a digest of the feed and catalog schema files. A
 * record that some bytes passed under one id says nothing once the schemas have changed.
 */
export function catalogSchemaId(): string {
  schemaId ??= schemaSourceDigest([
    readFileSync(FEED_SCHEMA_URL, 'utf8'),
    readFileSync(CATALOG_SCHEMA_URL, 'utf8'),
  ]);
  return schemaId;
}

/** Validate an already-parsed object as a feed (e.g. one built in memory before writing it). */
export function validateFeed(value: unknown, source = 'feed.json'): Feed {
  validateShape(getValidators().feed, value, source, 'patchbay-feed/1');
  const feed = value as Feed;
  checkSemantics(feed.products, feed.patches, source);
  return feed;
}

/** What an upstream URL may serve: a vendor feed, or a parent staging server's catalog (tiered mirrors). */
export type UpstreamDocument =
  { format: 'patchbay-feed/1'; feed: Feed } | { format: 'patchbay-catalog/1'; catalog: Catalog };

/**
 * Parse an upstream document of either format, told apart by its `format` field (one JSON
 * parse; each format validated by its own schema). Anything else is refused as a feed would be.
 */
export function parseUpstreamDocument(bytes: Buffer | string, source = 'feed.json'): UpstreamDocument {
  const value = parseJson(bytes, source);
  if ((value as { format?: unknown } | null)?.format === 'patchbay-catalog/1') {
    validateShape(getValidators().catalog, value, source, 'patchbay-catalog/1');
    const catalog = value as Catalog;
    checkSemantics(catalog.products, catalog.patches, source);
    return { format: 'patchbay-catalog/1', catalog };
  }
  return { format: 'patchbay-feed/1', feed: validateFeed(value, source) };
}

/** A mirror's blob URL as it publishes it (CONTRACT §2). */
const MIRROR_BLOB_URL = /^\/v1\/blobs\/sha256\/([0-9a-f]{64})$/;

/**
 * A parent mirror's catalog as the feed a child mirrors: the parent's publication counter
 * becomes the feed sequence (so rollback protection works unchanged), the catalog-only
 * fields go, extensions (mirrorChain among them) stay. Blob URLs become relative
 * (`blobs/sha256/<hex>`), so they resolve against the catalog URL (`…/v1/catalog`) to the
 * parent's `…/v1/blobs/…`, also behind a reverse proxy's path prefix.
 */
export function catalogAsFeed(catalog: Catalog): Feed {
  const {
    format: _format,
    sequence,
    upstreamSequence: _upstreamSequence,
    publishedAt: _publishedAt,
    expiresAt: _expiresAt,
    vendor,
    generatedAt,
    products,
    patches,
    ...extensions
  } = catalog;
  return {
    ...extensions,
    format: 'patchbay-feed/1',
    vendor,
    sequence,
    generatedAt,
    products,
    patches: patches.map((patch) => ({
      ...patch,
      files: patch.files.map((file) => {
        const blob = MIRROR_BLOB_URL.exec(file.url);
        return blob ? { ...file, url: `blobs/sha256/${blob[1]}` } : file;
      }),
    })),
  };
}
