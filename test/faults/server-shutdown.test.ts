// Graceful shutdown of `patchbay-server serve` on SIGTERM (issue 5):
//   - a client mid-download of a large blob, reading slowly, still gets the whole body and it
//     hashes right; a client that stopped reading is cut off once the grace (10 s,
//     SHUTDOWN_GRACE_MS in packages/staging-server/src/shutdown.ts) is over;
//   - new connections are refused as soon as the signal is handled;
//   - a running sync stops at a consistent point: nothing half published, partial downloads
//     kept, and the next start resumes them (fetching only the missing bytes);
//   - the process exits 0 within a bound.
import t from 'tap';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { readdir, stat, writeFile } from 'node:fs/promises';
import { request, type IncomingMessage } from 'node:http';
import { connect } from 'node:net';
import path from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { SEED, seededRandom } from './figures.js';
import { newFeedModel, seededBytes, writeFeed } from './server-crash-feed.js';
import { leftoverFiles, mirrorPublicKey, readPublished, signatureVerifies } from './server-crash-disk.js';
import { BIN, runJson, startListening, waitFor, type LongRunning } from '../helpers/processes.js';
import { startUpstream } from '../helpers/stack.js';

const BLOB_BYTES = 8 * 1024 * 1024;
/** upstream pace per response: an 8 MB file takes under 3 s, long enough to stop a sync in it */
const THROTTLE_BPS = 3_000_000;
/** documented grace (shutdown.ts) plus generous margin for a loaded machine */
const GRACE_MS = 10_000;
const EXIT_BOUND_MS = GRACE_MS + 20_000;

interface SyncJson {
  outcome: string;
  published: boolean;
  bytesFetched: number;
  filesFetched: number;
  upstreamSequence: number | null;
}

function getJson<T>(url: string): Promise<T> {
  return new Promise((resolve, reject) => {
    request(url, { agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        try {
          resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')) as T);
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
      });
    })
      .on('error', reject)
      .end();
  });
}

/** GET on a connection of its own; resolves once the response headers are in. */
async function openDownload(url: string): Promise<IncomingMessage> {
  const req = request(url, { agent: false });
  req.end();
  const [res] = (await once(req, 'response')) as [IncomingMessage];
  return res;
}

/** A sink that reads at most `bytesPerSecond`, hashing what it gets. */
function slowSink(bytesPerSecond: number, onBytes: (n: number) => void): Writable & { digest(): string } {
  const hash = createHash('sha256');
  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _encoding, callback) {
      hash.update(chunk);
      onBytes(chunk.length);
      setTimeout(callback, (chunk.length / bytesPerSecond) * 1000);
    },
  });
  return Object.assign(sink, { digest: () => hash.digest('hex') });
}

/** Resolves true once a new TCP connection to the port is refused. */
function connectionRefused(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => resolve(err.code === 'ECONNREFUSED'));
  });
}

