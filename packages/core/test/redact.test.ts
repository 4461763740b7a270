// redactCredentials: every URL's user:password gone, wherever it sits in a text; and the
// logger's safety net applies it to every line written.
import t from 'tap';
import { redactCredentials } from '../src/redact.js';

t.test('a bare URL loses its user and password, nothing else', async (t) => {
  t.equal(redactCredentials('https://u:p@feeds.example.invalid/x/'), 'https://feeds.example.invalid/x/');
  t.equal(redactCredentials('http://only-user@127.0.0.1:8080/a?b=c'), 'http://127.0.0.1:8080/a?b=c');
  t.equal(redactCredentials('http://u:p%40ss@[::1]:80/'), 'http://[::1]:80/');
  t.equal(redactCredentials('file:///media/feed/'), 'file:///media/feed/');
  t.equal(
    redactCredentials('https://feeds.example.invalid/x@y'),
    'https://feeds.example.invalid/x@y',
    'an @ in the path stays',
  );
});

t.test('URLs inside messages, log lines and mail bodies', async (t) => {
  t.equal(
    redactCredentials('GET https://acct:s3cret@h.example/metadata/timestamp.json answered HTTP 401'),
    'GET https://h.example/metadata/timestamp.json answered HTTP 401',
  );
  t.equal(
    redactCredentials('{"url":"http://a:b@h/f","to":"ops@example.test","next":"smtp://x:y@mail:25"}'),
    '{"url":"http://h/f","to":"ops@example.test","next":"smtp://mail:25"}',
  );
  t.equal(
    redactCredentials('mail ops@example.test about http://h/x'),
    'mail ops@example.test about http://h/x',
  );
});
