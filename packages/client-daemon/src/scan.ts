import type { Catalog, HostKnowledge, HostProfile, PatchEvaluation } from '@patchbay/core';
import type { LoadedCatalog } from './loaded-catalog.js';
import { assertProductsKnown, hostProfile } from './host.js';
import { takeInventory } from './inventory.js';
import type { Ledger } from './ledger.js';
import { evaluate, relevantPatches } from './planner.js';
import type { Session } from './session.js';

/** One line of `check --json` / `status --json` (CONTRACT §3). */
export interface PatchListEntry {
  id: string;
  title: string;
  severity: string;
  release: string;
  state: string;
  requires: string[];
  reason?: string;
}

export interface HostScan {
  catalog: Catalog;
  host: HostProfile;
  known: HostKnowledge;
  evaluations: PatchEvaluation[];
}

/** Catalog + detect rules + ledger → the state of every patch relevant to this host. */
export async function scanHost(session: Session, ledger: Ledger, catalog: Catalog): Promise<HostScan> {
  assertProductsKnown(session.config, catalog);
  const host = hostProfile(session.config);
  const known = await takeInventory(relevantPatches(catalog, host), {
    config: session.config,
    ledger,
    store: session.store,
    logger: session.logger,
  });
  return { catalog, host, known, evaluations: evaluate(catalog, host, known) };
}

/** Remember the states for reports (call only while holding the lock). */
export async function observeStates(ledger: Ledger, scan: HostScan): Promise<void> {
  const changed = ledger.observe(
    scan.evaluations.map((e) => {
      const cached = scan.known.downloaded.has(e.patch.id);
      return e.reason
        ? { id: e.patch.id, state: e.state, reason: e.reason, cached }
        : { id: e.patch.id, state: e.state, cached };
    }),
  );
  if (changed) await ledger.save();
}

export function patchList(evaluations: readonly PatchEvaluation[]): PatchListEntry[] {
  return evaluations.map((e) => {
    const entry: PatchListEntry = {
      id: e.patch.id,
      title: e.patch.title,
      severity: e.patch.severity,
      release: e.patch.release,
      state: e.state,
      requires: [...(e.patch.requires ?? [])],
    };
    if (e.reason) entry.reason = e.reason;
    return entry;
  });
}

/** True when servers were tried and none answered (not for `status`, which never asks). */
export function wentOffline(loaded: LoadedCatalog): boolean {
  return loaded.offline && loaded.attempts.length > 0;
}

export function printPatchList(
  session: Session,
  list: readonly PatchListEntry[],
  offline: boolean,
  extra: Record<string, unknown> = {},
): void {
  const doc: Record<string, unknown> = { patches: list, ...extra };
  if (offline) doc.offline = true;
  session.out.document(doc);
  session.out.tableOr(
    ['ID', 'SEVERITY', 'RELEASE', 'STATE', 'TITLE'],
    list.map((p) => [p.id, p.severity, p.release, p.state + (p.reason ? ` (${p.reason})` : ''), p.title]),
    'no patches for this host',
  );
}

/** The offline notice of CONTRACT §3: stderr in human mode (json adds "offline": true). */
export function noteOffline(session: Session, loaded: LoadedCatalog): void {
  if (wentOffline(loaded)) {
    session.out.note(`staging server unreachable; using cached catalog from ${loaded.fetchedAt}`);
  }
}
