// Paths compared by the rules of the platform they belong to, not of the machine running the
// code: a Windows host's paths have drive letters (C:\Program Files\Arcserve) and UNC names
// (\\server\share\arcserve), and compare without regard to case, as NTFS does. Taking the
// platform as a parameter lets Linux tests drive the Windows rules.
import path from 'node:path';

/** node:path's functions for `platform`: path.win32 for 'win32', path.posix for the rest. */
export function pathFor(platform: NodeJS.Platform = process.platform): path.PlatformPath {
  return platform === 'win32' ? path.win32 : path.posix;
}

/**
 * True when `child` lies under `parent` (not `parent` itself): resolved first, so `..` cannot
 * lead out; on Windows compared case-insensitively (path.win32.relative folds case), and a
 * path on another drive or share is never inside.
 */
export function isInside(
  parent: string,
  child: string,
  platform: NodeJS.Platform = process.platform,
): boolean {
  const p = pathFor(platform);
  const rel = p.relative(p.resolve(parent), p.resolve(child));
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${p.sep}`) && !p.isAbsolute(rel);
}
