// `serve`'s app as fastify plugins (src/lifecycle/serve-app.ts), real parts on a temp data
// directory over loopback: the close order (read from the plugins' debug log lines, and from
// the lock file on disk), a sync in flight ended before the mirror counts as closed, and a
// start that fails closing what it had opened.
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t, { type Test } from 'tap';
import { pino, type Logger } from 'pino';
import { loadServerConfig, type ServerConfig } from '@patchbay/core';
import { buildServeApp } from '../src/lifecycle/serve-app.js';
import type { MirrorService, SyncEnded } from '../src/mirror.js';
import { LOCK_FILE_NAME } from '../src/store/data-dir-lock.js';
import { startUpstream, type Upstream } from './fixtures/sync-upstream.js';

interface LogLine {
  msg: string;
  part?: string;
  /** set by the test: whether the data-dir lock file existed when the line was written */
  lockHeld?: boolean;
}

/** A debug logger whose lines (in write order) the test reads. */
function recordingLogger(dataDir: string): { logger: Logger; lines: LogLine[] } {
  const lines: LogLine[] = [];
  const write = (text: string): void => {
    const line = JSON.parse(text) as LogLine;
    lines.push({ ...line, lockHeld: existsSync(join(dataDir, LOCK_FILE_NAME)) });
  };
  return { logger: pino({ level: 'debug' }, { write }), lines };
}

function serveConfig(dataDir: string, upstreamUrl: string): ServerConfig {
  return loadServerConfig({
    overrides: {
      dataDir,
      listen: { host: '127.0.0.1', port: 0 },
      upstream: { url: upstreamUrl, retries: 0, timeoutSeconds: 60 },
      schedule: { sync: '0 * * * *', gc: null, prune: '0 3 * * *' },
      log: { level: 'debug' },
    },
  });
}

/** An upstream whose feed.json is held until the test ends: a sync started now stays in flight. */
async function hangingUpstream(t: Test): Promise<Upstream> {
  const upstream = await startUpstream(t.testdir());
  let release = (): void => undefined;
  upstream.faults.set('/feed.json', { hold: new Promise<void>((resolve) => (release = resolve)) });
  t.teardown(async () => {
    release();
    await upstream.close();
  });
  return upstream;
}

async function until(what: string, check: () => boolean, limitMs = 20_000): Promise<void> {
  const deadline = Date.now() + limitMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${limitMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

t.test('close: schedules, HTTP, the mirror after its sync, notifier, report store, lock last', async (t) => {
  const dataDir = join(t.testdir(), 'data');
  const upstream = await hangingUpstream(t);
  const { logger, lines } = recordingLogger(dataDir);
  const app = await buildServeApp(serveConfig(dataDir, upstream.url), logger);
  const mirror = app.getDecorator<MirrorService>('mirror');
  const ended: SyncEnded[] = [];
  mirror.events.on('sync:end', (e) => {
    ended.push(e);
    lines.push({ msg: 'sync:end' });
  });
  t.ok(existsSync(join(dataDir, LOCK_FILE_NAME)), 'the data-dir lock is taken while the app is open');

  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  await until('the start-up sync to ask upstream for feed.json', () =>
    upstream.requests.includes('/feed.json'),
  );
  t.ok(mirror.isSyncing(), 'a sync is in flight');
  t.equal((await fetch(`${base}/readyz`)).status, 503, 'the app serves (nothing published yet)');
  t.ok(app.getDecorator<() => Date | null>('nextSyncAt')(), 'the sync schedule runs');

  await app.close();

  const order = lines
    .filter((l) => l.msg === 'closed' || l.msg === 'stopped' || l.msg === 'sync:end')
    .map((l) => l.part ?? l.msg);
  const at = (part: string): number => order.indexOf(part);
  t.same(
    order.filter((p) => p !== 'sync:end' && p !== 'http'),
    ['schedules', 'mirror', 'notifier', 'report store', 'data-dir lock', 'leadership'],
    'the parts close in reverse registration order',
    { order },
  );
  t.ok(at('schedules') < at('http'), 'schedules stop before the HTTP side has closed', { order });
  t.ok(at('http') < at('mirror'), 'the HTTP side closes before the mirror counts as closed', { order });
  t.ok(at('sync:end') >= 0 && at('sync:end') < at('mirror'), 'the sync in flight ended first', { order });
  t.equal(ended.length, 1, 'one sync ended');
  t.equal(ended[0]?.report.outcome, 'failed', 'aborted: it failed, published nothing');
  t.equal(ended[0]?.after, null, 'no catalog is served');
  const storeClosed = lines.find((l) => l.msg === 'closed' && l.part === 'report store');
  t.equal(storeClosed?.lockHeld, true, 'the lock is still held once the report store has closed');
  t.notOk(existsSync(join(dataDir, LOCK_FILE_NAME)), 'and released at the end');
});

t.test('a start that fails closes what it had opened (the lock is released)', async (t) => {
  const dataDir = join(t.testdir(), 'data');
  // The mirror cannot open: its signing key file holds no key.
  await mkdir(join(dataDir, 'keys'), { recursive: true, mode: 0o700 });
  await writeFile(join(dataDir, 'keys', 'mirror.key'), 'not a key\n', { mode: 0o600 });
  const { logger, lines } = recordingLogger(dataDir);
  await t.rejects(buildServeApp(serveConfig(dataDir, 'http://127.0.0.1:9/'), logger), /key/);
  t.same(
    lines.filter((l) => l.msg === 'closed').map((l) => l.part),
    ['notifier', 'report store', 'data-dir lock', 'leadership'],
    'what opened before the mirror is closed, in reverse order',
  );
  t.notOk(existsSync(join(dataDir, LOCK_FILE_NAME)), 'the data-dir lock is released');
});
