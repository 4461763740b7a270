// Disk full, on the staging server and on the client: a preflight that refuses early, ENOSPC
// in the middle of a blob, ENOSPC while publishing. The programs run as child processes on a
// small disk (a real tmpfs where the machine allows mounting one, else an emulated one; each
// test says which ran). "Another program" fills the disk at a chosen moment: when the blob's
// request reaches the upstream (or the proxy in front of the staging server).
import { randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import t from 'tap';
import type { Test } from 'tap';
import type { FeedPatchInput } from '@patchbay/sample-feed';
import { writeFeedDirectory } from '@patchbay/sample-feed';
import { BIN, runJson, startListening, waitFor, type LongRunning } from '../helpers/processes.js';
import {
  publishRepository,
  serverOnlineKey,
  type SyncStatus,
  type StatusDocument,
} from '../helpers/stack.js';
import { smallDisk, type SmallDisk } from './disk-full-disk.js';
import { checkPublished, hookedProxy, hookedUpstream, type HookedServer } from './disk-full-net.js';
import { Invariants, SEED, seededRandom, trials } from './figures.js';

const KiB = 1024;
const MiB = 1024 * KiB;
const PAGE = 4096;
const DISK_BYTES = 16 * MiB;
const SUITE = 'disk-full';

interface FileSpec {
  name: string;
  bytes: Buffer;
}

function patch(id: string, files: FileSpec[]): { input: FeedPatchInput; files: FileSpec[] } {
  return {
    input: {
      id,
      product: 'arcserve-backup',
      release: '19.0',
      title: `Fix ${id}`,
      severity: 'critical',
      publishedAt: '2026-11-01T00:00:00Z',
      files: files.map((f) => ({ name: f.name })),
      install: { command: ['sh', `{file:${files[0]!.name}}`, 'install'] },
    },
    files,
  };
}

async function writeFeed(dir: string, sequence: number, patches: ReturnType<typeof patch>[]): Promise<void> {
  const files: Record<string, Buffer> = {};
  for (const p of patches) for (const f of p.files) files[f.name] = f.bytes;
  await writeFeedDirectory({
    dir,
    prune: true,
    files,
    feed: {
      format: 'patchbay-feed/1',
      vendor: 'Arcserve',
      sequence,
      generatedAt: '2026-11-20T08:00:00Z',
      products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
      patches: patches.map((p) => p.input),
    },
  });
}

const small = (id: string): ReturnType<typeof patch> =>
  patch(id, [{ name: `${id}.bin`, bytes: randomBytes(48 * KiB) }]);

/** A patch whose body is `size` bytes of seeded-random content. */
const big = (id: string, size: number): ReturnType<typeof patch> =>
  patch(id, [{ name: `${id}.bin`, bytes: randomBytes(size) }]);

interface ServerUnderTest {
  server: LongRunning;
  dataDir: string;
  upstream: HookedServer;
  sync(): Promise<SyncStatus>;
}

async function getJson<T>(url: string): Promise<T> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return (await res.json()) as T;
}

/** Staging server (child process) over `dataDir`, mirroring `feedDir` through a hooked upstream. */
async function startServer(
  defer: (fn: () => unknown) => void,
  opts: {
    dir: string;
    dataDir: string;
    feedDir: string;
    margin: number;
    env: NodeJS.ProcessEnv;
    /** the publisher's root of the TUF repository in feedDir (hosts need one); absent: feedDir is a feed */
    trustedRoot?: string;
  },
  hook: (urlPath: string) => void,
): Promise<ServerUnderTest> {
  const upstream = await hookedUpstream(opts.feedDir, hook);
  defer(upstream.close);
  const config = path.join(opts.dir, 'staging-server.json');
  writeFileSync(
    config,
    JSON.stringify({
      listen: { host: '127.0.0.1', port: 0 },
      dataDir: opts.dataDir,
      upstream: {
        url: `${upstream.url}/`,
        concurrency: 1,
        retries: 1,
        ...(opts.trustedRoot ? { trustedRoot: opts.trustedRoot } : {}),
      },
      mirror: { products: [{ id: 'arcserve-backup', releases: ['19.0'] }] },
      schedule: { sync: null },
      storage: { freeSpaceMarginBytes: opts.margin },
    }),
  );
  const server = await startListening(BIN.server, ['--config', config, 'serve', '--json'], {
    cwd: opts.dir,
    env: opts.env,
  });
  defer(server.stop);
  const finished = async (after: string | null): Promise<SyncStatus> =>
    waitFor(
      'a finished sync',
      async () => {
        const last = (await getJson<StatusDocument>(`${server.url}/v1/status`)).lastSync;
        return last?.finishedAt && last.outcome !== 'running' && last.startedAt !== after ? last : undefined;
      },
      120_000,
    ).catch((err: unknown) => {
      // The server's own words say why (it may have exited).
      throw new Error(`${String(err)}\nserver stderr (tail):\n${server.stderr().slice(-4000)}`);
    });
  await finished(null);
  return {
    server,
    dataDir: opts.dataDir,
    upstream,
    sync: async () => {
      const before = (await getJson<StatusDocument>(`${server.url}/v1/status`)).lastSync?.startedAt ?? null;
      const res = await fetch(`${server.url}/v1/sync`, { method: 'POST' });
      if (res.status !== 202) throw new Error(`POST /v1/sync: HTTP ${res.status}`);
      return finished(before);
    },
  };
}

