// Path values in a config layer, made absolute against that layer's base directory (the
// config file's, or the working directory for defaults and command-line values).
import type { PlatformPath } from 'node:path';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { pathFor } from '../platform-path.js';
import { isPlainObject, type Json } from './json.js';

/**
 * A path value resolved against its layer's base directory, by the host platform's rules
 * (on Windows `C:\Program Files\Arcserve` and `\\server\share\arcserve` are absolute).
 */
function resolvePathAt(layer: Json, keys: readonly string[], base: string, paths: PlatformPath): void {
  let node: unknown = layer;
  for (const key of keys.slice(0, -1)) {
    if (!isPlainObject(node)) return;
    node = node[key];
  }
  const last = keys[keys.length - 1] as string;
  if (isPlainObject(node) && typeof node[last] === 'string') node[last] = paths.resolve(base, node[last]);
}

/**
 * upstream.url: an absolute http:, https: or file: URL is kept; anything else is a
 * path. Either way the result names the feed directory and ends in '/', so that
 * 'feed.json' and relative file urls resolve inside it.
 */
export function normaliseFeedUrl(value: string, base: string): string {
  const url = /^(https?|file):/i.test(value) ? new URL(value) : pathToFileURL(resolve(base, value));
  if (url.pathname.endsWith('/feed.json')) url.pathname = url.pathname.slice(0, -'feed.json'.length);
  // A parent staging server's catalog (tiered mirrors) is a document, not a directory.
  if (/\/v1\/catalog\/?$/.test(url.pathname) && /^https?:$/.test(url.protocol)) {
    url.pathname = url.pathname.replace(/\/$/, '');
    return url.href;
  }
  if (!url.pathname.endsWith('/') && url.search === '') url.pathname += '/';
  return url.href;
}

const SERVER_PATHS = [
  ['dataDir'],
  ['listen', 'tls', 'cert'],
  ['listen', 'tls', 'key'],
  ['auth', 'adminTokenFile'],
  ['signing', 'keyFile'],
  ['signing', 'onlineKeyFile'],
  ['signing', 'root'],
  ['upstream', 'trustedRoot'],
  ['rollup', 'tokenFile'],
  ['notify', 'smtp', 'tls', 'ca'],
] as const;

const CLIENT_PATHS = [
  ['dataDir'],
  ['tokenFile'],
  ['trust', 'ca'],
  ['trust', 'root'],
  ['notify', 'smtp', 'tls', 'ca'],
] as const;

export function resolveServerPaths(layer: Json, base: string, platform?: NodeJS.Platform): Json {
  for (const keys of SERVER_PATHS) resolvePathAt(layer, keys, base, pathFor(platform));
  const upstream = layer.upstream;
  if (isPlainObject(upstream) && typeof upstream.url === 'string') {
    upstream.url = normaliseFeedUrl(upstream.url, base);
  }
  return layer;
}

export function resolveClientPaths(layer: Json, base: string, platform?: NodeJS.Platform): Json {
  const paths = pathFor(platform);
  for (const keys of CLIENT_PATHS) resolvePathAt(layer, keys, base, paths);
  if (Array.isArray(layer.products)) {
    for (const product of layer.products)
      if (isPlainObject(product)) resolvePathAt(product, ['installDir'], base, paths);
  }
  if (typeof layer.server === 'string') layer.server = [layer.server];
  return layer;
}
