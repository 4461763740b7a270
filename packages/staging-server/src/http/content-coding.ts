// Accept-Encoding negotiation for the one coding we precompute (gzip, RFC 9110 §12.5.3):
// gzip only when the client ranks it at least as high as the unencoded bytes ("identity").
// @fastify/accept-negotiator reads the q-values and ranks; it reads `*` as the first supported
// coding only, so `*` is first spelled out here as the codings the client did not name (§12.5.3:
// a named coding's q wins over `*`'s; `gzip;q=0, *` refuses gzip).
import { negotiate } from '@fastify/accept-negotiator';

// In order of preference on a tie: a client that asked for a coding gets it
const CODINGS = ['gzip', 'x-gzip', 'identity'];

function codingOf(item: string): string {
  return (item.split(';')[0] ?? '').trim();
}

/** `*;q=…` replaced by the same rank for gzip and identity, each unless the header names it. */
function spellOutWildcard(header: string): string {
  const items = header.toLowerCase().split(',');
  const named = new Set(items.map(codingOf));
  const unnamed = [
    named.has('gzip') || named.has('x-gzip') ? [] : ['gzip'],
    named.has('identity') ? [] : ['identity'],
  ].flat();
  return items
    .flatMap((item) => (codingOf(item) === '*' ? unnamed.map((coding) => item.replace('*', coding)) : [item]))
    .join(',');
}

/**
 * True when gzip is the better answer: its q (named, as gzip or x-gzip, else `*`'s) is above 0
 * and not below identity's. Identity's q is its own when named, else `*`'s when present; a
 * client that names neither accepts it (§12.5.3) but has asked for a coding, so gzip wins a tie.
 * `gzip;q=0.5, identity;q=1` is therefore identity; `deflate, gzip;q=0.5` is gzip.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  const chosen = negotiate(spellOutWildcard(header), CODINGS);
  return chosen === 'gzip' || chosen === 'x-gzip';
}
