import path from 'node:path';

/** Where everything lives under the client's dataDir (docs/architecture.md, "Data directories"). */
export interface DataPaths {
  root: string;
  catalog: string;
  catalogMeta: string;
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
    catalog: path.join(root, 'catalog.json'),
    catalogMeta: path.join(root, 'catalog.meta.json'),
    cache: path.join(root, 'cache'),
    ledger: path.join(root, 'ledger.json'),
    logs: path.join(root, 'logs'),
    staging: path.join(root, 'staging'),
    lock: path.join(root, 'lock'),
  };
}
