import t from 'tap';
import { acceptsGzip } from '../src/http/content-coding.js';
import { csvCell, toCsv } from '../src/http/csv.js';
import { defineHttpError, HttpError, HttpErrors } from '../src/http/errors.js';
import { redactUrl } from '../src/http/routes/status.js';

t.test('HTTP errors: declared once with @fastify/error, coded, with their headers', async (t) => {
  const range = HttpErrors.RANGE_NOT_SATISFIABLE(10);
  t.ok(range instanceof HttpError, 'ours, for the error handler');
  t.ok(range instanceof Error);
  t.match(range, {
    code: 'PB_ERR_HTTP_RANGE_NOT_SATISFIABLE',
    statusCode: 416,
    message: "the requested range lies outside the blob's 10 bytes",
    headers: { 'content-range': 'bytes */10' },
  });
  t.match(HttpErrors.METHOD_NOT_ALLOWED('PUT', '/v1/catalog', ['GET', 'HEAD']), {
    message: 'PUT is not allowed on /v1/catalog: it answers GET, HEAD',
    headers: { allow: 'GET, HEAD' },
  });
  const quota = HttpErrors.EVENT_QUOTA('web-01', 5000, 60);
  t.equal(
    quota.message,
    'host "web-01" has reported its 5000 new events for this 24-hour window (reports.hostEventsPerDay); ' +
      'send the report again in 60 s [PB_ERR_HTTP_EVENT_QUOTA]',
  );
  t.same(quota.headers, { 'retry-after': '60' });
  const forbidden = HttpErrors.FORBIDDEN('a reason with %s and 100%% in it');
  t.equal(forbidden.message, 'a reason with %s and 100%% in it', 'an argument is never read as a template');
  t.equal(forbidden.statusCode, 403);
  t.equal(HttpErrors.NO_CATALOG().headers, undefined, 'no extra headers unless declared');
  const Teapot = defineHttpError<[what: string]>('PB_ERR_HTTP_TEAPOT', 418, '%s is a teapot');
  t.match(new Teapot('this'), { code: 'PB_ERR_HTTP_TEAPOT', statusCode: 418, message: 'this is a teapot' });
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
  t.ok(acceptsGzip('identity;q=0.9, *'), "gzip by *'s rank, above identity's own");
  t.ok(acceptsGzip('*, identity;q=0'), 'identity refused by name, gzip by *');
  t.notOk(acceptsGzip('x-gzip;q=0, *'), 'x-gzip names gzip too: * does not override it');
  t.ok(acceptsGzip('br, gzip;q=0.9'), 'a coding we do not make is ignored');
  t.notOk(acceptsGzip(''), 'an empty header asks for no coding');
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
