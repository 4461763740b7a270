// Accept-Encoding negotiation for the one coding we precompute (gzip, RFC 9110 §12.5.3):
// gzip only when the client ranks it at least as high as the unencoded bytes ("identity").

function qualityOf(param: string | undefined): number {
  const match = param ? /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param) : null;
  return match?.[1] !== undefined ? Number(match[1]) : 1;
}

/**
 * True when gzip is the better answer: its q (named, as gzip or x-gzip, else `*`'s) is above 0
 * and not below identity's. Identity's q is its own when named, else `*`'s when present; a
 * client that names neither accepts it (§12.5.3) but has asked for a coding, so gzip wins a tie.
 * `gzip;q=0.5, identity;q=1` is therefore identity; `deflate, gzip;q=0.5` is gzip.
 */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let identity: number | undefined;
  let wildcard: number | undefined;
  for (const item of header.split(',')) {
    const [name = '', ...params] = item.split(';');
    const coding = name.trim().toLowerCase();
    const q = qualityOf(params.find((p) => /^\s*q\s*=/i.test(p)));
    if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (coding === 'identity') identity = q;
    else if (coding === '*') wildcard = q;
  }
  const gzipQ = gzip ?? wildcard ?? 0;
  const identityQ = identity ?? wildcard ?? 0;
  return gzipQ > 0 && gzipQ >= identityQ;
}
