// Defences against a web page that someone on the LAN, or on this machine, happens to open:
//   - DNS rebinding: a name the attacker owns, re-pointed at this server, makes the page
//     "same-origin" with it. On a route that only the network guards (loopback trust when no
//     admin token is set, or public status) the Host header is the only sign: it must be a
//     name this server answers to (421 otherwise).
//   - Cross-site requests: an HTML form or a no-cors fetch can POST text/plain, form data
//     or nothing at all without a preflight. A state-changing request whose Origin is not
//     this server is refused (403), and admin POSTs take JSON only (415), which no form
//     and no no-cors fetch can send.
// Routes every host needs (catalog, blobs, TUF, keys, health) and token-authenticated ones
// (reports, rollups) answer any Host: hosts, branches and proxies reach this server by
// whatever name or address they were given, and a browser cannot send their tokens.
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import type { FastifyInstance, FastifyRequest, onRequestHookHandler } from 'fastify';
import type { ServerConfig } from '@patchbay/core';
import { HttpErrors } from '../http/errors.js';
import { accessOf, isRouteAccess } from './access.js';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/** The names a network-guarded route answers to, besides IP literals and localhost. */
export interface HostPolicy {
  names: ReadonlySet<string>;
  /** from ".example.org" entries: the domain and every name below it, each with its leading dot */
  suffixes: readonly string[];
}

function normaliseName(name: string): string {
  return name.trim().toLowerCase().replace(/\.$/, '');
}

export function hostPolicy(
  listen: Pick<ServerConfig['listen'], 'host' | 'allowedHosts'>,
  machineName: string = hostname(),
): HostPolicy {
  const names = new Set(['localhost', normaliseName(machineName), normaliseName(listen.host)]);
  const suffixes: string[] = [];
  for (const entry of listen.allowedHosts ?? []) {
    const name = normaliseName(entry);
    if (name.startsWith('.')) {
      suffixes.push(name);
      names.add(name.slice(1));
    } else names.add(name);
  }
  return { names, suffixes };
}

/** The host part of a Host header value ("[::1]:8080" -> "::1"); null when it is not one. */
export function hostOfHeader(header: string): string | null {
  let url: URL;
  try {
    url = new URL(`http://${header}`);
  } catch {
    return null;
  }
  // Anything beyond host[:port] (a path, credentials) is not a Host header.
  if (url.username !== '' || url.password !== '' || url.pathname !== '/' || url.search || url.hash)
    return null;
  const name = url.hostname.startsWith('[') ? url.hostname.slice(1, -1) : url.hostname;
  return normaliseName(name);
}

/**
 * True when a network-guarded route may answer this Host. An IP literal cannot be rebound
 * (the page's origin is then the address itself, not a name an attacker controls), nor can
 * localhost and *.localhost (RFC 6761: resolved to loopback, never by DNS).
 */
export function isAllowedHost(header: string | undefined, policy: HostPolicy): boolean {
  // HTTP/1.0 without Host: no browser sends that (Node refuses HTTP/1.1 without one).
  if (header === undefined) return true;
  const name = hostOfHeader(header);
  if (name === null) return false;
  if (isIP(name) !== 0 || name === 'localhost' || name.endsWith('.localhost')) return true;
  return policy.names.has(name) || policy.suffixes.some((suffix) => name.endsWith(suffix));
}

/** True when `origin` (an Origin header) is the same scheme-less authority as `host` (the Host header). */
export function isSameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const from = new URL(origin);
    if (from.protocol !== 'http:' && from.protocol !== 'https:') return false;
    // Parsed with the Origin's scheme, so that default ports compare equal ("a" and "a:80").
    return from.host === new URL(`${from.protocol}//${host}`).host;
  } catch {
    return false; // "null" (a sandboxed frame, a file: page) and anything unparsable
  }
}

/** application/json or a +json type, parameters aside. */
export function isJsonMediaType(contentType: string): boolean {
  const type = (contentType.split(';')[0] ?? '').trim().toLowerCase();
  return type === 'application/json' || /^application\/[a-z0-9.+-]+\+json$/.test(type);
}

function hasBody(request: FastifyRequest): boolean {
  const length = request.headers['content-length'];
  return request.headers['transfer-encoding'] !== undefined || (length !== undefined && length !== '0');
}

export interface SameOriginOptions {
  listen: Pick<ServerConfig['listen'], 'host' | 'allowedHosts'>;
  /** an admin token is configured: admin routes need it, the network alone no longer decides */
  adminToken: boolean;
  /** read routes answer without any credential */
  publicStatus: boolean;
}

/**
 * Call before any route is registered (its onRoute hook classifies each route as the access
 * guard does). The checks run after the guard's: a caller the guard refuses learns nothing here.
 */
export function installSameOriginChecks(app: FastifyInstance, options: SameOriginOptions): void {
  const policy = hostPolicy(options.listen);
  app.addHook('onRoute', (route) => {
    const url = route.url ?? route.path;
    const stated = (route.config as { access?: unknown } | undefined)?.access;
    const access = isRouteAccess(stated) ? stated : accessOf(route.method, url);
    // Where nothing but the network decides who may call: these must check the Host.
    const networkGuarded =
      (access === 'admin' && !options.adminToken) ||
      (access === 'read' && (options.publicStatus || !options.adminToken));
    const methods = typeof route.method === 'string' ? [route.method] : route.method;
    const changesState = methods.some((method) => !SAFE_METHODS.has(method));
    if (!networkGuarded && !changesState) return;
    const jsonOnly = access === 'admin';
    const hook: onRequestHookHandler = async (request) => {
      const { host, origin } = request.headers;
      if (networkGuarded && !isAllowedHost(host, policy)) throw HttpErrors.UNKNOWN_HOST(host ?? '');
      if (SAFE_METHODS.has(request.method)) return;
      if (origin !== undefined && !isSameOrigin(origin, host)) throw HttpErrors.CROSS_ORIGIN(origin);
      const contentType = request.headers['content-type'];
      if (jsonOnly && (contentType !== undefined ? !isJsonMediaType(contentType) : hasBody(request)))
        throw HttpErrors.NOT_JSON(contentType ?? '(none, with a body)');
    };
    const existing = route.onRequest;
    route.onRequest =
      existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook];
  });
}
