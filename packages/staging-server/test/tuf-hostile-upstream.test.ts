// The staging server as a TUF client of a hostile upstream, over loopback: a timestamp that
// never ends is cut at tuf-js's length limit and its connection closed (the sync fails saying
// why, publishes nothing, and the server still closes); a targets role re-signed by a key the
// root does not give it is refused.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import t from 'tap';
import { createSigner, generateEd25519KeyPair, metadataFileName } from '@patchbay/core/tuf';
import { Metadata, MetadataKind } from '@tufjs/models';
import { ensureOnlineKey } from '../src/tuf/online-key.js';
import { buildUpstream, newUpstreamKeys, serveDirectory } from './fixtures/tuf-upstream.js';
import { startTufServer, tufServerConfig } from './fixtures/tuf-server.js';

t.test('an endless timestamp is cut off; the sync fails, nothing is published', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  let endlessBytes = 0;
  let markClosed: () => void = () => undefined;
  const endlessClosed = new Promise<void>((resolve) => (markClosed = resolve));
  const hostile = createServer((req, res) => {
    const path = new URL(req.url ?? '/', 'http://x').pathname;
    if (path !== '/metadata/timestamp.json') {
      readFile(join(upstreamDir, path)).then(
        (bytes) => res.writeHead(200, { 'content-length': bytes.length }).end(bytes),
        () => res.writeHead(404).end(),
      );
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const pump = (): void => {
      let more = true;
      while (!res.destroyed && more) {
        more = res.write(chunk);
        endlessBytes += chunk.length;
      }
      if (!res.destroyed) res.once('drain', pump);
    };
    res.on('close', () => {
      res.removeAllListeners('drain');
      markClosed();
    });
    pump();
  });
  await new Promise<void>((resolve) => hostile.listen(0, '127.0.0.1', resolve));
  t.teardown(() => {
    hostile.closeAllConnections();
    return new Promise<void>((resolve) => hostile.close(() => resolve()));
  });
  const upstreamUrl = `http://127.0.0.1:${(hostile.address() as AddressInfo).port}/`;
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'failed');
  t.match(report.error ?? '', /length/i, 'the error names the length limit');
  t.notOk(report.published, 'nothing published');
  t.ok(endlessBytes < 16 * 1024 * 1024, `cut off early (${endlessBytes} bytes sent)`);
  // the connection ends because the server hung up (a timer only bounds a failing test)
  const closed = await Promise.race([
    endlessClosed.then(() => true),
    new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 10_000).unref()),
  ]);
  t.ok(closed, 'the endless connection was closed by the server, not left reading');
  const res = await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`);
  t.equal(res.status, 404, 'no timestamp is served');
});

t.test('a product role re-signed by a key its delegation does not name is refused', async (t) => {
  const root = t.testdir();
  const dataDir = join(root, 'data');
  const upstreamDir = join(root, 'upstream');
  const { key: online } = await ensureOnlineKey({ dataDir });
  await buildUpstream(upstreamDir, newUpstreamKeys(), { onlineKey: online.publicKeyPem });
  // the role file changed and re-signed by a key of the attacker's, under the same name
  const file = join(upstreamDir, 'metadata', metadataFileName('arcserve-backup~19.0', 1));
  const doc = JSON.parse(await readFile(file, 'utf8')) as { signed: Record<string, unknown> };
  const forged = Metadata.fromJSON(MetadataKind.Targets, { signed: doc.signed, signatures: [] } as never);
  forged.sign(createSigner(generateEd25519KeyPair().privateKey));
  await writeFile(file, JSON.stringify(forged.toJSON()));
  const upstreamUrl = await serveDirectory(t, upstreamDir);
  const server = await startTufServer(
    t,
    tufServerConfig(dataDir, upstreamUrl, join(upstreamDir, 'metadata', '1.root.json')),
  );
  const report = await server.mirror.startSync();
  t.equal(report.outcome, 'failed');
  t.match(report.error ?? '', /arcserve-backup~19\.0/, 'names the role');
  const res = await fetch(`${server.base}/v1/tuf/metadata/timestamp.json`);
  t.equal(res.status, 404, 'nothing published');
});
