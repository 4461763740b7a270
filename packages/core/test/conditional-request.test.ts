// RFC 9110 §13 and §14 as the staging server and the sample feed's upstream answer them.
import t from 'tap';
import {
  decideRange,
  evaluatePreconditions,
  ifMatchFails,
  ifNoneMatchMatches,
  ifRangeAllowsRange,
  notModifiedSince,
  type ConditionalHeaders,
  type Precondition,
} from '../src/conditional-request.js';

const ETAG = '"abc"';

t.test('If-None-Match: weak comparison over lists and *', async (t) => {
  t.ok(ifNoneMatchMatches('"abc"', ETAG));
  t.ok(ifNoneMatchMatches('W/"abc"', ETAG));
  t.ok(ifNoneMatchMatches('"x", W/"abc" , "y"', ETAG));
  t.ok(ifNoneMatchMatches('*', ETAG));
  t.notOk(ifNoneMatchMatches('"abcd"', ETAG));
  t.notOk(ifNoneMatchMatches('abc', ETAG), 'unquoted is not an entity tag');
  t.notOk(ifNoneMatchMatches(undefined, ETAG));
});

t.test('If-Range: strong comparison or the exact date', async (t) => {
  const lastModified = new Date('2026-11-24T10:00:00Z');
  t.ok(ifRangeAllowsRange(undefined, ETAG, lastModified));
  t.ok(ifRangeAllowsRange('"abc"', ETAG, lastModified));
  t.notOk(ifRangeAllowsRange('W/"abc"', ETAG, lastModified), 'a weak tag never matches');
  t.notOk(ifRangeAllowsRange('"other"', ETAG, lastModified));
  t.ok(ifRangeAllowsRange(lastModified.toUTCString(), ETAG, lastModified));
  t.notOk(ifRangeAllowsRange('Mon, 23 Nov 2026 10:00:00 GMT', ETAG, lastModified));
  t.notOk(ifRangeAllowsRange('garbage', ETAG, lastModified));
});

t.test('If-Modified-Since', async (t) => {
  const lastModified = new Date('2026-11-24T10:00:00.500Z');
  t.ok(notModifiedSince('Tue, 24 Nov 2026 10:00:00 GMT', lastModified));
  t.notOk(notModifiedSince('Tue, 24 Nov 2026 09:59:59 GMT', lastModified));
  t.notOk(notModifiedSince('not a date', lastModified));
});

t.test('If-Match: strong comparison; If-Unmodified-Since; the order of RFC 9110 §13.2.2', async (t) => {
  t.notOk(ifMatchFails(undefined, ETAG));
  t.notOk(ifMatchFails('"abc"', ETAG));
  t.notOk(ifMatchFails('"x", "abc"', ETAG));
  t.notOk(ifMatchFails('*', ETAG));
  t.ok(ifMatchFails('W/"abc"', ETAG), 'a weak tag never matches');
  t.ok(ifMatchFails('"abcd"', ETAG));
  t.ok(ifMatchFails('abc', ETAG), 'unquoted is not an entity tag');
  const lastModified = new Date('2026-11-24T10:00:00.500Z');
  const current = { etag: ETAG, lastModified };
  const at = 'Tue, 24 Nov 2026 10:00:00 GMT';
  const before = 'Tue, 24 Nov 2026 09:59:59 GMT';
  t.equal(evaluatePreconditions({}, current), 'proceed');
  t.equal(evaluatePreconditions({ 'if-unmodified-since': at }, current), 'proceed');
  t.equal(evaluatePreconditions({ 'if-unmodified-since': before }, current), 'failed');
  t.equal(evaluatePreconditions({ 'if-match': ETAG, 'if-unmodified-since': before }, current), 'proceed');
  t.equal(evaluatePreconditions({ 'if-match': '"x"', 'if-none-match': ETAG }, current), 'failed');
  t.equal(evaluatePreconditions({ 'if-none-match': ETAG }, current), 'not-modified');
  t.equal(evaluatePreconditions({ 'if-modified-since': at }, current), 'not-modified');
  t.equal(evaluatePreconditions({ 'if-none-match': '"x"', 'if-modified-since': at }, current), 'proceed');
  t.equal(
    evaluatePreconditions({ 'if-unmodified-since': before, 'if-modified-since': at }, { etag: ETAG }),
    'proceed',
    'no Last-Modified: the date conditions do not apply',
  );
});

t.test('Range decisions', async (t) => {
  t.same(decideRange(undefined, 10), { kind: 'full' });
  t.same(decideRange('bytes=0-0', 10), { kind: 'partial', start: 0, end: 0 });
  t.same(decideRange('bytes=5-', 10), { kind: 'partial', start: 5, end: 9 });
  t.same(decideRange('bytes=-4', 10), { kind: 'partial', start: 6, end: 9 });
  t.same(decideRange('bytes=-40', 10), { kind: 'partial', start: 0, end: 9 });
  t.same(decideRange('bytes=8-100', 10), { kind: 'partial', start: 8, end: 9 });
  t.same(decideRange('BYTES = 1-2', 10), { kind: 'partial', start: 1, end: 2 });
  t.same(decideRange('bytes=10-', 10), { kind: 'unsatisfiable' });
  t.same(decideRange('bytes=-0', 10), { kind: 'unsatisfiable' });
  t.same(decideRange('bytes=5-3', 10), { kind: 'full' }, 'invalid: ignored');
  t.same(decideRange('bytes=0-1,3-4', 10), { kind: 'full' }, 'multiple: ignored');
  t.same(decideRange('items=0-1', 10), { kind: 'full' });
  t.same(decideRange('bytes=abc', 10), { kind: 'full' });
  t.same(decideRange('bytes=0-1', 0), { kind: 'full' }, 'empty blob: whole');
  t.same(decideRange('bytes=-0', 0), { kind: 'full' }, 'empty blob: whole');
  for (const ignored of ['bytes=-', 'nonsense', 'bytes=a-b', 'bytes=9-1']) {
    t.same(decideRange(ignored, 100), { kind: 'full' }, ignored);
  }
});

