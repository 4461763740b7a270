import { constants } from 'node:fs';
import { access, mkdir, statfs } from 'node:fs/promises';
import { errorMessage, fetchConditional, parseCatalog } from '@patchbay/core';
import { assertBlobUrls } from '../catalog-source.js';
import { normaliseServer } from '../failover.js';
import type { Session } from '../session.js';
import type { CommandArgs } from './common.js';

export interface DoctorCheck {
  check: string;
  ok: boolean;
  message: string;
}

/** Below this much free space in the cache's filesystem, downloads are likely to fail. */
const MIN_FREE_BYTES = 512 * 1024 * 1024;

async function checkServer(session: Session, raw: string): Promise<DoctorCheck> {
  const server = normaliseServer(raw);
  const check = `server ${server}`;
  try {
    const res = await fetchConditional(
      `${server}/v1/catalog`,
      {},
      { dispatcher: session.dispatcher, retries: 0, stallTimeoutMs: session.config.timeoutSeconds * 1000 },
    );
    if (res.notModified) return { check, ok: false, message: 'answered 304 to an unconditional request' };
    const catalog = parseCatalog(res.body, `${server}/v1/catalog`);
    assertBlobUrls(catalog, server);
    return {
      check,
      ok: true,
      message: `reachable; catalog sequence ${catalog.sequence} is valid (${catalog.patches.length} patches)`,
    };
  } catch (err) {
    return { check, ok: false, message: errorMessage(err) };
  }
}

async function checkCacheSpace(session: Session): Promise<DoctorCheck> {
  const check = `cache ${session.paths.cache}`;
  try {
    await mkdir(session.paths.cache, { recursive: true });
    const fs = await statfs(session.paths.cache);
    const free = fs.bavail * fs.bsize;
    const mib = Math.floor(free / (1024 * 1024));
    return free >= MIN_FREE_BYTES
      ? { check, ok: true, message: `${mib} MiB free` }
      : {
          check,
          ok: false,
          message: `only ${mib} MiB free (want at least ${MIN_FREE_BYTES / (1024 * 1024)} MiB)`,
        };
  } catch (err) {
    return { check, ok: false, message: errorMessage(err) };
  }
}

async function checkInstallDir(
  index: number,
  id: string,
  release: string,
  dir: string,
): Promise<DoctorCheck> {
  const check = `products[${index}] ${id} ${release} installDir ${dir}`;
  try {
    await access(dir, constants.W_OK);
    return { check, ok: true, message: 'exists and is writable' };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return {
      check,
      ok: false,
      message:
        code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not writable' : errorMessage(err),
    };
  }
}

/** doctor: a line per check (config, each server, cache space, install dirs); exit 1 if any fails. */
export async function doctorCommand(session: Session, _args: CommandArgs): Promise<number> {
  const checks: DoctorCheck[] = [
    {
      check: 'config',
      ok: true,
      message: `${session.configFile ?? '(defaults)'} is valid; hostId ${session.config.hostId}, dataDir ${session.config.dataDir}`,
    },
  ];
  for (const server of session.config.server) checks.push(await checkServer(session, server));
  checks.push(await checkCacheSpace(session));
  for (const [i, p] of session.config.products.entries()) {
    checks.push(await checkInstallDir(i, p.id, p.release, p.installDir));
  }
  const ok = checks.every((c) => c.ok);
  session.out.document({ ok, checks });
  for (const c of checks) session.out.line(`${c.ok ? 'ok  ' : 'FAIL'}  ${c.check}: ${c.message}`);
  return ok ? 0 : 1;
}
