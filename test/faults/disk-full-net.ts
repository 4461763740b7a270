// Loopback pieces for the disk-full suite: the reference upstream and a pass-through proxy
// in front of a staging server, each with a hook that runs before a request is answered
// (where the test lets "another program" fill the disk), and the published-catalog checks.
import { createHash, createPublicKey } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { verifyDetached } from '@patchbay/core';
import type { Catalog } from '@patchbay/core';
import { createUpstreamHandler } from '@patchbay/sample-feed';

export interface HookedServer {
  url: string;
  /** paths requested, in order */
  requests: string[];
  close(): Promise<void>;
}

export type RequestHook = (urlPath: string) => void | Promise<void>;

async function listen(
  handler: (req: http.IncomingMessage, res: http.ServerResponse) => void,
  requests: string[],
): Promise<HookedServer> {
  const server = http.createServer(handler);
  server.listen(0, '127.0.0.1');
  await new Promise<void>((resolve) => server.once('listening', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** The reference upstream over `feedDir`; `hook` runs before each request is served. */
export async function hookedUpstream(feedDir: string, hook: RequestHook): Promise<HookedServer> {
  const serve = createUpstreamHandler({ root: feedDir });
  const requests: string[] = [];
  return listen((req, res) => {
    const urlPath = req.url ?? '/';
    requests.push(urlPath);
    Promise.resolve(hook(urlPath)).then(
      () => serve(req, res),
      () => res.destroy(),
    );
  }, requests);
}

/** A pass-through proxy to `target` (a staging server); `hook` runs before each request goes on. */
export async function hookedProxy(target: string, hook: RequestHook): Promise<HookedServer> {
  const requests: string[] = [];
  return listen((req, res) => {
    const urlPath = req.url ?? '/';
    requests.push(urlPath);
    void Promise.resolve(hook(urlPath)).then(() => {
      const upstream = http.request(
        `${target}${urlPath}`,
        { method: req.method, headers: { ...req.headers, host: new URL(target).host } },
        (answer) => {
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => res.destroy());
      req.pipe(upstream);
    });
  }, requests);
}

export interface PublishedCheck {
  ok: boolean;
  problems: string[];
  catalog?: Catalog;
}

async function get(url: string): Promise<Buffer> {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status}`);
  return Buffer.from(await res.arrayBuffer());
}

/**
 * The served catalog and the one on disk: the same bytes, each signature verifying with the
 * mirror key, and every blob it names present in the store with the right SHA-256.
 */
export async function checkPublished(serverUrl: string, dataDir: string): Promise<PublishedCheck> {
  const problems: string[] = [];
  const bytes = await get(`${serverUrl}/v1/catalog`);
  const signature = (await get(`${serverUrl}/v1/catalog.sig`)).toString('utf8');
  const keys = JSON.parse((await get(`${serverUrl}/v1/keys`)).toString('utf8')) as { mirror: string };
  const key = createPublicKey({ key: Buffer.from(keys.mirror, 'base64'), format: 'der', type: 'spki' });
  if (!verifyDetached(bytes, signature, key)) problems.push('served catalog signature does not verify');
  const currentPath = path.join(dataDir, 'catalog', 'current.json');
  const disk = readFileSync(currentPath);
  if (!disk.equals(bytes)) problems.push('catalog/current.json differs from the served catalog');
  const diskSig = readFileSync(`${currentPath}.sig`, 'utf8');
  if (!verifyDetached(disk, diskSig, key)) problems.push('catalog/current.json.sig does not verify');
  const catalog = JSON.parse(bytes.toString('utf8')) as Catalog;
  for (const patch of catalog.patches) {
    for (const file of patch.files) {
      const blob = path.join(dataDir, 'store', 'blobs', 'sha256', file.sha256.slice(0, 2), file.sha256);
      if (!existsSync(blob)) {
        problems.push(`blob of ${patch.id}/${file.name} missing`);
        continue;
      }
      const actual = createHash('sha256').update(readFileSync(blob)).digest('hex');
      if (actual !== file.sha256) problems.push(`blob of ${patch.id}/${file.name} hashes to ${actual}`);
    }
  }
  return { ok: problems.length === 0, problems, catalog };
}
