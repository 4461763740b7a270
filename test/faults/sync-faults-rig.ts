// The sync fault suite's rig: a small seeded feed served by the fault-injecting upstream, a
// real MirrorService (the staging server's sync, in-process) on a temp data dir, and the
// checks every trial makes on what the sync left on disk.
import { createHash, createPublicKey } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import {
  loadServerConfig,
  parsePrivateKey,
  sha256File,
  verifyDetached,
  type ServerConfig,
} from '@patchbay/core';
import type { MirrorService, SyncReport } from '@patchbay/staging-server';
import { createMirrorService } from '../../packages/staging-server/dist/sync/mirror-service.js';
import {
  startFaultServer,
  type FaultServer,
  type RecordedRequest,
  type ServedFile,
} from '../../packages/core/test/fixtures/fault-server.js';
import type { Invariants } from './figures.js';

export const KiB = 1024;
export const MiB = 1024 * KiB;
/** validators of every file as first served, and of a file after upstream changed it */
export const OLD_DATE = 'Fri, 20 Nov 2026 08:00:00 GMT';
export const NEW_DATE = 'Sat, 21 Nov 2026 09:30:00 GMT';

export interface RigFile {
  patchId: string;
  name: string;
  /** path on the fault server */
  urlPath: string;
  body: Buffer;
  sha256: string;
  size: number;
}

export interface RigPatch {
  id: string;
  requires?: string[];
  file: RigFile;
}

const sha256 = (data: Buffer): string => createHash('sha256').update(data).digest('hex');

/** Deterministic bytes from the trial's random source (mulberry32 words). */
export function seededBytes(random: () => number, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let i = 0; i < size; i += 4) {
    const word = Math.floor(random() * 0x1_0000_0000);
    for (let b = 0; b < 4 && i + b < size; b++) out[i + b] = (word >>> (8 * b)) & 0xff;
  }
  return out;
}

/** An integer in [min, max]. */
export function between(random: () => number, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** Patches with one file each, 64 KiB – 1 MiB, seeded; `requires` as given (id → ids). */
export function makePatches(
  random: () => number,
  ids: readonly string[],
  requires: Record<string, string[]> = {},
): RigPatch[] {
  return ids.map((id) => {
    const name = `${id.toLowerCase()}.bin`;
    const body = seededBytes(random, between(random, 64 * KiB, 1 * MiB));
    const file = {
      patchId: id,
      name,
      urlPath: `/files/${id}/${name}`,
      body,
      sha256: sha256(body),
      size: body.length,
    };
    return { id, ...(requires[id] ? { requires: requires[id] } : {}), file };
  });
}

/** The same path served with other bytes and new validators (a file changed upstream). */
export function changedFile(file: RigFile, body: Buffer): ServedFile {
  return { body, etag: `"${sha256(body).slice(0, 16)}-v2"`, lastModified: NEW_DATE };
}

function servedFile(file: RigFile): ServedFile {
  return { body: file.body, etag: `"${file.sha256.slice(0, 16)}-v1"`, lastModified: OLD_DATE };
}

function feedJson(sequence: number, patches: readonly RigPatch[]): Buffer {
  const feed = {
    format: 'patchbay-feed/1',
    vendor: 'Arcserve',
    sequence,
    generatedAt: '2026-11-20T08:00:00Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: patches.map((p) => ({
      id: p.id,
      product: 'arcserve-backup',
      release: '19.0',
      title: `Fix for ${p.id}`,
      severity: 'critical',
      publishedAt: '2026-11-01T00:00:00Z',
      ...(p.requires ? { requires: p.requires } : {}),
      files: [
        {
          name: p.file.name,
          url: p.file.urlPath.slice(1),
          size: p.file.size,
          sha256: p.file.sha256,
        },
      ],
      install: { command: ['sh', `{file:${p.file.name}}`, 'install'] },
    })),
  };
  return Buffer.from(JSON.stringify(feed, null, 2));
}

export interface RigOptions {
  retries: number;
  /**
   * stall timeout (upstream.timeoutSeconds, default 30). Only the stall scenario shortens it:
   * on a loaded machine a process descheduled for a second fires its timers before reading
   * the bytes that wait in its sockets, which would look like stalls that never happened.
   */
  timeoutSeconds?: number;
}

const silent = pino({ level: process.env.PATCHBAY_TEST_LOG ?? 'silent' });

export class SyncRig {
  private patchesServed: RigPatch[] = [];
  private requestMark = 0;

  private constructor(
    readonly dir: string,
    readonly server: FaultServer,
    readonly mirror: MirrorService,
    readonly config: ServerConfig,
  ) {}

