import { constants } from 'node:fs';
import { access, statfs } from 'node:fs/promises';
import { ensurePrivateDir, errorMessage, nextStep } from '@patchbay/core';
import type { NextStepContext } from '@patchbay/core';
import type { Session } from '../session.js';
import type { Upstream } from '../upstream.js';
import type { CommandArgs } from './common.js';

export interface DoctorCheck {
  check: string;
  ok: boolean;
  message: string;
  /** what to do about a failed check (extension: the key to fix, the command to run) */
  hint?: string;
}

function hintContext(session: Session): NextStepContext {
  return {
    program: 'patchbay-client',
    hostId: session.config.hostId,
    dataDir: session.config.dataDir,
    command: 'doctor',
    ...(session.configFile ? { configFile: session.configFile } : {}),
  };
}

/** A failed check for `err`, with what to do next when there is something to say. */
function failed(session: Session, check: string, err: unknown): DoctorCheck {
  const hint = nextStep(err, hintContext(session));
  return { check, ok: false, message: errorMessage(err), ...(hint ? { hint } : {}) };
}

/** Below this much free space in the cache's filesystem, downloads are likely to fail. */
const MIN_FREE_BYTES = 512 * 1024 * 1024;

/**
 * A staging server or a publisher's repository: reachable, its TUF metadata verifies against
 * the trust root, with warnings for trust on first use and an online key signing targets.
 */
async function checkServer(session: Session, upstream: Upstream): Promise<DoctorCheck> {
  const check = `${upstream.kind === 'repository' ? 'repository' : 'server'} ${upstream.url}`;
  try {
    const { catalog, tuf } = await session.catalogSource.probe(upstream);
    const warnings: string[] = [];
    const hints: string[] = [];
    if (tuf.source === 'trust on first use') {
      warnings.push('WARNING: the trust root was taken on first use');
      hints.push('set trust.root to the root metadata file shipped with the deployment');
    }
    if (tuf.onlineKeySignsTargets) {
      warnings.push(
        'WARNING: an online staging-server key signs targets (signing.targets "mirror"): a compromised staging server controls this host',
      );
      hints.push(
        'have the publisher sign targets off the DMZ (patchbay-publish import-feed) and rotate the root',
      );
    }
    return {
      check,
      ok: true,
      message:
        `reachable; TUF metadata verifies against ${tuf.source} (root version ${tuf.rootVersion}); ` +
        `snapshot ${catalog.sequence}, ${catalog.patches.length} patches for this host's products` +
        warnings.map((w) => `; ${w}`).join(''),
      ...(hints.length > 0 ? { hint: hints.join('; ') } : {}),
    };
  } catch (err) {
    return failed(session, check, err);
  }
}

/** The cached catalog (what offline commands use): re-verified, and not expired. */
async function checkCachedCatalog(session: Session): Promise<DoctorCheck | undefined> {
  const check = `kept TUF metadata ${session.paths.root}/tuf`;
  try {
    const kept = await session.catalogSource.cached();
    if (!kept) return undefined;
    if (kept.expired) {
      return {
        check,
        ok: false,
        message: `from ${kept.server}: snapshot ${kept.catalog.sequence} expired at ${kept.catalog.expiresAt ?? '?'}: installs and downloads are refused`,
        hint: 'run "patchbay-client check" to fetch fresh metadata (a staging server re-signs its timestamp on its own)',
      };
    }
    return {
      check,
      ok: true,
      message: `from ${kept.server}: verifies offline against ${kept.trusted.source}; snapshot ${kept.catalog.sequence}, expires at ${kept.catalog.expiresAt ?? '?'}`,
    };
  } catch (err) {
    return failed(session, check, err);
  }
}

async function checkCacheSpace(session: Session): Promise<DoctorCheck> {
  const check = `cache ${session.paths.cache}`;
  try {
    await ensurePrivateDir(session.paths.cache);
    const fs = await statfs(session.paths.cache);
    const free = fs.bavail * fs.bsize;
    const mib = Math.floor(free / (1024 * 1024));
    return free >= MIN_FREE_BYTES
      ? { check, ok: true, message: `${mib} MiB free` }
      : {
          check,
          ok: false,
          message: `only ${mib} MiB free (want at least ${MIN_FREE_BYTES / (1024 * 1024)} MiB)`,
          hint: `free space there, or set dataDir to a larger filesystem`,
        };
  } catch (err) {
    return failed(session, check, err);
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
    const key = `products[${index}].installDir`;
    return {
      check,
      ok: false,
      message:
        code === 'ENOENT' ? 'does not exist' : code === 'EACCES' ? 'is not writable' : errorMessage(err),
      hint:
        code === 'EACCES'
          ? `run patchbay-client as a user that may write ${dir}, or fix ${key}`
          : `install the product there, or fix ${key} to where it is installed`,
    };
  }
}

/** doctor: a line per check (config, each server, the cached catalog, cache space, install dirs); exit 1 if any fails. */
export async function doctorCommand(session: Session, _args: CommandArgs): Promise<number> {
  const checks: DoctorCheck[] = [
    {
      check: 'config',
      ok: true,
      message: `${session.configFile ?? '(defaults)'} is valid; hostId ${session.config.hostId}, dataDir ${session.config.dataDir}`,
    },
  ];
  for (const upstream of session.upstreams) checks.push(await checkServer(session, upstream));
  const cached = await checkCachedCatalog(session);
  if (cached) checks.push(cached);
  checks.push(await checkCacheSpace(session));
  for (const [i, p] of session.config.products.entries()) {
    checks.push(await checkInstallDir(i, p.id, p.release, p.installDir));
  }
  const ok = checks.every((c) => c.ok);
  session.out.document({ ok, checks });
  const { style } = session.out;
  for (const c of checks) {
    const mark = c.ok ? style.paint('green', 'ok  ') : style.paint(['bold', 'red'], 'FAIL');
    session.out.line(`${mark}  ${c.check}: ${c.message}`);
    if (c.hint) session.out.line(`      ${style.paint('yellow', 'hint:')} ${c.hint}`);
  }
  if (!ok) session.out.line(`${checks.filter((c) => !c.ok).length} of ${checks.length} checks failed`);
  return ok ? 0 : 1;
}
