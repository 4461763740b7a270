import t from 'tap';
import { isWithinRoot, resolveRequestPath } from '../src/request-path.js';

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
