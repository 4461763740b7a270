import t from 'tap';
import {
  decideRange,
  evaluatePreconditions,
  ifMatchFails,
  ifNoneMatchMatches,
  ifRangeAllowsRange,
  notModifiedSince,
} from '../src/http/conditional.js';
import { acceptsGzip } from '../src/http/content-coding.js';
import { csvCell, toCsv } from '../src/http/csv.js';
import { redactUrl } from '../src/http/routes/status.js';

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
});

t.test('Accept-Encoding', async (t) => {
  t.ok(acceptsGzip('gzip'));
  t.ok(acceptsGzip('deflate, gzip;q=0.5'));
  t.ok(acceptsGzip('*'));
  t.ok(acceptsGzip('x-gzip'));
  t.notOk(acceptsGzip(undefined));
  t.notOk(acceptsGzip('identity'));
  t.notOk(acceptsGzip('gzip;q=0'));
  t.notOk(acceptsGzip('gzip;q=0.000, *'));
  t.notOk(acceptsGzip('*;q=0'));
  t.notOk(acceptsGzip('gzip;q=0.5, identity;q=1'), 'identity ranked higher');
  t.notOk(acceptsGzip('*;q=0.8, gzip;q=0.5'), "identity by *'s rank");
  t.ok(acceptsGzip('GZIP;Q=0.5, identity;q=0.5'), 'a tie: gzip');
});

t.test('CSV quoting and formula neutralisation', async (t) => {
  t.equal(csvCell('plain'), '"plain"', 'every field is quoted (a ; locale splits unquoted ones)');
  t.equal(csvCell('a,b'), '"a,b"');
  t.equal(csvCell('a;b'), '"a;b"');
  t.equal(csvCell('say "hi"'), '"say ""hi"""');
  t.equal(csvCell('two\nlines'), '"two\nlines"');
  t.equal(csvCell('=1+1'), `"'=1+1"`);
  t.equal(csvCell('@SUM(A1)'), `"'@SUM(A1)"`);
  t.equal(csvCell('=HYPERLINK("http://x")'), `"'=HYPERLINK(""http://x"")"`);
  t.equal(csvCell('+1'), `"'+1"`);
  t.equal(csvCell('-1+2'), `"'-1+2"`);
  t.equal(csvCell('\tx'), `"'\tx"`);
  t.equal(csvCell('\rx'), `"'\rx"`);
  t.equal(csvCell(' =1'), '" =1"', 'only the first character counts');
  t.equal(csvCell(-3), '"-3"', 'numbers are not text: quoted, never prefixed');
  t.equal(csvCell(true), '"true"');
  t.equal(csvCell(null), '""');
  t.equal(csvCell(''), '""');
  t.equal(toCsv(['a', 'b'], [[1, 'x,y']]), '"a","b"\r\n"1","x,y"\r\n');
});

t.test('redactUrl drops credentials', async (t) => {
  t.equal(redactUrl('https://u:p@feeds.example.invalid/x/'), 'https://feeds.example.invalid/x/');
  t.equal(redactUrl('file:///media/feed/'), 'file:///media/feed/');
});
