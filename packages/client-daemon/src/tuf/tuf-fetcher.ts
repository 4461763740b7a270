// tuf-js's Fetcher over patchbay's own request function, so TUF metadata and targets travel
// the same proxy, TLS (trust.ca) and stall-timeout path as everything else the client
// fetches. tuf-js's BaseFetcher streams into a temp file and cuts the body at the length
// the trusted metadata allows (endless-data protection); it needs a DownloadHTTPError with
// the status to tell "no newer root" (404) from a failure.
import { Readable } from 'node:stream';
import { openUrl } from '@patchbay/core';
import type { Dispatcher } from 'undici';
import { BaseFetcher } from 'tuf-js';
import { DownloadHTTPError } from 'tuf-js/dist/error.js';

export interface TufFetcherOptions {
  dispatcher?: Dispatcher;
  /** give up when headers or the next body bytes take longer (slow-retrieval protection) */
  stallTimeoutMs: number;
  /** every URL fetched, for logs and tests */
  onRequest?: (url: string) => void;
}

/** What BaseFetcher.fetch must resolve to: tuf-js 5 reads a web ReadableStream (getReader). */
type FetchedStream = Awaited<ReturnType<BaseFetcher['fetch']>>;

export class TufFetcher extends BaseFetcher {
  /** bodies opened and not yet finished: tuf-js stops reading at its length limit without closing them */
  private readonly open = new Set<Readable>();

  constructor(private readonly opts: TufFetcherOptions) {
    super();
  }

  override async downloadFile<T>(
    url: string,
    maxLength: number,
    handler: (file: string) => Promise<T>,
  ): Promise<T> {
    try {
      return await super.downloadFile(url, maxLength, handler);
    } finally {
      // an endless or over-long body is cut here, so the connection does not stay busy forever
      for (const body of this.open) body.destroy();
      this.open.clear();
    }
  }

  async fetch(url: string): Promise<FetchedStream> {
    this.opts.onRequest?.(url);
    const res = await openUrl(url, {
      dispatcher: this.opts.dispatcher,
      stallTimeoutMs: this.opts.stallTimeoutMs,
      // metadata bytes are what the signatures cover: never let anything re-encode them
      headers: { 'accept-encoding': 'identity' },
    });
    if (res.status !== 200) {
      await res.discard();
      throw new DownloadHTTPError(`GET ${url} answered HTTP ${res.status}`, res.status);
    }
    this.open.add(res.body);
    return Readable.toWeb(res.body) as unknown as FetchedStream;
  }
}

/** A fetcher for offline use: every request fails, so only local, verified metadata is read. */
export class OfflineFetcher extends BaseFetcher {
  fetch(url: string): Promise<FetchedStream> {
    return Promise.reject(new DownloadHTTPError(`offline: not fetching ${url}`, 0));
  }
}
