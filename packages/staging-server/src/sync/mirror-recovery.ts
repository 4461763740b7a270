// What a mirror reads back of the data directory when it opens, or when it becomes the
// writer among replicas: the published catalog and the last sync report.
import { errorMessage, type ContentStore, type Logger } from '@patchbay/core';
import { readPublishedCatalog } from '../cluster/published-files.js';
import type { PublishedCatalog, SyncReport } from '../mirror.js';
import type { CatalogStore } from '../store/catalog-store.js';
import type { SyncStateStore } from '../store/sync-state.js';
import type { CatalogSigner } from '../trust/mirror-key.js';
import { assertBlobsPresent } from './verify-published-blobs.js';

/**
 * current.json at start; null (serve nothing until the next sync) when it is unusable. A
 * follower (`repair` false) reads it and writes nothing (cluster/published-files.ts).
 */
export async function loadPublishedCatalog(
  catalogs: CatalogStore,
  store: ContentStore,
  signer: CatalogSigner,
  log: Logger,
  repair = true,
): Promise<PublishedCatalog | null> {
  try {
    if (!repair) return await readPublishedCatalog(catalogs, store, signer);
    const loaded = await catalogs.loadCurrent(signer);
    if (!loaded) return null;
    const { published, resigned } = loaded;
    await assertBlobsPresent(published.catalog, store);
    if (resigned) {
      log.warn(
        { path: catalogs.signaturePath, fingerprint: signer.keys.fingerprint },
        'stored catalog signature missing or not by the current key; signed the catalog again',
      );
    }
    log.info({ sequence: published.sequence, path: catalogs.currentPath }, 'published catalog loaded');
    return published;
  } catch (err) {
    log.error(
      { path: catalogs.currentPath, err: errorMessage(err) },
      'published catalog is unusable; serving no catalog until the next successful sync',
    );
    return null;
  }
}

/** A report left 'running' means the previous process died mid-sync. */
export async function recoverLastSync(state: SyncStateStore, log: Logger): Promise<SyncReport | null> {
  const last = (await state.lastSync()) ?? null;
  if (last?.outcome !== 'running') return last;
  log.warn({ startedAt: last.startedAt }, 'the previous sync was interrupted (the server stopped during it)');
  const recovered: SyncReport = {
    ...last,
    outcome: 'failed',
    error: 'sync interrupted (the server stopped during it)',
  };
  await state.setLastSync(recovered);
  return recovered;
}
