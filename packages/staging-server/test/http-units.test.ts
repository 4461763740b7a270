import t from 'tap';
import { acceptsGzip } from '../src/http/content-coding.js';
import { csvCell, toCsv } from '../src/http/csv.js';
import { redactUrl } from '../src/http/routes/status.js';

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