/** Files a crash or a failed write could leave: partials, sidecars, atomic-write temp files. */
function tempFiles(root: string): string[] {
  const found: string[] = [];
  const walk = (d: string): void => {
    for (const entry of readdirSync(d, { withFileTypes: true })) {
      const p = path.join(d, entry.name);
      if (entry.isDirectory()) walk(p);
      else if (/\.(part|part\.json|tmp)$/.test(entry.name)) found.push(path.relative(root, p));
    }
  };
  if (existsSync(root)) walk(root);
  return found;
}

/** Cleanups run last-registered first, in one teardown: processes stop before the disk goes. */
function deferrer(t: Test): (fn: () => unknown) => void {
  const fns: (() => unknown)[] = [];
  t.teardown(async () => {
    for (const fn of fns.reverse()) await fn();
  });
  return (fn) => fns.push(fn);
}

/** A small disk for this test (outside tap's fixture dir), released after everything started later. */
function diskFor(t: Test, dir: string, defer: (fn: () => unknown) => void): SmallDisk {
  const mountPoint = mkdtempSync(path.join(tmpdir(), 'patchbay-disk-full-'));
  const disk = smallDisk(mountPoint, DISK_BYTES, dir);
  t.comment(
    disk.kind === 'tmpfs'
      ? `small disk: a real ${DISK_BYTES / MiB} MiB tmpfs at ${disk.dir}`
      : `small disk: no tmpfs could be mounted; emulated ${DISK_BYTES / MiB} MiB capacity (statfs and write ENOSPC injected into the child processes)`,
  );
  defer(() => {
    disk.release();
    rmSync(mountPoint, { recursive: true, force: true });
  });
  return disk;
}

const random = seededRandom(SEED ^ 0x5eed);

t.test('server preflight: a sync that would not fit fails early, nothing downloaded', async (t) => {
  const inv = new Invariants(t);
  const n = trials(1, 3);
  for (let trial = 0; trial < n; trial++) {
    await t.test(`trial ${trial}`, async (t) => {
      const dir = t.testdir();
      const defer = deferrer(t);
      const disk = diskFor(t, dir, defer);
      const feedDir = path.join(dir, 'feed');
      const p1 = small('p1');
      const bigSize = Math.round((3 + random() * 2) * MiB);
      const p2 = big('p2', bigSize);
      await writeFeed(feedDir, 1, [p1]);
      const dataDir = path.join(disk.dir, 'server-data');
      const s = await startServer(defer, { dir, dataDir, feedDir, margin: 1 * MiB, env: disk.env }, () => {});
      const first = await checkPublished(s.server.url, dataDir);
      inv.check(first.ok, 'first sync publishes', first.problems);

      // Another program leaves less than p2 + the margin free.
      const filler = disk.fill('other-program.dat', disk.free() - bigSize);
      await writeFeed(feedDir, 2, [p1, p2]);
      const requestsBefore = s.upstream.requests.length;
      const failed = await s.sync();
      t.comment(`sync error: ${failed.error}`);
      inv.check(failed.outcome === 'failed', 'the sync fails', failed);
      inv.check(
        /not enough free space for the sync's 1 file\(s\) to download/.test(failed.error ?? '') &&
          failed.error!.includes(path.join(dataDir, 'store')) &&
          failed.error!.includes('storage.freeSpaceMarginBytes') &&
          failed.error!.includes(`${bigSize} to write + ${MiB} margin`),
        'the error names the store, the bytes and the margin key',
        failed.error,
      );
      const fetched = s.upstream.requests.slice(requestsBefore).filter((p) => p.startsWith('/files/'));
      inv.check(fetched.length === 0, 'no file was requested', fetched);
      inv.check(tempFiles(dataDir).length === 0, 'no temp file left', tempFiles(dataDir));
      const kept = await checkPublished(s.server.url, dataDir);
      inv.check(
        kept.ok && kept.catalog?.patches.map((p) => p.id).join() === 'p1',
        'the published catalog is intact and verifies',
        kept.problems,
      );

      rmSync(filler);
      const next = await s.sync();
      const after = await checkPublished(s.server.url, dataDir);
      inv.check(
        next.outcome === 'ok' && after.ok && after.catalog?.patches.length === 2,
        'after freeing space the next sync completes',
        { next, problems: after.problems },
      );
    });
  }
  inv.record({ suite: SUITE, scenario: 'server preflight refusal', trials: n });
});

