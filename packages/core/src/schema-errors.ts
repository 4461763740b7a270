// JSON Schema plumbing shared by feed, report and config validation: one way to
// build an Ajv instance and one way to turn Ajv's errors into a sentence a person
// can act on ("feed.json: /patches/3/files/0/size must be <= 68719476736 (maximum)").
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import type { Ajv, Options as AjvOptions, ErrorObject } from 'ajv';
import type * as AjvModule from 'ajv';
import type AddFormats from 'ajv-formats';

// Ajv and its formats are loaded only when a schema is compiled at run time: the
// validators a process normally needs are precompiled at build time (precompiled.ts),
// and loading Ajv's compiler costs ~100 ms of every CLI start.
const require = createRequire(import.meta.url);

/** A draft-07 Ajv with the standard formats (date-time, uri…); first error only. */
export function createAjv(extra: AjvOptions = {}): Ajv {
  const { Ajv: AjvClass } = require('ajv') as typeof AjvModule;
  const addFormats = require('ajv-formats') as typeof AddFormats.default;
  const ajv = new AjvClass({
    allErrors: false,
    allowUnionTypes: true,
    strict: true,
    strictTuples: false,
    ...extra,
  });
  addFormats(ajv);
  return ajv;
}

/** Read a JSON Schema file that ships in docs/. */
export function readSchemaFile(url: URL): Record<string, unknown> {
  return JSON.parse(readFileSync(url, 'utf8')) as Record<string, unknown>;
}

/** One Ajv error reduced to what a message needs. */
export interface SchemaIssue {
  /** JSON pointer of the offending value, '' for the root */
  path: string;
  /** the schema keyword that failed (maximum, pattern, required, oneOf…) */
  rule: string;
  /** "must be <= 68719476736" */
  message: string;
  /** the offending value when it is a short scalar, JSON-encoded */
  got?: string;
  /** for additionalProperties: the unknown key */
  unknownKey?: string;
}

/** Ajv's own message, with a few made clearer. */
function describe(err: ErrorObject): string {
  const params = err.params as Record<string, unknown>;
  switch (err.keyword) {
    case 'type':
      return `must be ${String(params.type).split(',').join(' or ')}`;
    case 'enum':
      return `must be one of ${(params.allowedValues as unknown[]).map((v) => JSON.stringify(v)).join(', ')}`;
    case 'const':
      return `must be ${JSON.stringify(params.allowedValue)}`;
    case 'additionalProperties':
      return `has unknown key "${String(params.additionalProperty)}"`;
    default:
      return err.message ?? `fails ${err.keyword}`;
  }
}

/** The value at a JSON pointer, or undefined. */
function valueAt(root: unknown, pointer: string): unknown {
  if (pointer === '') return root;
  let node: unknown = root;
  for (const raw of pointer.slice(1).split('/')) {
    const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[key];
  }
  return node;
}

function shortJson(value: unknown): string | undefined {
  if (value === undefined || (value !== null && typeof value === 'object')) return undefined;
  const text = JSON.stringify(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

function depth(err: ErrorObject): number {
  return err.instancePath === '' ? 0 : err.instancePath.split('/').length;
}

/**
 * Pick the error worth showing. With oneOf, Ajv reports every branch's failure
 * and then "must match exactly one schema"; the deepest branch error is the one
 * that says what is wrong (a value of the wrong type inside the right shape).
 * When every branch fails only at the oneOf's own level (no shape matched at all),
 * or several shapes match, one sentence names the shapes.
 */
export function pickIssue(errors: readonly ErrorObject[], data: unknown): SchemaIssue {
  const last = errors[errors.length - 1];
  if (!last) return { path: '', rule: 'schema', message: 'is invalid' };
  let chosen = last;
  if (last.keyword === 'oneOf' || last.keyword === 'anyOf') {
    const branches = errors.slice(0, -1);
    const passing = (last.params as { passingSchemas?: number[] | null }).passingSchemas;
    const deepest = branches.reduce<ErrorObject | undefined>(
      (best, e) => (best === undefined || depth(e) > depth(best) ? e : best),
      undefined,
    );
    if (passing || !deepest || depth(deepest) <= depth(last)) {
      const shapes = branches
        .filter((e) => e.keyword === 'required')
        .map((e) => (e.params as { missingProperty: string }).missingProperty);
      const what = shapes.length > 0 ? shapes.map((s) => `{ "${s}": ... }`).join(', ') : 'the allowed shapes';
      const message = passing
        ? `must match exactly one of the allowed shapes, but matches ${passing.length}`
        : `must be one of ${what}`;
      return { path: last.instancePath, rule: last.keyword, message };
    }
    chosen = deepest;
  }
  const params = chosen.params as Record<string, unknown>;
  if (chosen.keyword === 'additionalProperties') {
    const key = String(params.additionalProperty);
    return {
      path: `${chosen.instancePath}/${key.replace(/~/g, '~0').replace(/\//g, '~1')}`,
      rule: chosen.keyword,
      message: describe(chosen),
      unknownKey: key,
    };
  }
  const got = chosen.keyword === 'required' ? undefined : shortJson(valueAt(data, chosen.instancePath));
  return { path: chosen.instancePath, rule: chosen.keyword, message: describe(chosen), got };
}

/** "source: /a/b message (rule), got X" — the form feed and report errors use. */
export function formatIssue(source: string, issue: SchemaIssue, withRule = true): string {
  const where = issue.path === '' ? '/' : issue.path;
  const rule = withRule ? ` (${issue.rule})` : '';
  const got = issue.got !== undefined ? `, got ${issue.got}` : '';
  return `${source}: ${where} ${issue.message}${rule}${got}`;
}
