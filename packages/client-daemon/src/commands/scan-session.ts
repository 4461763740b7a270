// The preamble every client command and daemon step shares: hold the data-dir lock, load
// the catalog, say when it came from the cache, scan the host, remember the states. Written
// once so the steps read as what they do after it, and the check event has one wording.
import type { LoadedCatalog } from '../loaded-catalog.js';
import type { Ledger } from '../ledger.js';
import { applicable } from '../planner.js';
import { noteOffline, observeStates, scanHost, wentOffline } from '../scan.js';
import type { HostScan } from '../scan.js';
import type { Session } from '../session.js';
import { loadCatalog, withHostLock } from './common.js';

/** What a command works on once the preamble has run (all under the data-dir lock). */
export interface ScanSession {
  ledger: Ledger;
  loaded: LoadedCatalog;
  scan: HostScan;
  /** servers were tried and none answered: the catalog is the cached one */
  offline: boolean;
}

export interface ScanOptions {
  /** refuse an expired catalog, naming the action ("install from it"): see loadCatalog */
  forAction?: string;
  /** after the catalog is loaded, before the scan: checks and warnings that come first */
  beforeScan?: (loaded: LoadedCatalog) => void;
}

/**
 * Run `fn` holding the lock, with the catalog loaded (the offline notice given) and this
 * host scanned, its states observed for the next report.
 */
export async function withHostScan<T>(
  session: Session,
  opts: ScanOptions,
  fn: (s: ScanSession) => Promise<T>,
): Promise<T> {
  return withHostLock(session, async (ledger) => {
    const loaded = await loadCatalog(session, ledger, opts.forAction);
    noteOffline(session, loaded);
    opts.beforeScan?.(loaded);
    const scan = await scanHost(session, ledger, loaded.catalog);
    await observeStates(ledger, scan);
    return fn({ ledger, loaded, scan, offline: wentOffline(loaded) });
  });
}

/** Scan again after downloads, installs or uninstalls: the states the next report carries. */
export async function rescanStates(session: Session, ledger: Ledger, scan: HostScan): Promise<void> {
  await observeStates(ledger, await scanHost(session, ledger, scan.catalog));
}

/** The check event of `check` and the daemon's check step (one wording: history and reports show it). */
export async function recordCheck(s: ScanSession): Promise<void> {
  const { ledger, loaded, scan } = s;
  ledger.addEvent({
    type: 'check',
    outcome: 'ok',
    message:
      `catalog ${loaded.catalog.sequence}: ${applicable(scan.evaluations).length} applicable patch(es)` +
      (s.offline ? ' (staging server unreachable; cached catalog)' : '') +
      (loaded.expired ? ` (expired at ${loaded.catalog.expiresAt}: nothing is downloaded or installed)` : ''),
  });
  await ledger.save();
}