t.test('server ENOSPC mid-blob: that patch is held back, the rest published', async (t) => {
  const inv = new Invariants(t);
  const n = trials(1, 3);
  let fileBytes = 0;
  for (let trial = 0; trial < n; trial++) {
    await t.test(`trial ${trial}`, async (t) => {
      const dir = t.testdir();
      const defer = deferrer(t);
      const disk = diskFor(t, dir, defer);
      const feedDir = path.join(dir, 'feed');
      const p1 = small('p1');
      const p2 = small('p2');
      const bigSize = Math.round((5 + random() * 3) * MiB);
      const leave = Math.round((0.5 + random() * 2) * MiB);
      const p3 = big('p3', bigSize);
      await writeFeed(feedDir, 1, [p1]);
      const dataDir = path.join(disk.dir, 'server-data');
      let filler: string | undefined;
      let fill = false;
      const s = await startServer(defer, { dir, dataDir, feedDir, margin: 0, env: disk.env }, (urlPath) => {
        // The preflight passed; now another program takes all but `leave` bytes.
        if (fill && urlPath === '/files/p3.bin' && filler === undefined) {
          filler = disk.fill('other-program.dat', disk.free() - leave);
        }
      });

      await writeFeed(feedDir, 2, [p1, p2, p3]);
      fill = true;
      const partial = await s.sync();
      t.comment(`held back: ${JSON.stringify(partial.heldBack)}`);
      inv.check(filler !== undefined, 'the disk was filled while the blob downloaded');
      const held = partial.heldBack.map((h) => h.patchId);
      inv.check(
        partial.outcome === 'partial' && held.join() === 'p3',
        'only the patch whose file hit ENOSPC is held back',
        partial,
      );
      const reason = partial.heldBack[0]?.error ?? '';
      inv.check(
        /disk full writing .*\/files\/p3\.bin .* \(ENOSPC\); the partial file was removed/.test(reason),
        'its error says disk full, names the file and ENOSPC',
        reason,
      );
      inv.check(tempFiles(dataDir).length === 0, 'no temp file left', tempFiles(dataDir));
      const published = await checkPublished(s.server.url, dataDir);
      inv.check(
        published.ok && published.catalog?.patches.map((p) => p.id).join() === 'p1,p2',
        'the rest is published, verifying, every blob present',
        published.problems,
      );

      rmSync(filler!);
      const before = s.upstream.requests.length;
      const next = await s.sync();
      const after = await checkPublished(s.server.url, dataDir);
      inv.check(
        next.outcome === 'ok' && after.ok && after.catalog?.patches.length === 3,
        'after freeing space the next sync completes',
        { next, problems: after.problems },
      );
      inv.check(s.upstream.requests.slice(before).includes('/files/p3.bin'), 'p3 was fetched again');
      fileBytes += bigSize;
    });
  }
  inv.record({
    suite: SUITE,
    scenario: 'server ENOSPC mid-blob',
    trials: n,
    fileBytes,
    note: 'filler written when the blob request arrives; partial removed, patch held back',
  });
});

