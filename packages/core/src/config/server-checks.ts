// The staging server's config rules that a JSON Schema cannot state: keys that depend on
// each other (what kind of upstream, who signs targets) and values that must be parsed
// (allowed origins). Each throws PB_ERR_CONFIG naming the key.
import { configError } from './config-error.js';
import type { ServerConfig } from './server-schema.js';

/**
 * An origin as `URL.origin` writes it (`https://cdn.example`, default port dropped, host in
 * lower case), or null when `value` is not one: http(s) only, no credentials, path, query or
 * fragment (a lone trailing `/` is allowed).
 */
export function normaliseOrigin(value: string): string | null {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return null;
  if (url.pathname !== '/' || !/^[a-z][a-z0-9+.-]*:\/\/[^/]+\/?$/i.test(value.trim())) return null;
  return url.origin;
}

/** upstream.allowedOrigins made into normalised origins; an entry that is not one is a config error. */
export function normaliseAllowedOrigins(config: ServerConfig): void {
  const given: unknown = config.upstream.allowedOrigins;
  if (!Array.isArray(given)) {
    config.upstream.allowedOrigins = [];
    return;
  }
  config.upstream.allowedOrigins = given.map((value: unknown, i) => {
    const origin = typeof value === 'string' ? normaliseOrigin(value) : null;
    if (origin === null) {
      const key = `upstream.allowedOrigins[${i}]`;
      throw configError(
        'config',
        null,
        key,
        `${key} ${JSON.stringify(value)} is not an origin: give scheme://host[:port] with http or https, no path`,
      );
    }
    return origin;
  });
}

/**
 * What the upstream is comes from the config (docs/topologies.md): with upstream.trustedRoot a
 * TUF repository (a parent staging server's is `<server>/v1/tuf/`), without it a feed or a
 * parent's `/v1/catalog`. A URL of the other kind's documented shape is a config error saying
 * which, never a guess made from what the upstream answers.
 */
export function assertUpstreamKind(config: ServerConfig): void {
  const trustedRoot = typeof config.upstream.trustedRoot === 'string' && config.upstream.trustedRoot !== '';
  let url: URL;
  try {
    url = new URL(config.upstream.url);
  } catch {
    return;
  }
  if (!/^https?:$/.test(url.protocol)) return;
  if (trustedRoot && /\/v1\/catalog\/?$/.test(url.pathname)) {
    throw configError(
      'config',
      null,
      'upstream.url',
      `upstream.url ${config.upstream.url} is a staging server's catalog, and upstream.trustedRoot makes the ` +
        'upstream a TUF repository: a parent staging server serves its TUF repository at <server>/v1/tuf/',
    );
  }
  if (!trustedRoot && /\/v1\/tuf\/?$/.test(url.pathname)) {
    throw configError(
      'config',
      null,
      'upstream.trustedRoot',
      `upstream.url ${config.upstream.url} is a staging server's TUF repository: set upstream.trustedRoot ` +
        "to the publisher's root metadata file it is verified from",
    );
  }
}

/**
 * signing.targets "mirror" (this server signs targets) takes a patchbay-feed/1 upstream and the
 * organisation's root in signing.root; signing.root means nothing without it.
 */
export function assertTargetsSigning(config: ServerConfig): void {
  const mirror = config.signing.targets === 'mirror';
  const hasRoot = typeof config.signing.root === 'string' && config.signing.root !== '';
  const trustedRoot = typeof config.upstream.trustedRoot === 'string' && config.upstream.trustedRoot !== '';
  if (mirror && trustedRoot) {
    throw configError(
      'config',
      null,
      'upstream.trustedRoot',
      'upstream.trustedRoot makes the upstream a TUF repository whose publisher signs targets, and ' +
        'signing.targets "mirror" makes this server sign them from a patchbay-feed/1: set one of them',
    );
  }
  if (mirror && !hasRoot) {
    throw configError(
      'config',
      null,
      'signing.root',
      'signing.targets "mirror" needs signing.root: the root metadata file the organisation made offline ' +
        "(patchbay-publish init --targets-key <online.key.pub> --online-key <online.key.pub>) listing this server's online key for targets, snapshot and timestamp",
    );
  }
  if (!mirror && hasRoot) {
    throw configError(
      'config',
      null,
      'signing.root',
      'signing.root is used only with signing.targets "mirror" (this server signing targets); remove it or set signing.targets',
    );
  }
}

export function isLoopbackHost(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}
