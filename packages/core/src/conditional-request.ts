// HTTP conditional requests and byte ranges (RFC 9110 §8.8.3, §13, §14), as pure
// functions of header values so each rule is tested alone. One copy for every server that
// answers a conditional GET: the staging server's routes and the sample feed's upstream.

interface EntityTag {
  weak: boolean;
  /** the quoted opaque-tag, quotes included */
  opaque: string;
}

const ENTITY_TAG = /^(W\/)?("[\x21\x23-\x7e\x80-\xff]*")$/;

/** Parse an If-None-Match / If-Match value: `*` or a comma-separated list of entity tags. */
export function parseEntityTags(header: string): '*' | EntityTag[] {
  const trimmed = header.trim();
  if (trimmed === '*') return '*';
  const tags: EntityTag[] = [];
  // Entity tags cannot contain commas inside their quotes (etagc excludes none of
  // them, but every tag we issue is hex), so a split on commas is sufficient here.
  for (const part of trimmed.split(',')) {
    const match = ENTITY_TAG.exec(part.trim());
    if (match?.[2] !== undefined) tags.push({ weak: match[1] !== undefined, opaque: match[2] });
  }
  return tags;
}

function parseOne(etag: string): EntityTag | null {
  const match = ENTITY_TAG.exec(etag.trim());
  return match?.[2] !== undefined ? { weak: match[1] !== undefined, opaque: match[2] } : null;
}

/** The strong comparison (RFC 9110 §8.8.3.2): both tags strong, the same opaque-tag. */
function strongMatch(tag: EntityTag | null, current: EntityTag | null): boolean {
  return tag !== null && current !== null && !tag.weak && !current.weak && tag.opaque === current.opaque;
}

/** The weak comparison: the same opaque-tag, either tag weak or not. */
function weakMatch(tag: EntityTag | null, current: EntityTag | null): boolean {
  return tag !== null && current !== null && tag.opaque === current.opaque;
}

/** Whether an If-None-Match / If-Match list names the current tag (`*`: any current one). */
function listNames(header: string, currentEtag: string, compare: typeof strongMatch): boolean {
  const tags = parseEntityTags(header);
  if (tags === '*') return true;
  const current = parseOne(currentEtag);
  return tags.some((tag) => compare(tag, current));
}

/** An HTTP-date in whole seconds (its precision), or undefined for a missing or bad date. */
function httpDateSeconds(header: string | undefined): number | undefined {
  const date = header === undefined ? NaN : Date.parse(header);
  return Number.isNaN(date) ? undefined : Math.floor(date / 1000);
}

function seconds(date: Date): number {
  return Math.floor(date.getTime() / 1000);
}

/**
 * If-None-Match uses the weak comparison (RFC 9110 §13.1.2): W/"x" matches "x".
 * True means the client's copy is current (304 for GET/HEAD).
 */
export function ifNoneMatchMatches(header: string | undefined, currentEtag: string): boolean {
  return header !== undefined && listNames(header, currentEtag, weakMatch);
}

/**
 * If-Range (RFC 9110 §13.1.5): the Range is honoured only when the validator
 * matches — an entity tag by the STRONG comparison (a weak tag never matches), or an
 * HTTP-date that exactly equals Last-Modified. Anything else sends the full 200.
 */
export function ifRangeAllowsRange(
  header: string | undefined,
  currentEtag: string,
  lastModified: Date,
): boolean {
  if (header === undefined) return true;
  const value = header.trim();
  if (value.startsWith('"') || value.startsWith('W/'))
    return strongMatch(parseOne(value), parseOne(currentEtag));
  return httpDateSeconds(value) === seconds(lastModified);
}

/**
 * If-Match (RFC 9110 §13.1.1) uses the STRONG comparison: true when the condition fails
 * (412), i.e. no listed tag is the current one. `*` matches any current representation.
 */
export function ifMatchFails(header: string | undefined, currentEtag: string): boolean {
  return header !== undefined && !listNames(header, currentEtag, strongMatch);
}

