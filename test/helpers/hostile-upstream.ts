// A hostile vendor feed server for the end-to-end security tests: a real node:http server on
// loopback that serves a feed directory from disk, but whose feed.json signature and body
// the test controls — signed by any key, unsigned, a signature of other bytes, or an
// endless feed.json generated on the fly (never written to disk).
import fs from 'node:fs';
import http from 'node:http';
import path from 'node:path';
import type { AddressInfo } from 'node:net';
import type { KeyObject } from 'node:crypto';
import { sign } from 'node:crypto';

export type SignaturePolicy =
  /** feed.json.sig from the directory, if any */
  | { kind: 'file' }
  /** sign the feed.json bytes being served with this key */
  | { kind: 'key'; key: KeyObject }
  /** a valid signature by `key`, but of other bytes */
  | { kind: 'other-bytes'; key: KeyObject }
  /** 404 for feed.json.sig */
  | { kind: 'none' };

export type FeedBodyPolicy =
  | { kind: 'file' }
  /** `bytes` of JSON-looking data generated as it is sent; with or without Content-Length */
  | { kind: 'endless'; bytes: number; contentLength: boolean };

export interface HostileUpstream {
  /** the feed directory URL, ending in '/' */
  url: string;
  signature: SignaturePolicy;
  feedBody: FeedBodyPolicy;
  /** body bytes of generated feed.json responses that the socket accepted, summed */
  endlessBytesSent: () => number;
  close: () => Promise<void>;
}

const CHUNK = 64 * 1024;

export async function startHostileUpstream(feedDir: string): Promise<HostileUpstream> {
  let endlessSent = 0;
  const state: HostileUpstream = {
    url: '',
    signature: { kind: 'file' },
    feedBody: { kind: 'file' },
    endlessBytesSent: () => endlessSent,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };

  const notFound = (res: http.ServerResponse) => {
    res.statusCode = 404;
    res.end('not found');
  };

  const serveEndless = (res: http.ServerResponse, total: number, contentLength: boolean) => {
    res.setHeader('content-type', 'application/json');
    if (contentLength) res.setHeader('content-length', String(total));
    const head = Buffer.from('{"format":"patchbay-feed/1","vendor":"Endless","sequence":99,"padding":"');
    const filler = Buffer.alloc(CHUNK, 'x');
    let written = 0;
    let closed = false;
    res.on('close', () => (closed = true));
    const pump = () => {
      while (!closed && written < total) {
        const chunk = written === 0 ? head : filler.subarray(0, Math.min(CHUNK, total - written));
        written += chunk.length;
        const ok = res.write(chunk, (err) => {
          if (!err) endlessSent += chunk.length;
        });
        if (!ok) {
          res.once('drain', pump);
          return;
        }
      }
      if (!closed) res.end();
    };
    pump();
  };

  const server = http.createServer((req, res) => {
    const pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    const relative = pathname.replace(/^\/+/, '');
    const file = path.resolve(feedDir, relative);
    if (!file.startsWith(path.resolve(feedDir) + path.sep)) return notFound(res);

    if (relative === 'feed.json' && state.feedBody.kind === 'endless') {
      return serveEndless(res, state.feedBody.bytes, state.feedBody.contentLength);
    }
    if (relative === 'feed.json.sig' && state.signature.kind !== 'file') {
      const policy = state.signature;
      if (policy.kind === 'none') return notFound(res);
      const feedBytes = fs.readFileSync(path.join(feedDir, 'feed.json'));
      const signed = policy.kind === 'key' ? feedBytes : Buffer.concat([feedBytes, Buffer.from('\n ')]);
      res.setHeader('content-type', 'text/plain');
      return res.end(sign(null, signed, policy.key).toString('base64'));
    }
    fs.readFile(file, (err, data) => {
      if (err) return notFound(res);
      res.setHeader('content-length', String(data.length));
      res.end(req.method === 'HEAD' ? undefined : data);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  return state;
}

/** VmRSS of a process in bytes (Linux /proc), or null where there is no /proc. */
export function residentBytes(pid: number): number | null {
  try {
    const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
    return match ? Number(match[1]) * 1024 : null;
  } catch {
    return null;
  }
}
