// Test rig for the client crash and shutdown suites (on trust v2): a throttling loopback proxy
// in front of the staging server (so downloads take long enough to be killed in the middle), a
// slow sandbox patch added to the sample feed, signed by the demo vendor key and published with
// `patchbay-publish import-feed` (so installs can be slow too), and readers for what a client
// leaves on disk.
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { demoVendorKeyFiles, writeFeedDirectory } from '@patchbay/sample-feed';
import type { FeedInput } from '@patchbay/sample-feed';
import type { Stack } from '../helpers/stack.js';

export const SLOW_PATCH = 'T5KB0290';

/**
 * The slow patch's installer: refuses to run twice at once (a second installer while the
 * first still runs is exactly what crash recovery must prevent), takes `sleepSeconds` (or
 * what `<installDir>/.slow-seconds` says), writes its detect marker last.
 */
function slowInstaller(sleepSeconds: number): string {
  return [
    '#!/bin/sh',
    '# T5KB0290: slow sample patch for the crash suite',
    'set -eu',
    'dir="$2"',
    'case "$1" in',
    '  install)',
    '    mkdir "$dir/.T5KB0290.running" || { echo "T5KB0290: another install is running" >&2; exit 5; }',
    '    mkdir -p "$dir/lib/slow" "$dir/patches"',
    '    echo "installing T5KB0290"',
    '    printf "patch=T5KB0290\\n" > "$dir/lib/slow/T5KB0290.version"',
    `    seconds=${sleepSeconds}`,
    '    if [ -f "$dir/.slow-seconds" ]; then seconds=$(cat "$dir/.slow-seconds"); fi',
    '    sleep "$seconds"',
    '    echo "still installing T5KB0290"',
    '    : > "$dir/patches/T5KB0290.installed"',
    '    rmdir "$dir/.T5KB0290.running"',
    '    ;;',
    '  uninstall)',
    '    rm -f "$dir/patches/T5KB0290.installed" "$dir/lib/slow/T5KB0290.version"',
    '    ;;',
    'esac',
    '',
  ].join('\n');
}

/** Deterministic incompressible-looking bytes (the payload's size is what matters). */
function payload(bytes: number): Buffer {
  const out = Buffer.alloc(bytes);
  let block = createHash('sha256').update('T5KB0290').digest();
  for (let at = 0; at < bytes; at += block.length) {
    block.copy(out, at);
    block = createHash('sha256').update(block).digest();
  }
  return out;
}

/**
 * Add the slow critical patch (an installer taking `sleepSeconds`, a payload of `payloadBytes`)
 * to the stack's sample feed as the next sequence, signed with the demo vendor key; publish it
 * into the stack's TUF repository (`import-feed`, a new publication) and sync it.
 */
export async function addSlowPatch(stack: Stack, sleepSeconds: number, payloadBytes: number): Promise<void> {
  if (stack.repoDir === null) throw new Error('addSlowPatch needs a trust v2 stack (a publisher repository)');
  const feedPath = path.join(stack.feedDir, 'feed.json');
  const feed = JSON.parse(fs.readFileSync(feedPath, 'utf8')) as FeedInput;
  feed.sequence += 1;
  feed.patches.push({
    id: SLOW_PATCH,
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Slow installer (crash suite)',
    description: 'Takes a while to install, with a large payload.',
    severity: 'critical',
    publishedAt: '2026-11-10T00:00:00Z',
    requires: ['T5KB0201'],
    supersedes: [],
    rebootRequired: false,
    files: [{ name: 'T5KB0290.sh' }, { name: 'T5KB0290.bin' }],
    install: {
      command: ['sh', '{file:T5KB0290.sh}', 'install', '{installDir}', '{patchId}', '{file:T5KB0290.bin}'],
      timeoutSeconds: 120,
      successExitCodes: [0],
    },
    uninstall: { command: ['sh', '{file:T5KB0290.sh}', 'uninstall', '{installDir}'], timeoutSeconds: 60 },
    detect: { fileExists: '{installDir}/patches/T5KB0290.installed' },
  });
  await writeFeedDirectory({
    dir: stack.feedDir,
    feed,
    files: { 'T5KB0290.sh': slowInstaller(sleepSeconds), 'T5KB0290.bin': payload(payloadBytes) },
    signingKey: fs.readFileSync(demoVendorKeyFiles().privateKey, 'utf8'),
  });
  await stack.publishFeed();
  const sync = await stack.syncNow();
  // under trust v2 the upstream's sequence is the publisher's targets version
  const targetsVersion = publishedTargetsVersion(stack.repoDir);
  const mirrored = await serverCatalog(stack);
  if (
    sync.outcome !== 'ok' ||
    sync.upstreamSequence !== targetsVersion ||
    !mirrored.patches.some((p) => p.id === SLOW_PATCH)
  ) {
    throw new Error(
      `sync with ${SLOW_PATCH} failed (publisher targets v${targetsVersion}): ${JSON.stringify(sync)}`,
    );
  }
}

/** The newest targets version in a publisher's repository (`metadata/<N>.targets.json`). */
export function publishedTargetsVersion(repoDir: string): number {
  return fs
    .readdirSync(path.join(repoDir, 'metadata'))
    .map((name) => /^(\d+)\.targets\.json$/.exec(name))
    .reduce((max, m) => (m ? Math.max(max, Number(m[1])) : max), 0);
}

