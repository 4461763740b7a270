// Accept-Encoding negotiation for the one coding we precompute (gzip, RFC 9110 §12.5.3).

function qualityOf(param: string | undefined): number {
  const match = param ? /^\s*q\s*=\s*([01](?:\.\d{0,3})?)\s*$/i.exec(param) : null;
  return match?.[1] !== undefined ? Number(match[1]) : 1;
}

/** True when the client accepts gzip: listed with q > 0, or covered by `*` with q > 0 and not refused by name. */
export function acceptsGzip(header: string | undefined): boolean {
  if (header === undefined) return false;
  let gzip: number | undefined;
  let wildcard: number | undefined;
  for (const item of header.split(',')) {
    const [name = '', ...params] = item.split(';');
    const coding = name.trim().toLowerCase();
    const q = qualityOf(params.find((p) => /^\s*q\s*=/i.test(p)));
    if (coding === 'gzip' || coding === 'x-gzip') gzip = Math.max(gzip ?? 0, q);
    else if (coding === '*') wildcard = q;
  }
  if (gzip !== undefined) return gzip > 0;
  return wildcard !== undefined && wildcard > 0;
}