  static async open(opts: RigOptions): Promise<SyncRig> {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'patchbay-sync-faults-'));
    const server = await startFaultServer();
    try {
      const config = loadServerConfig({
        cwd: dir,
        overrides: {
          listen: { host: '127.0.0.1', port: 0 },
          dataDir: path.join(dir, 'data'),
          upstream: {
            url: `${server.origin}/`,
            retries: opts.retries,
            timeoutSeconds: opts.timeoutSeconds ?? 30,
            concurrency: 4,
          },
          mirror: {},
          schedule: { sync: null, prune: null, gc: null },
          storage: { freeSpaceMarginBytes: 0 },
          log: { level: 'silent' },
        },
      });
      const mirror = await createMirrorService(config, silent, { retryBaseMs: 5 });
      return new SyncRig(dir, server, mirror, config);
    } catch (err) {
      await server.close();
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  get dataDir(): string {
    return this.config.dataDir;
  }

  get patches(): readonly RigPatch[] {
    return this.patchesServed;
  }

  /** Serve feed.json (sequence) naming these patches, and their files. */
  serveFeed(sequence: number, patches: readonly RigPatch[]): void {
    this.patchesServed = [...patches];
    this.server.setFile('/feed.json', {
      body: feedJson(sequence, patches),
      etag: `"feed-${sequence}"`,
      lastModified: OLD_DATE,
    });
    for (const p of patches) {
      if (!this.server.file(p.file.urlPath)) this.server.setFile(p.file.urlPath, servedFile(p.file));
    }
  }

  /** Run one sync; afterwards `requestsThisSync` lists the requests it made. */
  async sync(): Promise<SyncReport> {
    this.requestMark = this.server.requests.length;
    return this.mirror.startSync();
  }

  requestsThisSync(urlPath: string): RecordedRequest[] {
    return this.server.requests.slice(this.requestMark).filter((r) => r.path === urlPath);
  }

  async close(): Promise<void> {
    await this.mirror.close();
    await this.server.close();
    await rm(this.dir, { recursive: true, force: true });
  }

  /** The published catalog's patch ids, read back from disk. */
  async publishedIds(): Promise<string[]> {
    const bytes = await readFile(path.join(this.dataDir, 'catalog', 'current.json')).catch(() => undefined);
    if (!bytes) return [];
    return (JSON.parse(bytes.toString('utf8')) as { patches: { id: string }[] }).patches.map((p) => p.id);
  }

  async catalogBytes(): Promise<Buffer | undefined> {
    return readFile(path.join(this.dataDir, 'catalog', 'current.json')).catch(() => undefined);
  }

  /**
   * The invariants every sync keeps, whatever upstream did:
   * - the published catalog verifies against current.json.sig with the mirror's key;
   * - every blob it names exists and hashes right;
   * - every file under blobs/sha256 is named by its SHA-256 (no bad byte ever got a name);
   * - store/tmp holds nothing but resumable pairs (`<hex>.part` + `.part.json`) of `heldBack` digests;
   * - no blob path was asked more than retries + 1 times.
   */
  async checkStore(inv: Invariants, label: string, heldBack: ReadonlySet<string>): Promise<void> {
    const catalogDir = path.join(this.dataDir, 'catalog');
    const bytes = await readFile(path.join(catalogDir, 'current.json')).catch(() => undefined);
    if (inv.check(bytes !== undefined, `${label}: a catalog is published`)) {
      const signature = await readFile(path.join(catalogDir, 'current.json.sig'), 'utf8').catch(() => '');
      const keyPem = await readFile(path.join(this.dataDir, 'keys', 'mirror.key'), 'utf8');
      const publicKey = createPublicKey(parsePrivateKey(keyPem, 'mirror key'));
      inv.check(
        verifyDetached(bytes!, signature, publicKey),
        `${label}: current.json verifies against current.json.sig with the mirror's key`,
      );
      const catalog = JSON.parse(bytes!.toString('utf8')) as { patches: { files: { sha256: string }[] }[] };
      for (const file of catalog.patches.flatMap((p) => p.files)) {
        const blob = path.join(
          this.dataDir,
          'store',
          'blobs',
          'sha256',
          file.sha256.slice(0, 2),
          file.sha256,
        );
        const actual = await sha256File(blob).catch(() => 'missing');
        inv.check(actual === file.sha256, `${label}: every blob the catalog names exists and hashes right`, {
          blob: file.sha256,
          actual,
        });
      }
    }
    for (const blob of await walk(path.join(this.dataDir, 'store', 'blobs', 'sha256'))) {
      const actual = await sha256File(blob);
      inv.check(actual === path.basename(blob), `${label}: every stored blob is named by its SHA-256`, {
        blob,
        actual,
      });
    }
    const tmp = await readdir(path.join(this.dataDir, 'store', 'tmp')).catch(() => [] as string[]);
    const stray = tmp.filter((name) => {
      const pair = /^([0-9a-f]{64})\.part(\.json)?$/.exec(name);
      if (!pair || !heldBack.has(pair[1]!)) return true;
      const other = pair[2] ? `${pair[1]}.part` : `${pair[1]}.part.json`;
      return !tmp.includes(other);
    });
    inv.check(
      stray.length === 0,
      `${label}: store/tmp holds only resumable partial pairs of held-back files`,
      { stray },
    );
    for (const p of this.patchesServed) {
      const asked = this.requestsThisSync(p.file.urlPath).length;
      inv.check(
        asked <= this.config.upstream.retries + 1,
        `${label}: retries are bounded (requests per file <= retries + 1)`,
        { file: p.file.urlPath, asked, retries: this.config.upstream.retries },
      );
    }
  }
}

async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(full)));
    else out.push(full);
  }
  return out;
}
