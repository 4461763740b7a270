// A small disk for the disk-full suite: a real tmpfs where this machine lets us mount one
// (root, as on CI), else an emulated one: the child processes get a preload that makes
// statfs report, and file writes under the directory fail with ENOSPC past, a fixed capacity.
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';

const PAGE = 4096;
const SPEC_ENV = 'PATCHBAY_TEST_SMALL_DISK';

export interface SmallDisk {
  kind: 'tmpfs' | 'injected';
  dir: string;
  /** environment for child processes that write to the disk (the preload when injected) */
  env: NodeJS.ProcessEnv;
  /** bytes free now, as the programs see it */
  free(): number;
  /** write a filler file of `bytes` (another program eating the disk); returns its path */
  fill(name: string, bytes: number): string;
  /** unmount / remove; safe to call twice */
  release(): void;
}

/** Mount a tmpfs of `bytes` at `dir`, or fall back to the emulated disk (say which ran). */
export function smallDisk(dir: string, bytes: number, scratch: string): SmallDisk {
  mkdirSync(dir, { recursive: true });
  const fill = (name: string, size: number): string => {
    const file = path.join(dir, name);
    writeFileSync(file, Buffer.alloc(Math.max(0, size), 0x5a));
    return file;
  };
  if (process.env.PATCHBAY_TEST_NO_TMPFS !== '1' && tryMount(dir, bytes)) {
    let mounted = true;
    return {
      kind: 'tmpfs',
      dir,
      env: {},
      free: () => {
        const s = statfsSync(dir);
        return s.bavail * s.bsize;
      },
      fill,
      release: () => {
        if (!mounted) return;
        mounted = false;
        try {
          execFileSync('umount', [dir], { stdio: 'ignore' });
        } catch {
          execFileSync('umount', ['-l', dir], { stdio: 'ignore' });
        }
      },
    };
  }
  const preload = path.join(scratch, 'small-disk-preload.mjs');
  writeFileSync(preload, `(${emulateSmallDisk.toString()})();\n`);
  const root = path.resolve(dir);
  return {
    kind: 'injected',
    dir,
    env: {
      [SPEC_ENV]: JSON.stringify({ root, bytes }),
      NODE_OPTIONS: `${process.env.NODE_OPTIONS ?? ''} --import=${pathToFileURL(preload).href}`.trim(),
    },
    free: () => Math.max(0, bytes - usedBytes(root)),
    fill,
    release: () => rmSync(dir, { recursive: true, force: true }),
  };
}

function tryMount(dir: string, bytes: number): boolean {
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** Bytes in use under `root`, each file rounded up to whole pages as a filesystem allocates. */
function usedBytes(root: string): number {
  let total = 0;
  const walk = (d: string): void => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      const s = statSync(p, { throwIfNoEntry: false });
      if (s?.isDirectory()) walk(p);
      else if (s) total += Math.ceil(s.size / PAGE) * PAGE;
    }
  };
  walk(root);
  return total;
}

/**
 * Runs inside each child process (serialised with toString, so it uses nothing from outside):
 * a capacity over one directory. statfs under it reports what is left; FileHandle writes
 * that would pass the capacity fail with ENOSPC, as a full filesystem's would.
 */
function emulateSmallDisk(): void {
  const raw = process.env.PATCHBAY_TEST_SMALL_DISK;
  if (!raw) return;
  const spec = JSON.parse(raw) as { root: string; bytes: number };
  const fsp = process.getBuiltinModule('node:fs/promises');
  const fs = process.getBuiltinModule('node:fs');
  const nodePath = process.getBuiltinModule('node:path');
  const { syncBuiltinESMExports } = process.getBuiltinModule('node:module');
  const page = 4096;
  const inside = (p: string): boolean => p === spec.root || p.startsWith(spec.root + nodePath.sep);
  const used = (): number => {
    let total = 0;
    const walk = (d: string): void => {
      for (const name of fs.readdirSync(d)) {
        const p = nodePath.join(d, name);
        const s = fs.statSync(p, { throwIfNoEntry: false });
        if (s?.isDirectory()) walk(p);
        else if (s) total += Math.ceil(s.size / page) * page;
      }
    };
    walk(spec.root);
    return total;
  };
  const enospc = (p: string): Error =>
    Object.assign(new Error(`ENOSPC: no space left on device, write '${p}'`), {
      code: 'ENOSPC',
      errno: -28,
      syscall: 'write',
      path: p,
    });
  const handlePaths = new WeakMap<object, string>();
  let patched = false;
  const guard = (handle: object, data: unknown): void => {
    const p = handlePaths.get(handle);
    if (p === undefined || !inside(p)) return;
    const length =
      typeof data === 'string' ? Buffer.byteLength(data) : ArrayBuffer.isView(data) ? data.byteLength : 0;
    if (used() + length > spec.bytes) throw enospc(p);
  };
  type Proto = {
    write: (...a: unknown[]) => Promise<unknown>;
    writeFile: (...a: unknown[]) => Promise<unknown>;
  };
  const patchProto = (proto: Proto): void => {
    const write = proto.write;
    const writeFile = proto.writeFile;
    proto.write = async function (this: object, ...args: unknown[]) {
      guard(this, args[0]);
      return write.apply(this, args);
    };
    proto.writeFile = async function (this: object, ...args: unknown[]) {
      guard(this, args[0]);
      return writeFile.apply(this, args);
    };
  };
  const open = fsp.open;
  fsp.open = async function (...args: Parameters<typeof open>) {
    const handle = await open(...args);
    if (!patched) {
      patched = true;
      patchProto(Object.getPrototypeOf(handle) as Proto);
    }
    handlePaths.set(handle, nodePath.resolve(String(args[0])));
    return handle;
  } as typeof open;
  const statfs = fsp.statfs;
  fsp.statfs = async function (...args: Parameters<typeof statfs>) {
    const info = await statfs(...args);
    if (!inside(nodePath.resolve(String(args[0])))) return info;
    const free = Math.floor(Math.max(0, spec.bytes - used()) / page);
    return Object.assign(Object.create(Object.getPrototypeOf(info) as object) as typeof info, info, {
      bsize: page,
      blocks: Math.floor(spec.bytes / page),
      bfree: free,
      bavail: free,
    });
  } as typeof statfs;
  syncBuiltinESMExports();
}