t.test('server ENOSPC while publishing: the sync fails, the old catalog stays', async (t) => {
  const inv = new Invariants(t);
  // Pages left free after the blob lands: the catalog (history, signature, current) needs more,
  // so the publish fails at a different write for each.
  const slacks = trials(1, 5) === 1 ? [4] : [0, 1, 2, 3, 4];
  for (const slack of slacks) {
    await t.test(`${slack} page(s) spare`, async (t) => {
      const dir = t.testdir();
      const defer = deferrer(t);
      const disk = diskFor(t, dir, defer);
      const feedDir = path.join(dir, 'feed');
      const bigSize = 2 * MiB + 123;
      const many = Array.from({ length: 24 }, (_, i) => small(`q${i}`));
      const p1 = small('p1');
      const p2 = big('p2', bigSize);
      await writeFeed(feedDir, 1, [p1]);
      const dataDir = path.join(disk.dir, 'server-data');
      let filler: string | undefined;
      let fill = false;
      const s = await startServer(defer, { dir, dataDir, feedDir, margin: 0, env: disk.env }, (urlPath) => {
        if (fill && urlPath === '/files/p2.bin' && filler === undefined) {
          // Room for the blob and its resume sidecar (one page), and `slack` pages more.
          const room = Math.ceil(bigSize / PAGE) * PAGE + PAGE + slack * PAGE;
          filler = disk.fill('other-program.dat', disk.free() - room);
        }
      });
      // The many small patches make the catalog several pages long; they download first.
      await writeFeed(feedDir, 2, [p1, ...many, p2]);
      fill = true;
      const failed = await s.sync();
      t.comment(`sync error: ${failed.error}`);
      inv.check(filler !== undefined, 'the disk was filled while the last blob downloaded');
      inv.check(failed.outcome === 'failed', 'the sync fails', failed);
      inv.check(
        /disk full writing catalog sequence \d+ .*nothing was published/.test(failed.error ?? ''),
        'the error says the disk is full while publishing',
        failed.error,
      );
      inv.check(tempFiles(dataDir).length === 0, 'no temp file left', tempFiles(dataDir));
      const kept = await checkPublished(s.server.url, dataDir);
      inv.check(
        kept.ok && kept.catalog?.patches.map((p) => p.id).join() === 'p1',
        'the published catalog is intact and verifies, served and on disk',
        kept.problems,
      );

      rmSync(filler!);
      const next = await s.sync();
      const after = await checkPublished(s.server.url, dataDir);
      inv.check(
        next.outcome === 'ok' && after.ok && after.catalog?.patches.length === 26,
        'after freeing space the next sync completes',
        { next, problems: after.problems },
      );
    });
  }
  inv.record({ suite: SUITE, scenario: 'server ENOSPC while publishing', trials: slacks.length });
});

interface DownloadJson {
  results: { id: string; outcome: string; message: string }[];
}

interface LedgerJson {
  patches: Record<string, { state: string }>;
  observed?: Record<string, { state: string }>;
  events: { type: string; patchId?: string; outcome?: string; message?: string }[];
}