t.test('Range of an empty representation, for an origin that answers it 416', async (t) => {
  for (const range of ['bytes=0-', 'bytes=-5', 'bytes=-0', 'bytes=3-9']) {
    t.same(decideRange(range, 0, 'unsatisfiable'), { kind: 'unsatisfiable' }, range);
  }
  for (const ignored of ['bytes=-', 'bytes=9-1', 'bytes=0-1,3-4', 'items=0-1']) {
    t.same(decideRange(ignored, 0, 'unsatisfiable'), { kind: 'full' }, ignored);
  }
  t.same(decideRange('bytes=0-', 10, 'unsatisfiable'), { kind: 'partial', start: 0, end: 9 });
});

t.test('the precedence of RFC 9110 §13.2.2, one row per case', async (t) => {
  const lastModified = new Date('2026-11-24T10:00:00Z');
  const current = { etag: ETAG, lastModified };
  const at = lastModified.toUTCString();
  const later = 'Wed, 25 Nov 2026 10:00:00 GMT';
  const earlier = 'Mon, 23 Nov 2026 10:00:00 GMT';
  const rows: [ConditionalHeaders, Precondition, string][] = [
    [{}, 'proceed', 'no condition'],
    // step 1: If-Match, strong comparison
    [{ 'if-match': ETAG }, 'proceed', 'If-Match the current tag'],
    [{ 'if-match': '*' }, 'proceed', 'If-Match *'],
    [{ 'if-match': `W/${ETAG}` }, 'failed', 'If-Match with a weak tag'],
    [{ 'if-match': '"x"', 'if-none-match': ETAG }, 'failed', 'If-Match fails before If-None-Match is read'],
    // step 2: If-Unmodified-Since, only without If-Match
    [{ 'if-unmodified-since': earlier }, 'failed', 'modified after the date'],
    [{ 'if-unmodified-since': at }, 'proceed', 'not modified after the date'],
    [{ 'if-unmodified-since': 'garbage' }, 'proceed', 'a bad date is ignored'],
    [
      { 'if-match': ETAG, 'if-unmodified-since': earlier },
      'proceed',
      'If-Match overrides If-Unmodified-Since',
    ],
    // step 3: If-None-Match, weak comparison
    [{ 'if-none-match': ETAG }, 'not-modified', 'If-None-Match the current tag'],
    [{ 'if-none-match': `W/${ETAG}` }, 'not-modified', 'If-None-Match a weak tag'],
    [{ 'if-none-match': '*' }, 'not-modified', 'If-None-Match *'],
    [{ 'if-none-match': '"x", "y"' }, 'proceed', 'If-None-Match other tags'],
    [
      { 'if-none-match': '"x"', 'if-modified-since': later },
      'proceed',
      'If-None-Match overrides If-Modified-Since',
    ],
    [{ 'if-match': ETAG, 'if-none-match': ETAG }, 'not-modified', 'both pass step 1, step 3 answers'],
    // step 4: If-Modified-Since, only without If-None-Match
    [{ 'if-modified-since': at }, 'not-modified', 'not modified since'],
    [{ 'if-modified-since': later }, 'not-modified', 'a date after Last-Modified'],
    [{ 'if-modified-since': earlier }, 'proceed', 'modified since'],
    [{ 'if-modified-since': 'garbage' }, 'proceed', 'a bad date is ignored'],
    [{ 'if-unmodified-since': earlier, 'if-modified-since': at }, 'failed', '412 outranks 304'],
  ];
  for (const [headers, expected, name] of rows)
    t.equal(evaluatePreconditions(headers, current), expected, name);
});

t.test('If-Range decides whether a Range applies, after the preconditions', async (t) => {
  const lastModified = new Date('2026-11-24T10:00:00Z');
  const range = (ifRange: string | undefined) =>
    decideRange(ifRangeAllowsRange(ifRange, ETAG, lastModified) ? 'bytes=2-' : undefined, 10);
  t.same(range(undefined), { kind: 'partial', start: 2, end: 9 }, 'no If-Range: 206');
  t.same(range(ETAG), { kind: 'partial', start: 2, end: 9 }, 'the same strong tag: 206');
  t.same(range(`W/${ETAG}`), { kind: 'full' }, 'a weak tag: the whole 200');
  t.same(range('"changed"'), { kind: 'full' }, 'another tag: the whole 200');
  t.same(range(lastModified.toUTCString()), { kind: 'partial', start: 2, end: 9 }, 'the exact date: 206');
});
