// `patchbay-server sync` while `serve` holds the data directory: the CLI cannot sync itself
// (one process per data dir), so it asks the running server — POST /v1/sync with the admin
// token from the config, at the address of the config's listen — and waits for that sync's
// report in /v1/status.
import { readFileSync } from 'node:fs';
import { Agent, request, type Dispatcher } from 'undici';
import { ErrorCodes, errorMessage, PatchbayError, type ServerConfig } from '@patchbay/core';
import { resolveAdminToken } from '../auth/admin-token.js';
import type { SyncReport } from '../mirror.js';

export interface RemoteSyncResult {
  /** the running server's base URL */
  url: string;
  report: SyncReport;
  /** the mirror's catalog sequence after the sync, as /v1/status shows it */
  sequence: number | null;
  /** true when a sync was already running there: its report is the one shown */
  joined: boolean;
}

export interface RemoteSyncOptions {
  /** how often /v1/status is read while the sync runs */
  pollMs?: number;
  /** give up waiting after this long (the sync goes on in the server) */
  timeoutMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

interface StatusDoc {
  lastSync: SyncReport | null;
  syncing?: boolean;
  mirror?: { sequence?: number };
}

/** The running server's address from listen: a wildcard host is reached over loopback. */
export function serverBaseUrl(listen: ServerConfig['listen']): string {
  const host =
    listen.host === '0.0.0.0' || listen.host === ''
      ? '127.0.0.1'
      : listen.host === '::'
        ? '::1'
        : listen.host;
  const scheme = listen.tls ? 'https' : 'http';
  return `${scheme}://${host.includes(':') ? `[${host}]` : host}:${listen.port}`;
}

/**
 * Ask the server at the config's listen address to sync and wait for its report. A sync
 * already running there is waited for and reported instead (`joined`).
 */
export async function syncViaRunningServer(
  config: ServerConfig,
  opts: RemoteSyncOptions = {},
): Promise<RemoteSyncResult> {
  const now = opts.now ?? Date.now;
  const sleep = opts.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const url = serverBaseUrl(config.listen);
  if (config.listen.port === 0) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `the data directory ${config.dataDir} is in use by a running server, but listen.port is 0: its address is unknown; ` +
        `give listen.port, or use POST /v1/sync`,
      { key: 'listen.port' },
    );
  }
  const token = resolveAdminToken(config.auth);
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  // The server's own certificate (self-signed or from a private CA) is trusted for this call.
  const dispatcher: Dispatcher | undefined = config.listen.tls
    ? new Agent({ connect: { ca: readFileSync(config.listen.tls.cert) } })
    : undefined;
  const call = async (method: 'GET' | 'POST', path: string): Promise<{ status: number; body: string }> => {
    try {
      const res = await request(`${url}${path}`, {
        method,
        headers,
        signal: AbortSignal.timeout(30_000),
        ...(dispatcher ? { dispatcher } : {}),
      });
      return { status: res.statusCode, body: await res.body.text() };
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.NETWORK,
        `the data directory ${config.dataDir} is in use by a running server, which does not answer at ${url}: ${errorMessage(err)}`,
        { url },
        { cause: err },
      );
    }
  };
  const refused = (what: string, res: { status: number; body: string }): PatchbayError => {
    let message = res.body.slice(0, 300);
    try {
      message = (JSON.parse(res.body) as { message?: string }).message ?? message;
    } catch {
      // not an error body: keep the text
    }
    const hint =
      res.status === 401 || res.status === 403
        ? ' (the admin token of this config, auth.adminToken or auth.adminTokenFile, is not the running server’s)'
        : '';
    return new PatchbayError(
      ErrorCodes.HTTP_STATUS,
      `${what} at ${url}: HTTP ${res.status}: ${message}${hint}`,
      { url, status: res.status },
    );
  };
  const status = async (): Promise<StatusDoc> => {
    const res = await call('GET', '/v1/status');
    if (res.status !== 200) throw refused('GET /v1/status', res);
    return JSON.parse(res.body) as StatusDoc;
  };

  try {
    // A finished sync is the one before ours; a running one is the one we may join (409).
    const first = (await status()).lastSync;
    const before = first?.finishedAt ? first.startedAt : null;
    const started = await call('POST', '/v1/sync');
    const joined = started.status === 409;
    if (started.status !== 202 && !joined) throw refused('POST /v1/sync', started);
    const deadline = now() + (opts.timeoutMs ?? 60 * 60_000);
    for (;;) {
      const doc = await status();
      const last = doc.lastSync;
      if (last && last.startedAt !== before && last.finishedAt && last.outcome !== 'running') {
        return { url, report: last, sequence: doc.mirror?.sequence ?? null, joined };
      }
      if (now() > deadline) {
        throw new PatchbayError(
          ErrorCodes.NETWORK,
          `the sync at ${url} did not finish in time; it goes on in the server (see /v1/status)`,
          { url },
        );
      }
      await sleep(opts.pollMs ?? 500);
    }
  } finally {
    await dispatcher?.close();
  }
}