t.test(
  'client: preflight refusal and ENOSPC mid-download leave the cache and ledger consistent',
  async (t) => {
    const inv = new Invariants(t);
    const dir = t.testdir();
    const defer = deferrer(t);
    const disk = diskFor(t, dir, defer);
    const feedDir = path.join(dir, 'feed');
    const bigSize = Math.round((4 + random() * 2) * MiB);
    const p1 = small('p1');
    const p2 = big('p2', bigSize);
    await writeFeed(feedDir, 1, [p1, p2]);
    // Hosts read TUF: the feed published into the publisher's repository, whose root lists the
    // staging server's online key. The staging server on the ordinary disk; only the client's
    // data dir is small.
    const serverData = path.join(dir, 'server-data');
    const repoDir = path.join(dir, 'repo');
    const rootFile = await publishRepository(repoDir, feedDir, [await serverOnlineKey(serverData)], null);
    const s = await startServer(
      defer,
      { dir, dataDir: serverData, feedDir: repoDir, margin: 0, env: {}, trustedRoot: rootFile },
      () => {},
    );
    const served = await checkPublished(s.server.url, s.dataDir);
    inv.check(served.ok && served.catalog?.patches.length === 2, 'the staging server published both patches');
    const p2Hex = served.catalog!.patches.find((p) => p.id === 'p2')!.files[0]!.sha256;

    let onBlob: (() => void) | undefined;
    const proxy = await hookedProxy(s.server.url, (urlPath) => {
      if (urlPath === `/v1/blobs/sha256/${p2Hex}`) onBlob?.();
    });
    defer(proxy.close);

    const clientDir = path.join(dir, 'client');
    mkdirSync(path.join(clientDir, 'sandbox'), { recursive: true });
    const dataDir = path.join(disk.dir, 'client-data');
    const writeConfig = (margin: number): string => {
      const config = path.join(clientDir, 'client.json');
      writeFileSync(
        config,
        JSON.stringify({
          server: proxy.url,
          hostId: 'host-a',
          dataDir,
          products: [{ id: 'arcserve-backup', release: '19.0', installDir: './sandbox' }],
          policy: { autoInstall: 'none' },
          retries: 0,
          timeoutSeconds: 10,
          cache: { freeSpaceMarginBytes: margin },
          trust: { root: rootFile },
        }),
      );
      return config;
    };
    const download = async (margin: number): Promise<DownloadJson> =>
      (
        await runJson<DownloadJson>(BIN.client, ['--config', writeConfig(margin), 'download', 'p2'], {
          cwd: clientDir,
          env: disk.env,
        })
      ).json;
    const ledger = (): LedgerJson =>
      JSON.parse(readFileSync(path.join(dataDir, 'ledger.json'), 'utf8')) as LedgerJson;
    const cached = (): boolean =>
      existsSync(path.join(dataDir, 'cache', 'blobs', 'sha256', p2Hex.slice(0, 2), p2Hex));
    const consistent = (what: string, message: RegExp): void => {
      const l = ledger();
      inv.check(!cached(), `${what}: the blob is not in the cache`);
      inv.check(tempFiles(dataDir).length === 0, `${what}: no temp file left`, tempFiles(dataDir));
      const state = l.observed?.p2?.state ?? l.patches.p2?.state ?? 'available';
      inv.check(state === 'available', `${what}: the ledger still says available`, { state });
      const event = l.events.filter((e) => e.patchId === 'p2' && e.type === 'download').at(-1);
      inv.check(
        event?.outcome === 'failed' && message.test(event.message ?? ''),
        `${what}: a failed download event with the reason`,
        event,
      );
    };

    // 1. Preflight: p2 plus the 1 MiB margin do not fit; nothing is requested.
    let filler = disk.fill('other-program.dat', disk.free() - bigSize);
    let blobRequests = 0;
    onBlob = () => (blobRequests += 1);
    const refused = await download(MiB);
    const r1 = refused.results.find((r) => r.id === 'p2');
    inv.check(
      r1?.outcome === 'failed' &&
        /not enough free space for patch p2's 1 file\(s\) to download/.test(r1.message) &&
        r1.message.includes('cache.freeSpaceMarginBytes') &&
        r1.message.includes(path.join(dataDir, 'cache')),
      'client preflight: refused, naming the cache, the bytes and the margin key',
      r1,
    );
    inv.check(blobRequests === 0, 'client preflight: the blob was not requested', { blobRequests });
    consistent('client preflight', /not enough free space/);
    rmSync(filler);

    // 2. ENOSPC mid-download: the preflight passes (margin 0), then the disk fills.
    const leave = Math.round((0.5 + random()) * MiB);
    let filled: string | undefined;
    onBlob = () => {
      if (filled === undefined) filled = disk.fill('other-program.dat', disk.free() - leave);
    };
    const broken = await download(0);
    const r2 = broken.results.find((r) => r.id === 'p2');
    inv.check(filled !== undefined, 'client ENOSPC: the disk was filled while downloading');
    inv.check(
      r2?.outcome === 'failed' &&
        /disk full writing .* \(ENOSPC\); the partial file was removed/.test(r2.message),
      'client ENOSPC: the download fails with the disk-full reason',
      r2,
    );
    consistent('client ENOSPC', /disk full writing/);

    // 3. Space freed: the same download completes.
    onBlob = undefined;
    rmSync(filled!);
    filler = '';
    const ok = await download(MiB);
    inv.check(
      ok.results.find((r) => r.id === 'p2')?.outcome === 'ok' && cached(),
      'after freeing space the download completes',
      ok,
    );
    inv.check(tempFiles(dataDir).length === 0, 'no temp file left after the download');
    inv.record({
      suite: SUITE,
      scenario: 'client preflight + ENOSPC mid-download',
      trials: 1,
      fileBytes: bigSize,
    });
  },
);
