/**
 * Conditional and range request evaluation for GET/HEAD of a static file (RFC 9110 §13, §14),
 * as pure functions over the request headers and the file's validators.
 */

export interface Validators {
  /** strong entity tag including quotes: "\"<hex>\"" */
  etag: string;
  /** mtime in whole seconds since the epoch (HTTP dates have second precision) */
  lastModifiedSeconds: number;
}

export type ByteRange = { start: number; end: number };

export type RangeDecision =
  { kind: 'full' } | { kind: 'partial'; range: ByteRange } | { kind: 'unsatisfiable' };

/** Entity tags in an If-None-Match / If-Match list ("*" comes back as ['*']). */
function parseEtagList(header: string): string[] {
  if (header.trim() === '*') return ['*'];
  return header.match(/(?:W\/)?"[^"]*"/g) ?? [];
}

function opaqueTag(tag: string): string {
  return tag.startsWith('W/') ? tag.slice(2) : tag;
}

function parseHttpDateSeconds(value: string): number | undefined {
  const ms = Date.parse(value);
  return Number.isNaN(ms) ? undefined : Math.floor(ms / 1000);
}

/**
 * The precondition outcome for GET/HEAD: 412 (If-Match / If-Unmodified-Since fail),
 * 304 (If-None-Match with a weak match, or If-Modified-Since without If-None-Match), or
 * undefined to go on.
 */
export function evaluatePreconditions(
  headers: { [name: string]: string | string[] | undefined },
  validators: Validators,
): 304 | 412 | undefined {
  const ifMatch = single(headers['if-match']);
  if (ifMatch !== undefined) {
    const tags = parseEtagList(ifMatch);
    // If-Match uses the strong comparison: weak tags never match.
    if (!tags.includes('*') && !tags.includes(validators.etag)) return 412;
  } else {
    const ius = single(headers['if-unmodified-since']);
    const since = ius === undefined ? undefined : parseHttpDateSeconds(ius);
    if (since !== undefined && validators.lastModifiedSeconds > since) return 412;
  }

  const ifNoneMatch = single(headers['if-none-match']);
  if (ifNoneMatch !== undefined) {
    const tags = parseEtagList(ifNoneMatch);
    // If-None-Match uses the weak comparison.
    if (tags.includes('*') || tags.some((tag) => opaqueTag(tag) === validators.etag)) return 304;
    return undefined;
  }
  const ims = single(headers['if-modified-since']);
  const since = ims === undefined ? undefined : parseHttpDateSeconds(ims);
  if (since !== undefined && validators.lastModifiedSeconds <= since) return 304;
  return undefined;
}

/**
 * If-Range: the Range applies only when the validator still matches, compared strongly: an
 * entity tag must equal ours exactly (a weak tag never matches), a date must equal our
 * Last-Modified exactly. Anything else means "send the whole new representation".
 */
export function ifRangeMatches(ifRange: string, validators: Validators): boolean {
  const value = ifRange.trim();
  if (value.startsWith('"') || value.startsWith('W/')) return value === validators.etag;
  const date = parseHttpDateSeconds(value);
  return date !== undefined && date === validators.lastModifiedSeconds;
}

/**
 * One byte range of `bytes=a-b`, `bytes=a-` or `bytes=-n` against a file of `size` bytes.
 * Syntax we do not serve (other units, several ranges, a > b) is ignored: the full body
 * (RFC 9110 lets a server ignore Range). A well-formed range that starts past the end, or a
 * zero-length suffix, is unsatisfiable (416).
 */
export function parseRange(header: string, size: number): RangeDecision {
  const match = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!match) return { kind: 'full' };
  const [, first = '', last = ''] = match;
  if (first === '' && last === '') return { kind: 'full' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', range: { start: Math.max(0, size - suffix), end: size - 1 } };
  }
  const start = Number(first);
  const end = last === '' ? size - 1 : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end)) return { kind: 'unsatisfiable' };
  if (last !== '' && end < start) return { kind: 'full' };
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', range: { start, end: Math.min(end, size - 1) } };
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(', ') : value;
}
