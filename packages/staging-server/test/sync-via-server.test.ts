// Where `patchbay-server sync` finds the running server: the config's listen, a wildcard
// host reached over loopback; listen.port 0 is refused as unknowable (the end-to-end flow
// against a real server is test/e2e-sync-via-server.test.ts).
import t from 'tap';
import { ErrorCodes, isPatchbayError, type ServerConfig } from '@patchbay/core';
import { serverBaseUrl, syncViaRunningServer } from '../src/sync/sync-via-server.js';

const listen = (host: string, port = 8080, tls = false): ServerConfig['listen'] => ({
  host,
  port,
  requestTimeoutSeconds: 30,
  ...(tls ? { tls: { cert: '/c.pem', key: '/k.pem' } } : {}),
});

t.test('the address of listen', async (t) => {
  t.equal(serverBaseUrl(listen('0.0.0.0')), 'http://127.0.0.1:8080');
  t.equal(serverBaseUrl(listen('::')), 'http://[::1]:8080');
  t.equal(serverBaseUrl(listen('127.0.0.1', 9000)), 'http://127.0.0.1:9000');
  t.equal(serverBaseUrl(listen('::1', 9000, true)), 'https://[::1]:9000');
});

t.test('listen.port 0: the running server cannot be found', async (t) => {
  const config = { dataDir: '/d', listen: listen('127.0.0.1', 0), auth: {} } as unknown as ServerConfig;
  const err = await syncViaRunningServer(config).catch((e: unknown) => e);
  t.ok(isPatchbayError(err, ErrorCodes.CONFIG));
  t.match((err as Error).message, /listen\.port is 0/);
});
