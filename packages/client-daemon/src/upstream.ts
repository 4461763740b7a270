// Where a host's verified metadata and patch files come from: one implementation per kind of
// `server` entry, each kind fixed by the config alone (CONTRACT §5: never by what a server
// answers; a 404 is an error, not a hint to try another kind). The catalog source, the
// downloader and the reporter see only this interface, never a URL layout.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import type { ClientConfig } from '@patchbay/core';
import { isSafeTargetPath } from '@patchbay/core/tuf';

/** One `server` entry as the config file may write it. */
export type ServerEntry = ClientConfig['server'][number];

export type UpstreamKind = 'staging-server' | 'repository';

/** A file of a verified catalog: its digest, and its target file path under `targets/` (catalog `url`). */
export interface VerifiedFile {
  sha256: string;
  url: string;
}

export interface Upstream {
  readonly kind: UpstreamKind;
  /** the configured URL without a trailing slash: logs, failover messages, status */
  readonly url: string;
  /** base URL of its TUF metadata, ending in '/' */
  readonly metadataUrl: string;
  /** true for a staging server: reports go to it; a repository takes none (direct mode) */
  readonly takesReports: boolean;
  /** where it serves a file that verified metadata names */
  fileUrl(file: VerifiedFile): string;
}

/** A staging server: `<url>/v1/tuf/metadata/`, files by digest, reports taken (docs/http-api.md). */
export class StagingServer implements Upstream {
  readonly kind = 'staging-server';
  readonly takesReports = true;
  readonly metadataUrl: string;

  constructor(readonly url: string) {
    this.metadataUrl = `${url}/v1/tuf/metadata/`;
  }

  /**
   * The blob store answers the same bytes as `/v1/tuf/targets/<path>` (the digest is in both),
   * and by digest any staging server of the list can serve a file another one's metadata named.
   */
  fileUrl(file: VerifiedFile): string {
    return `${this.url}/v1/blobs/sha256/${file.sha256}`;
  }
}

/**
 * A publisher's TUF repository as `patchbay-publish` writes it (docs/tuf-repository.md:
 * `metadata/`, `targets/<dir>/<sha256>.<name>`), over http(s) or `file:`: direct mode.
 */
export class PublisherRepository implements Upstream {
  readonly kind = 'repository';
  readonly takesReports = false;
  readonly metadataUrl: string;
  private readonly targetsUrl: string;

  constructor(readonly url: string) {
    this.metadataUrl = `${url}/metadata/`;
    this.targetsUrl = `${url}/targets/`;
  }

  fileUrl(file: VerifiedFile): string {
    // the repository's own rule for a target path (no empty, `.` or `..` segment, no backslash
    // or NUL), so no name from metadata leads out of targets/
    if (!isSafeTargetPath(file.url)) {
      throw new PatchbayError(
        ErrorCodes.FEED_INVALID,
        `target path "${file.url}" is not a file under ${this.targetsUrl}`,
        { server: this.url, path: file.url },
      );
    }
    // each segment encoded: a name from metadata never becomes a query or a fragment
    const path = file.url
      .split('/')
      .map((segment) => encodeURIComponent(segment))
      .join('/');
    return new URL(path, this.targetsUrl).href;
  }
}

/** Strip trailing slashes so `${url}/v1/...` never doubles one. */
export function normaliseServer(url: string): string {
  return url.replace(/\/+$/, '');
}

/**
 * The configured `server` list as upstreams, in failover order: `{ "repository": URL }` and
 * any `file:` URL (a staging server speaks HTTP only) are publisher repositories; every other
 * URL is a staging server.
 */
export function upstreamsFromConfig(entries: readonly ServerEntry[]): Upstream[] {
  return entries.map((entry) => {
    if (typeof entry !== 'string') return new PublisherRepository(normaliseServer(entry.repository));
    const url = normaliseServer(entry);
    return url.startsWith('file:') ? new PublisherRepository(url) : new StagingServer(url);
  });
}

/** Direct mode: no upstream takes reports, so the ledger keeps them (reporter.ts). */
export function isDirectMode(upstreams: readonly Upstream[]): boolean {
  return upstreams.every((u) => !u.takesReports);
}