/** If-Unmodified-Since (RFC 9110 §13.1.4): true when it fails (modified after the date); a bad date is ignored. */
export function modifiedSince(header: string | undefined, lastModified: Date): boolean {
  const since = httpDateSeconds(header);
  return since !== undefined && seconds(lastModified) > since;
}

/** The preconditions' verdict for a GET or HEAD: send it, 304, or 412. */
export type Precondition = 'proceed' | 'not-modified' | 'failed';

export interface ConditionalHeaders {
  'if-match'?: string | undefined;
  'if-unmodified-since'?: string | undefined;
  'if-none-match'?: string | undefined;
  'if-modified-since'?: string | undefined;
}

/**
 * RFC 9110 §13.2.2, in its order, for GET and HEAD: If-Match (else If-Unmodified-Since)
 * first, then If-None-Match (else If-Modified-Since). Without `lastModified` (a resource
 * with no modification date) the date conditions are ignored, as §13.1.3/§13.1.4 say.
 * If-Range is the caller's, after this (it only decides whether a Range applies).
 */
export function evaluatePreconditions(
  headers: ConditionalHeaders,
  current: { etag: string; lastModified?: Date },
): Precondition {
  const { lastModified } = current;
  if (headers['if-match'] !== undefined) {
    if (ifMatchFails(headers['if-match'], current.etag)) return 'failed';
  } else if (lastModified && modifiedSince(headers['if-unmodified-since'], lastModified)) return 'failed';
  if (headers['if-none-match'] !== undefined)
    return ifNoneMatchMatches(headers['if-none-match'], current.etag) ? 'not-modified' : 'proceed';
  if (lastModified && notModifiedSince(headers['if-modified-since'], lastModified)) return 'not-modified';
  return 'proceed';
}

/** True when If-Modified-Since says the client's copy is current (only consulted without If-None-Match). */
export function notModifiedSince(header: string | undefined, lastModified: Date): boolean {
  const since = httpDateSeconds(header);
  return since !== undefined && seconds(lastModified) <= since;
}

export type RangeDecision =
  /** no usable Range: send the whole representation */
  | { kind: 'full' }
  /** one satisfiable range, inclusive bounds */
  | { kind: 'partial'; start: number; end: number }
  | { kind: 'unsatisfiable' };

const BYTE_RANGE = /^(\d*)-(\d*)$/;

/** What a valid Range asks of an empty representation, which has no byte to select. */
export type EmptyRange = 'send-whole' | 'unsatisfiable';

/**
 * Decide a single `Range: bytes=…` request against a representation of `size` bytes.
 * Syntax we do not understand and multi-range requests are ignored (a server MAY
 * ignore Range, RFC 9110 §14.2), which answers them with the full body. A valid range of
 * an empty representation is answered as `empty` says: the staging server sends an empty
 * blob whole (200), the sample feed's upstream answers 416 as a strict origin does.
 */
export function decideRange(
  header: string | undefined,
  size: number,
  empty: EmptyRange = 'send-whole',
): RangeDecision {
  if (header === undefined) return { kind: 'full' };
  const match = /^\s*bytes\s*=\s*(.*)$/i.exec(header);
  if (!match?.[1]) return { kind: 'full' };
  const specs = match[1].split(',').filter((spec) => spec.trim() !== '');
  if (specs.length !== 1) return { kind: 'full' };
  const spec = BYTE_RANGE.exec((specs[0] ?? '').trim());
  if (!spec) return { kind: 'full' };
  const [, first = '', last = ''] = spec;
  if (first === '' && last === '') return { kind: 'full' };
  if (first !== '' && last !== '' && Number(last) < Number(first)) return { kind: 'full' }; // invalid spec: ignore
  if (size === 0) return empty === 'send-whole' ? { kind: 'full' } : { kind: 'unsatisfiable' };
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0) return { kind: 'unsatisfiable' };
    return { kind: 'partial', start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  if (start >= size) return { kind: 'unsatisfiable' };
  return { kind: 'partial', start, end: last === '' ? size - 1 : Math.min(Number(last), size - 1) };
}