export interface ServerCatalog {
  patches: { id: string; files: { name: string; size: number; sha256: string }[] }[];
}

/**
 * The staging server's catalog (`/v1/catalog`): each patch's files with the sizes and SHA-256
 * the publisher signed (a v2 host keeps TUF metadata, not a catalog.json, in its data dir).
 */
export function serverCatalog(stack: Stack): Promise<ServerCatalog> {
  return stack.getJson<ServerCatalog>('/v1/catalog');
}

/**
 * The file a host writes once it fetched and verified the TUF metadata (the v2 counterpart of
 * v1's catalog.json): `<dataDir>/tuf/last.json`.
 */
export function verifiedMetadataMarker(dataDir: string): string {
  return path.join(dataDir, 'tuf', 'last.json');
}

export interface ThrottleProxy {
  url: string;
  /** bytes sent to clients (responses) since start */
  bytesDown: () => number;
  /** from now on connections are accepted and never answered (a server that hangs); open ones drop */
  setHanging: (hanging: boolean) => void;
  close: () => Promise<void>;
}

/**
 * A loopback TCP proxy to `target` that sends responses at about `bytesPerSecond`
 * (requests pass unthrottled). Each connection gets its own budget.
 */
export async function startThrottleProxy(target: string, bytesPerSecond: number): Promise<ThrottleProxy> {
  const { hostname, port } = new URL(target);
  let down = 0;
  let hanging = false;
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    if (hanging) {
      sockets.add(client);
      client.on('error', () => client.destroy()).on('close', () => sockets.delete(client));
      return;
    }
    const upstream = net.connect({ host: hostname, port: Number(port) });
    sockets.add(client).add(upstream);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
    client.pipe(upstream);
    upstream.on('data', (chunk: Buffer) => {
      down += chunk.length;
      client.write(chunk);
      upstream.pause();
      setTimeout(() => upstream.resume(), Math.ceil((chunk.length / bytesPerSecond) * 1000));
    });
    upstream.on('end', () => client.end());
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const address = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${address.port}`,
    bytesDown: () => down,
    setHanging: (value) => {
      hanging = value;
      // kept-alive connections would bypass the hang: drop them, the client reconnects
      if (value) for (const socket of sockets) socket.destroy();
    },
    close: async () => {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

export interface LedgerEvent {
  seq: number;
  type: string;
  patchId?: string;
  outcome: string;
  at: string;
  message?: string;
}

export interface LedgerOnDisk {
  patches: Record<string, { state: string; since: string; message?: string }>;
  events: LedgerEvent[];
  lastAckedSeq: number;
  pending: Record<string, { action: string; pid?: number }>;
  observed: Record<string, { state: string }>;
}

export function readLedger(dataDir: string): LedgerOnDisk | undefined {
  const file = path.join(dataDir, 'ledger.json');
  if (!fs.existsSync(file)) return undefined;
  return JSON.parse(fs.readFileSync(file, 'utf8')) as LedgerOnDisk;
}

export function markerExists(installDir: string, patchId: string): boolean {
  return fs.existsSync(path.join(installDir, 'patches', `${patchId}.installed`));
}

function sha256Of(file: string): string {
  return createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

export interface CacheState {
  /** blob files whose bytes do not hash to their name */
  badBlobs: string[];
  blobs: string[];
  /** resumable partials in tmp/: digest -> bytes on disk */
  partials: Map<string, number>;
  /** everything in tmp/ */
  tmpFiles: string[];
}

export function readCache(dataDir: string): CacheState {
  const blobsDir = path.join(dataDir, 'cache', 'blobs', 'sha256');
  const tmpDir = path.join(dataDir, 'cache', 'tmp');
  const state: CacheState = { badBlobs: [], blobs: [], partials: new Map(), tmpFiles: [] };
  for (const shard of fs.existsSync(blobsDir) ? fs.readdirSync(blobsDir) : []) {
    for (const name of fs.readdirSync(path.join(blobsDir, shard))) {
      const file = path.join(blobsDir, shard, name);
      state.blobs.push(name);
      if (sha256Of(file) !== name) state.badBlobs.push(name);
    }
  }
  const tmp = fs.existsSync(tmpDir) ? fs.readdirSync(tmpDir) : [];
  state.tmpFiles = tmp;
  for (const name of tmp) {
    const m = /^([0-9a-f]{64})\.part$/.exec(name);
    if (m && tmp.includes(`${m[1]}.part.json`)) {
      state.partials.set(m[1]!, fs.statSync(path.join(tmpDir, name)).size);
    }
  }
  return state;
}

/** writeFileAtomic scratch files (`.<name>.<pid>.<random>.tmp`) in a directory. */
export function atomicTemps(dir: string): string[] {
  if (!fs.existsSync(dir)) return [];
  return fs.readdirSync(dir).filter((name) => /^\..+\.\d+\.[0-9a-f]+\.tmp$/.test(name));
}

/** Bytes of one download event's message: "N file(s), X bytes". */
export function downloadEventBytes(event: LedgerEvent): number {
  const m = /(\d+) bytes/.exec(event.message ?? '');
  return m ? Number(m[1]) : 0;
}