async function stopAndTime(server: LongRunning): Promise<{ code: number | null; ms: number }> {
  const started = Date.now();
  const exited = once(server.child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  server.child.kill('SIGTERM');
  const killer = setTimeout(() => server.child.kill('SIGKILL'), EXIT_BOUND_MS + 10_000);
  const [code] = await exited;
  clearTimeout(killer);
  return { code, ms: Date.now() - started };
}

/** <hex>.part sizes in store/tmp that have their .part.json sidecar (resumable pairs). */
async function resumablePartials(dataDir: string): Promise<Map<string, number>> {
  const tmp = path.join(dataDir, 'store', 'tmp');
  const names = await readdir(tmp).catch(() => [] as string[]);
  const pairs = new Map<string, number>();
  for (const name of names) {
    const hex = /^([0-9a-f]{64})\.part$/.exec(name)?.[1];
    if (hex && names.includes(`${name}.json`)) pairs.set(hex, (await stat(path.join(tmp, name))).size);
  }
  return pairs;
}

t.test('SIGTERM: downloads in flight finish, a running sync stops where it can resume', async (t) => {
  const random = seededRandom(SEED);
  const dir = t.testdir();
  const dataDir = path.join(dir, 'server-data');
  const feed = newFeedModel(path.join(dir, 'feed'), random, 1, {
    minBytes: BLOB_BYTES,
    maxBytes: BLOB_BYTES + 1,
  });
  await writeFeed(feed);
  const upstream = await startUpstream(feed.dir, ['--throttle', String(THROTTLE_BPS)]);
  t.teardown(() => upstream.stop());
  const config = path.join(dir, 'staging-server.json');
  await writeFile(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir,
      upstream: { url: `${upstream.url}/`, concurrency: 2, retries: 1, timeoutSeconds: 10 },
      mirror: { products: [{ id: 'acme-backup', releases: ['1.0'] }] },
      schedule: { sync: null },
    }),
  );
  const waitForSync = async (url: string): Promise<SyncJson> =>
    waitFor(
      'the start-up sync',
      async () => {
        const status = await getJson<{ lastSync: SyncJson | null }>(`${url}/v1/status`);
        return status.lastSync && status.lastSync.outcome !== 'running' ? status.lastSync : undefined;
      },
      60_000,
    );

  await t.test(
    'in-flight downloads: a slow reader gets it all, a stalled one is cut after the grace',
    async (t) => {
      const server = await startListening(BIN.server, ['--config', config, '--json', 'serve']);
      t.teardown(() => server.child.kill('SIGKILL'));
      t.equal((await waitForSync(server.url)).outcome, 'ok', 'serve mirrored the feed');
      const [, { bytes }] = [...feed.patches][0]!;
      const hex = createHash('sha256').update(bytes).digest('hex');
      const blobUrl = `${server.url}/v1/blobs/sha256/${hex}`;
      const port = Number(new URL(server.url).port);

      // The steady reader: about 2 MB/s, so the 8 MB body takes ~4 s, well inside the grace.
      const steady = await openDownload(blobUrl);
      t.equal(steady.statusCode, 200);
      let steadyBytes = 0;
      const sink = slowSink(2_000_000, (n) => (steadyBytes += n));
      const steadyDone = pipeline(steady, sink).then(
        () => ({ ok: true, error: '' }),
        (err: Error) => ({ ok: false, error: err.message }),
      );
      // The stalled reader: takes 1 MB, then stops reading.
      const stalled = await openDownload(blobUrl);
      let stalledBytes = 0;
      let drainStalled = false;
      // Listen from the start: a paused response still reports its connection's end.
      const stalledEnded = new Promise<string>((resolve) => {
        stalled.once('end', () => resolve('end'));
        stalled.once('error', (err) => resolve(`error: ${err.message}`));
        stalled.once('close', () => resolve('close'));
      });
      stalled.on('data', (c: Buffer) => {
        stalledBytes += c.length;
        if (stalledBytes >= 1 << 20 && !drainStalled) stalled.pause();
      });
      await waitFor(
        'both downloads under way',
        async () => steadyBytes >= 512 * 1024 && stalledBytes >= 1 << 20,
      );

      const stopping = stopAndTime(server);
      let steadyFinished = false;
      void steadyDone.then(() => (steadyFinished = true));
      await waitFor('new connections refused after SIGTERM', () => connectionRefused(port), 15_000);
      t.notOk(steadyFinished, 'new connections were refused while a download was still being sent');

      const steadyResult = await steadyDone;
      t.ok(steadyResult.ok, 'the slow reader got the whole body', { error: steadyResult.error });
      t.equal(steadyBytes, BLOB_BYTES, 'every byte');
      t.equal(sink.digest(), hex, 'and it hashes right');

      const { code, ms } = await stopping;
      t.equal(code, 0, 'serve exits 0');
      t.ok(ms < EXIT_BOUND_MS, `serve exits within ${EXIT_BOUND_MS} ms of SIGTERM`, { ms });

      // The stalled connection was closed by the server (or it could not have exited): its body is short.
      drainStalled = true;
      stalled.resume();
      const stalledEnd = await Promise.race([
        stalledEnded,
        new Promise<string>((resolve) => setTimeout(() => resolve('still open'), 15_000)),
      ]);
      t.ok(stalledBytes < BLOB_BYTES, 'the stalled reader did not get the whole body', {
        stalledBytes,
        stalledEnd,
      });
      t.not(stalledEnd, 'still open', 'its connection was closed');
      t.ok(stalled.complete === false, 'its response is marked incomplete');
    },
  );

  await t.test('a running sync stops at a consistent point and the next start resumes it', async (t) => {
    const before = await readPublished(dataDir);
    t.ok(before, 'a catalog is published before the interrupted sync');
    // The vendor publishes two more large files.
    feed.sequence += 1;
    const added = new Map<string, number>();
    for (const id of ['BIG0001', 'BIG0002']) {
      const bytes = seededBytes(random, BLOB_BYTES);
      feed.patches.set(id, { name: `${id}-${feed.sequence}.bin`, bytes });
      added.set(createHash('sha256').update(bytes).digest('hex'), bytes.length);
    }
    await writeFeed(feed);

    const server = await startListening(BIN.server, ['--config', config, '--json', 'serve']);
    t.teardown(() => server.child.kill('SIGKILL'));
    await waitFor(
      'the start-up sync to be downloading',
      async () => {
        const partials = await resumablePartials(dataDir);
        return [...partials.values()].some((size) => size >= 256 * 1024);
      },
      60_000,
    );
    const { code, ms } = await stopAndTime(server);
    t.equal(code, 0, 'serve exits 0 with a sync running');
    t.ok(ms < EXIT_BOUND_MS, `within ${EXIT_BOUND_MS} ms of SIGTERM`, { ms });
    t.match(server.stderr(), /sync aborted/, 'the sync says it was aborted');

    const after = await readPublished(dataDir);
    t.ok(after && before && after.bytes.equals(before.bytes), 'nothing new was published');
    t.ok(after && signatureVerifies(after, await mirrorPublicKey(dataDir)), 'the catalog still verifies');
    const partials = await resumablePartials(dataDir);
    t.ok(partials.size > 0, 'partial downloads are kept for resume', { partials: [...partials] });
    let partialBytes = 0;
    for (const [hex, size] of partials) {
      t.ok(added.has(hex), 'each partial is one of the new files');
      partialBytes += size;
    }

    // The next start resumes: it fetches only the bytes still missing.
    let missing = 0;
    for (const [hex, size] of added) {
      const stored = await stat(path.join(dataDir, 'store', 'blobs', 'sha256', hex.slice(0, 2), hex)).catch(
        () => undefined,
      );
      if (!stored) missing += size;
    }
    const next = await runJson<SyncJson>(BIN.server, ['--config', config, 'sync'], { timeoutMs: 60_000 });
    t.equal(next.json.outcome, 'ok', 'the next sync is ok');
    t.ok(next.json.published, 'and publishes the new files');
    t.equal(next.json.bytesFetched, missing - partialBytes, 'it fetched only the bytes the partials lacked', {
      missing,
      partialBytes,
    });
    t.same(await leftoverFiles(dataDir), [], 'no temp file left');
  });
});
