import t from 'tap';
import { evaluatePreconditions, ifRangeMatches, parseRange } from '../src/http-conditionals.js';
import { isWithinRoot, resolveRequestPath } from '../src/request-path.js';

const validators = { etag: '"abc"', lastModifiedSeconds: 1_700_000_000 };
const date = new Date(validators.lastModifiedSeconds * 1000).toUTCString();

t.test('parseRange', async (t) => {
  t.same(parseRange('bytes=0-9', 100), { kind: 'partial', range: { start: 0, end: 9 } });
  t.same(parseRange('bytes=90-', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  t.same(parseRange('bytes=-10', 100), { kind: 'partial', range: { start: 90, end: 99 } });
  t.same(parseRange('bytes=-1000', 100), { kind: 'partial', range: { start: 0, end: 99 } });
  t.same(parseRange('bytes=50-5000', 100), { kind: 'partial', range: { start: 50, end: 99 } });
  t.same(parseRange('bytes=100-', 100), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=-0', 100), { kind: 'unsatisfiable' });
  t.same(parseRange('bytes=0-', 0), { kind: 'unsatisfiable' });
  for (const ignored of ['bytes=9-1', 'bytes=0-1,3-4', 'items=0-1', 'bytes=-', 'bytes=a-b', 'nonsense']) {
    t.same(parseRange(ignored, 100), { kind: 'full' }, ignored);
  }
});

t.test('ifRangeMatches compares strongly', async (t) => {
  t.ok(ifRangeMatches('"abc"', validators));
  t.notOk(ifRangeMatches('W/"abc"', validators));
  t.notOk(ifRangeMatches('"abd"', validators));
  t.ok(ifRangeMatches(date, validators));
  t.notOk(ifRangeMatches(new Date((validators.lastModifiedSeconds + 1) * 1000).toUTCString(), validators));
  t.notOk(ifRangeMatches('not a date', validators));
});

t.test('evaluatePreconditions', async (t) => {
  t.equal(evaluatePreconditions({}, validators), undefined);
  t.equal(evaluatePreconditions({ 'if-none-match': '"abc"' }, validators), 304);
  t.equal(evaluatePreconditions({ 'if-none-match': 'W/"abc"' }, validators), 304);
  t.equal(evaluatePreconditions({ 'if-none-match': '"x", "y"' }, validators), undefined);
  t.equal(evaluatePreconditions({ 'if-modified-since': date }, validators), 304);
  t.equal(evaluatePreconditions({ 'if-modified-since': 'garbage' }, validators), undefined);
  t.equal(evaluatePreconditions({ 'if-match': 'W/"abc"' }, validators), 412);
  t.equal(evaluatePreconditions({ 'if-match': '*' }, validators), undefined);
  t.equal(evaluatePreconditions({ 'if-unmodified-since': new Date(0).toUTCString() }, validators), 412);
});

t.test('resolveRequestPath and isWithinRoot', async (t) => {
  t.same(resolveRequestPath('/srv/feed', '/files/a.sh?x=1'), { ok: true, path: '/srv/feed/files/a.sh' });
  t.same(resolveRequestPath('/srv/feed', '/files%2Fa.sh'), { ok: true, path: '/srv/feed/files/a.sh' });
  t.match(resolveRequestPath('/srv/feed', '/'), { ok: false, status: 404 });
  for (const bad of ['/../x', '/%2e%2E/x', '/a\\b', '/a%5Cb', '/a%00', '/%', 'x', '*']) {
    t.match(resolveRequestPath('/srv/feed', bad), { ok: false, status: 400 }, bad);
  }
  t.ok(isWithinRoot('/srv/feed', '/srv/feed/a'));
  t.ok(isWithinRoot('/srv/feed', '/srv/feed'));
  t.notOk(isWithinRoot('/srv/feed', '/srv/feed-other/a'), 'prefix checked with the separator');
  t.notOk(isWithinRoot('/srv/feed', '/srv'));
});
