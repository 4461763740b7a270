import path from 'node:path';

/** Where everything lives under the client's dataDir (docs/architecture.md, "Data directories"). */
export interface DataPaths {
  root: string;
  catalog: string;
  catalogMeta: string;
  /** the catalog's detached signature, kept beside it and re-verified on every use */
  catalogSig: string;
  /** pinned staging server keys and the newest accepted catalog per key */
  trust: string;
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
    catalogSig: path.join(root, 'catalog.sig'),
    trust: path.join(root, 'trust'),
    cache: path.join(root, 'cache'),
    ledger: path.join(root, 'ledger.json'),
    logs: path.join(root, 'logs'),
    staging: path.join(root, 'staging'),
    lock: path.join(root, 'lock'),
  };
}
