import { resolve, sep } from 'node:path';

export type RequestPathResult = { ok: true; path: string } | { ok: false; status: 400 | 404; reason: string };

/**
 * Map a request target to a file under `root`, refusing anything that could leave it:
 * absolute-form targets, backslashes (raw or %5C), NUL, bad percent-encoding, and `.`/`..`
 * segments (raw or encoded) are 400; the resolved path is checked against the root prefix
 * (with path.sep, so /feed-other is not inside /feed) as a last line of defence.
 * `root` must be absolute and normalised (path.resolve).
 */
export function resolveRequestPath(root: string, target: string): RequestPathResult {
  if (!target.startsWith('/')) return { ok: false, status: 400, reason: 'request target is not origin-form' };
  const rawPath = target.split('?', 1)[0] ?? '';
  if (rawPath.includes('\\')) return { ok: false, status: 400, reason: 'backslash in path' };
  let decoded: string;
  try {
    decoded = decodeURIComponent(rawPath);
  } catch {
    return { ok: false, status: 400, reason: 'bad percent-encoding' };
  }
  if (decoded.includes('\0')) return { ok: false, status: 400, reason: 'NUL in path' };
  if (decoded.includes('\\')) return { ok: false, status: 400, reason: 'encoded backslash in path' };
  const segments = decoded.split('/').filter((segment) => segment.length > 0);
  if (segments.some((segment) => segment === '.' || segment === '..')) {
    return { ok: false, status: 400, reason: 'dot segment in path' };
  }
  if (segments.length === 0) return { ok: false, status: 404, reason: 'no file named' };
  const path = resolve(root, ...segments);
  if (!path.startsWith(root + sep)) return { ok: false, status: 400, reason: 'path leaves the feed root' };
  return { ok: true, path };
}

/** True when `path` is `root` itself or below it (both already resolved). */
export function isWithinRoot(root: string, path: string): boolean {
  return path === root || path.startsWith(root.endsWith(sep) ? root : root + sep);
}
