import path from 'node:path';

/** Where everything lives under the client's dataDir (docs/architecture.md, "Data directories"). */
export interface DataPaths {
  root: string;
  /** verified TUF metadata per upstream (servers/<id>/), the last fetch, a first-use root */
  tuf: string;
  /** content store root: blobs/ and tmp/ below it */
  cache: string;
  ledger: string;
  logs: string;
  /** per-patch copies of verified files, named as the feed names them */
  staging: string;
  lock: string;
}

export function dataPaths(dataDir: string): DataPaths {
  const root = path.resolve(dataDir);
  return {
    root,
    tuf: path.join(root, 'tuf'),
    cache: path.join(root, 'cache'),
    ledger: path.join(root, 'ledger.json'),
    logs: path.join(root, 'logs'),
    staging: path.join(root, 'staging'),
    lock: path.join(root, 'lock'),
  };
}
