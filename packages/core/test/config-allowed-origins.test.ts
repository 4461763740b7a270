// upstream.allowedOrigins (CONTRACT §4, §5): origins patch files may come from besides the
// feed's own. Loaded as normalised origins; anything that is not an origin stops the program.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import t from 'tap';
import { loadServerConfig, normaliseOrigin } from '../src/config.js';
import { ErrorCodes, PatchbayError } from '../src/errors.js';

function load(dir: string, allowedOrigins: unknown) {
  const file = join(dir, 'server.json');
  writeFileSync(file, JSON.stringify({ upstream: { allowedOrigins } }));
  return loadServerConfig({ file, cwd: dir });
}

t.test('default [], origins normalised as URL.origin writes them', async (t) => {
  const dir = t.testdir({});
  t.same(loadServerConfig({ cwd: dir }).upstream.allowedOrigins, []);
  t.same(
    load(dir, ['https://cdn.vendor.example', 'HTTPS://Mirror.Example:443/', 'http://10.0.0.5:8080']).upstream
      .allowedOrigins,
    ['https://cdn.vendor.example', 'https://mirror.example', 'http://10.0.0.5:8080'],
  );
  const overridden = loadServerConfig({
    cwd: dir,
    overrides: { upstream: { allowedOrigins: ['https://a.example'] } },
  });
  t.same(overridden.upstream.allowedOrigins, ['https://a.example']);
});

t.test('anything that is not an http(s) origin is PB_ERR_CONFIG naming the entry', async (t) => {
  const dir = t.testdir({});
  for (const bad of [
    'https://cdn.vendor.example/files/',
    'file:///srv/feed',
    'ftp://cdn.example',
    'https://user:pw@cdn.example',
    'https://cdn.example?x=1',
    'cdn.example',
    '',
  ]) {
    try {
      load(dir, ['https://ok.example', bad]);
      t.fail(`accepted ${JSON.stringify(bad)}`);
    } catch (err) {
      t.ok(err instanceof PatchbayError, String(err));
      t.equal((err as PatchbayError).code, ErrorCodes.CONFIG, bad);
      t.match((err as Error).message, /upstream\.allowedOrigins/, bad);
    }
  }
  t.throws(() => load(dir, 'https://cdn.example'), { code: ErrorCodes.CONFIG }, 'a string, not an array');
  t.equal(normaliseOrigin('https://cdn.example/'), 'https://cdn.example');
  t.equal(normaliseOrigin('https://cdn.example/x'), null);
});
