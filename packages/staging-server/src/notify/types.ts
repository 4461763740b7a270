// The notifier's vocabulary: what happened (a Notice), what is sent (a Mail), and
// what /v1/status shows about it.
import type { Severity } from '@patchbay/core';

/** The switchable events of notify.events. */
export const NOTIFY_EVENTS = ['patch-available', 'downloaded', 'installed', 'failed', 'uninstalled'] as const;
export type NotifyEventKind = (typeof NOTIFY_EVENTS)[number];

/** What a mail says about a patch; title and severity are null when the catalog does not know the id. */
export interface PatchInfo {
  id: string;
  title: string | null;
  severity: Severity | null;
  release: string | null;
}

/** The server published a catalog with patches the previous one did not have. */
export interface PatchAvailableNotice {
  kind: 'patch-available';
  at: string;
  /** the mirror's catalog sequence that brought them */
  catalogSequence: number;
  patches: PatchInfo[];
}

/** One client event: a download, install or uninstall, succeeded or failed. */
export interface HostNotice {
  kind: 'downloaded' | 'installed' | 'uninstalled' | 'failed';
  /** the client's event time */
  at: string;
  hostId: string;
  hostname: string;
  /** what the client did */
  action: 'download' | 'install' | 'uninstall';
  outcome: string;
  patch: PatchInfo;
  message: string;
  /** the last lines of the installer's output, when the client sent them (failures) */
  output?: string;
  /** the client's event sequence number */
  seq: number;
}

export type Notice = PatchAvailableNotice | HostNotice;

/** A composed mail, ready for any recipient list. */
export interface Mail {
  subject: string;
  text: string;
  html: string;
}

/** What the outbox has done with the mails given to it. */
export interface OutboxCounters {
  /** mails waiting to be sent or retried */
  queued: number;
  sent: number;
  /** mails given up after notify.retries failed retries */
  failed: number;
  lastError: string | null;
  lastErrorAt: string | null;
  lastSentAt: string | null;
}

/** notify in GET /v1/status: the outbox's counters, and what the notifier itself holds. */
export interface NotifyStatus extends OutboxCounters {
  enabled: boolean;
  digest: 'off' | 'sync' | 'hourly' | null;
  /** notices collected for the next hourly digest */
  pendingDigest: number;
}
