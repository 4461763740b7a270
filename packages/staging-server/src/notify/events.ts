// Turning what the server sees (a newly published catalog, newly stored client
// events) into notices, filtered by notify.events.
import type { Catalog, FeedPatch, ReportEvent } from '@patchbay/core';
import type { HostNotice, NotifyEventKind, PatchAvailableNotice, PatchInfo } from './types.js';

/** Patches in `next` whose id the previous catalog did not list (all of them when there was none). */
export function newPatches(previous: Catalog | null | undefined, next: Catalog): FeedPatch[] {
  const known = new Set((previous?.patches ?? []).map((p) => p.id));
  return next.patches.filter((p) => !known.has(p.id));
}

export function patchInfo(id: string, catalog: Catalog | null | undefined): PatchInfo {
  const patch = catalog?.patches.find((p) => p.id === id);
  return {
    id,
    title: patch?.title ?? null,
    severity: patch?.severity ?? null,
    release: patch?.release ?? null,
  };
}

export function patchAvailableNotice(
  patches: readonly FeedPatch[],
  catalogSequence: number,
  at: string,
): PatchAvailableNotice {
  return {
    kind: 'patch-available',
    at,
    catalogSequence,
    patches: patches.map((p) => ({ id: p.id, title: p.title, severity: p.severity, release: p.release })),
  };
}

const ACTIONS = new Set(['download', 'install', 'uninstall']);
const OK_KIND = { download: 'downloaded', install: 'installed', uninstall: 'uninstalled' } as const;

/**
 * The notice for a client event, or null when it is not one that mails: only
 * download/install/uninstall with outcome ok (→ downloaded/installed/uninstalled)
 * or failed (→ failed). Other outcomes (skipped, interrupted, …) and types do not mail.
 */
export function hostNotice(
  event: ReportEvent,
  host: { hostId: string; hostname: string },
  catalog: Catalog | null | undefined,
): HostNotice | null {
  if (!ACTIONS.has(event.type) || event.patchId === undefined) return null;
  const action = event.type as HostNotice['action'];
  let kind: HostNotice['kind'];
  if (event.outcome === 'ok') kind = OK_KIND[action];
  else if (event.outcome === 'failed') kind = 'failed';
  else return null;
  const notice: HostNotice = {
    kind,
    at: event.at,
    hostId: host.hostId,
    hostname: host.hostname,
    action,
    outcome: event.outcome,
    patch: patchInfo(event.patchId, catalog),
    message: event.message ?? '',
    seq: event.seq,
  };
  if (event.output) notice.output = event.output;
  return notice;
}

/** True when the event could produce a mail under some notify.events setting. */
export function isNotifiableEvent(event: ReportEvent): boolean {
  return (
    ACTIONS.has(event.type) &&
    event.patchId !== undefined &&
    (event.outcome === 'ok' || event.outcome === 'failed')
  );
}

export function wantedKinds(events: readonly string[] | undefined): ReadonlySet<NotifyEventKind> {
  return new Set((events ?? []) as NotifyEventKind[]);
}
