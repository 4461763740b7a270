/** The vendor feed and the mirror catalog (CONTRACT §1, §2). */

export type Severity = 'critical' | 'recommended' | 'optional';
export const SEVERITIES: readonly Severity[] = ['critical', 'recommended', 'optional'];

export interface FeedProduct {
  id: string;
  name: string;
  releases: string[];
}

export interface FeedFile {
  /** plain file name, see isSafeFileName */
  name: string;
  /** feed: relative or absolute URL; catalog: /v1/blobs/sha256/<hex> */
  url: string;
  size: number;
  sha256: string;
}

export interface CommandSpec {
  command: string[];
  timeoutSeconds?: number;
  successExitCodes?: number[];
  /** success, and the host needs a reboot (Windows Installer: 3010, 1641) */
  rebootExitCodes?: number[];
  /** not now: neither success nor failure, tried again later (Windows Installer: 1618) */
  retryExitCodes?: number[];
}

/** How a fileVersion rule compares the file's version with the rule's. */
export type FileVersionOp = '>=' | '=' | '<';

/** A Windows registry key, or a value in it (HKLM only): present, equal to a text, or a version compared. */
export interface RegistryRule {
  /** HKLM\SOFTWARE\…, or HKEY_LOCAL_MACHINE\… */
  key: string;
  /** the value's name ("" = the key's default value); absent: the key's existence decides */
  value?: string;
  /** registry view; default '64' ('32' reads WOW6432Node) */
  view?: '64' | '32';
  /** the data is exactly this text (REG_DWORD / REG_QWORD as decimal) */
  equals?: string;
  /** with version: the data read as a dotted version and compared */
  op?: FileVersionOp;
  version?: string;
}

/** A Windows Installer product installed per machine, its ProductVersion optionally compared. */
export interface MsiProductRule {
  /** {GUID} */
  productCode: string;
  op?: FileVersionOp;
  version?: string;
}

/** A Windows Installer patch applied, to one product or (no productCode) any. */
export interface MsiPatchRule {
  patchCode: string;
  productCode?: string;
}

export type DetectRule =
  | { fileExists: string }
  | { fileSha256: { path: string; sha256: string } }
  | { fileVersion: { path: string; op: FileVersionOp; version: string } }
  | { registry: RegistryRule }
  | { msiProduct: MsiProductRule }
  | { msiPatch: MsiPatchRule }
  | { command: string[]; installedExitCodes?: number[] };

export interface FeedPatch {
  id: string;
  product: string;
  release: string;
  title: string;
  description?: string;
  severity: Severity;
  publishedAt: string;
  requires?: string[];
  supersedes?: string[];
  rebootRequired?: boolean;
  platforms?: string[];
  files: FeedFile[];
  install: CommandSpec;
  uninstall?: CommandSpec;
  detect?: DetectRule;
}

export interface Feed {
  format: 'patchbay-feed/1';
  vendor: string;
  sequence: number;
  generatedAt: string;
  products: FeedProduct[];
  patches: FeedPatch[];
}

/** What the staging server publishes at /v1/catalog. */
export interface Catalog {
  format: 'patchbay-catalog/1';
  vendor: string;
  /** the mirror's own publication counter */
  sequence: number;
  /** the feed sequence this catalog was built from */
  upstreamSequence: number;
  generatedAt: string;
  /** when the mirror published it (extension) */
  publishedAt: string;
  /** after this the catalog must not be used for installs (freeze protection, CONTRACT §5 extension) */
  expiresAt?: string;
  products: FeedProduct[];
  patches: FeedPatch[];
}

/** Patch states a client reports (CONTRACT §2). */
export type PatchState =
  'available' | 'downloaded' | 'installed' | 'failed' | 'uninstalled' | 'superseded' | 'blocked';
export const PATCH_STATES: readonly PatchState[] = [
  'available',
  'downloaded',
  'installed',
  'failed',
  'uninstalled',
  'superseded',
  'blocked',
];

export type EventType = 'check' | 'download' | 'install' | 'uninstall' | 'error';
export const EVENT_TYPES: readonly EventType[] = ['check', 'download', 'install', 'uninstall', 'error'];

export interface ReportPatch {
  id: string;
  state: PatchState;
  since: string;
  /** extension: all of the patch's files are in the host's verified cache */
  cached?: boolean;
  /** why blocked / failed / superseded (CONTRACT §2) */
  reason?: string;
}

export interface ReportEvent {
  seq: number;
  type: EventType;
  patchId?: string;
  at: string;
  outcome: 'ok' | 'failed' | string;
  message?: string;
  /** extension: the last lines of the installer's output (failed install/uninstall), cleaned */
  output?: string;
  /** extension (report rollup): the client instance the event came from, when not the report's */
  instanceId?: string;
}

export interface ClientReport {
  hostId: string;
  hostname: string;
  daemonVersion: string;
  platform: string;
  reportedAt: string;
  products: { id: string; release: string }[];
  patches: ReportPatch[];
  events: ReportEvent[];
  /** extension: set when an installed patch needs a reboot */
  pendingReboot?: boolean;
  /**
   * extension: random id of the client's data dir (its ledger). Event seqs are unique per
   * (hostId, instanceId), so a re-imaged host that starts again at seq 1 loses nothing.
   */
  instanceId?: string;
}
