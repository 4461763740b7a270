import { createHash } from 'node:crypto';
import type { SamplePatch, SampleProduct } from './sample-patch.js';
import { WINDOWS_SAMPLE_PATCHES } from './sample-windows-patches.js';

/**
 * The sample feed's data: Arcserve Backup-like fixes with the relations and special cases the
 * other packages' tests and the demo rely on. docs/sample-feed.md carries the table generated
 * from this list (see renderPatchTable); a test keeps the two in step.
 */

export type {
  DetectKind,
  SampleExtraFile,
  SamplePatch,
  SampleProduct,
  ScriptSamplePatch,
  WindowsSamplePatch,
} from './sample-patch.js';

export const SAMPLE_VENDOR = 'Arcserve';

export const SAMPLE_PRODUCTS: readonly SampleProduct[] = [
  { id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['18.0', '19.0'] },
  { id: 'arcserve-udp', name: 'Arcserve Unified Data Protection', releases: ['9.0'] },
];

/** Deterministic filler bytes (SHA-256 in counter mode) standing in for binary files (a driver, installers). */
export function pseudoBinary(label: string, size: number): Buffer {
  const out = Buffer.alloc(size);
  for (let offset = 0, block = 0; offset < size; block++) {
    const digest = createHash('sha256').update(`${label}:${block}`).digest();
    offset += digest.copy(out, offset, 0, Math.min(digest.length, size - offset));
  }
  return out;
}

const DISCOVERY_CONF = `# Arcserve Backup discovery service (ca_discovery) settings, 19.0 update T5KB0214
[discovery]
subnet_scan_timeout_seconds = 45
max_parallel_probes = 16
skip_unreachable_after_failures = 3
`;

const VAULT_CONF = `# Arcserve Backup media management (MMO) vault cycle settings, 18.0 update T5KB0107
[vault]
skip_media_in_use = yes
recheck_interval_minutes = 10
`;

const SCHEMA_SQL = `-- Arcserve Backup 19.0 catalog database schema update T5KB0206
-- Adds the index the session purge uses; applied once, cannot be rolled back.
CREATE INDEX IF NOT EXISTS ix_astpses_sesstime ON astpses (sesstime, sesstype);
UPDATE asversion SET schema_level = 1903 WHERE schema_level < 1903;
`;

export const SAMPLE_PATCHES: readonly SamplePatch[] = [
  // Arcserve Backup 18.0: a requirement chain three deep (T5KB0104 -> T5KB0103 -> T5KB0101) and a
  // cumulative tape engine update superseding the first tape fix.
  {
    id: 'T5KB0101',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Database engine: catalog DB merge stalls on sessions larger than 2 TB',
    description:
      'Merge jobs of sessions over 2 TB stop at 99% while the database engine rebuilds the session index. The merge now commits the index in batches of 50,000 records.',
    severity: 'critical',
    publishedAt: '2025-03-11T00:00:00Z',
    component: 'dbeng',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0102',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Tape engine: drive timeouts during overnight merge jobs on LTO-8 libraries',
    description:
      'The tape engine gives up with E3719 when an LTO-8 drive takes more than 120 seconds to load a cartridge. The load timeout is raised to 600 seconds.',
    severity: 'critical',
    publishedAt: '2025-04-08T00:00:00Z',
    requires: ['T5KB0101'],
    component: 'tapeeng',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0103',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Deduplication: purge job fails with E6100 after a data store migration',
    description:
      'After the deduplication data store is moved to another volume, the purge job looks for hash files at the old path and fails with E6100.',
    severity: 'recommended',
    publishedAt: '2025-05-13T00:00:00Z',
    requires: ['T5KB0101'],
    component: 'dedupe',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0104',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Agent for Microsoft SQL Server: VSS snapshot fails with 0x800423F4 on clustered instances',
    description:
      'Backups of clustered SQL Server instances through VSS fail with 0x800423F4 when the writer reports a non-retryable error from a passive node. The agent now targets the active node.',
    severity: 'critical',
    publishedAt: '2025-06-10T00:00:00Z',
    requires: ['T5KB0103'],
    component: 'sqlagent',
    detect: 'fileExists',
    role: 'end of an 18.0 requirement chain three deep',
  },
  {
    id: 'T5KB0105',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Manager console: job status shows Active after a daylight-saving change',
    description:
      'Jobs that finished in the hour after a daylight-saving change keep showing Active in the job status manager until the console is restarted.',
    severity: 'optional',
    publishedAt: '2025-07-15T00:00:00Z',
    component: 'manager',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0106',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Tape engine: cumulative update 18.0.3 (includes T5KB0102)',
    description:
      'Cumulative tape engine update: the LTO-8 load timeout of T5KB0102, plus a fix for drives reported offline after a SCSI bus reset.',
    severity: 'critical',
    publishedAt: '2025-09-09T00:00:00Z',
    requires: ['T5KB0101'],
    supersedes: ['T5KB0102'],
    component: 'tapeeng',
    detect: 'fileExists',
    role: 'supersedes T5KB0102',
  },
  {
    id: 'T5KB0107',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Media management: vault cycle moves tapes that are still in use',
    description:
      'The MMO vault cycle marked media as off-site while a job still had them mounted. The cycle now skips media in use and checks them again ten minutes later.',
    severity: 'recommended',
    publishedAt: '2025-10-14T00:00:00Z',
    component: 'mmo',
    detect: 'fileExists',
    extraFiles: [
      { name: 'T5KB0107-vault.conf', installTo: 'config/mmo-vault.conf', content: () => VAULT_CONF },
    ],
    role: 'two files (script and .conf)',
  },
  {
    id: 'T5KB0108',
    product: 'arcserve-backup',
    release: '18.0',
    title: 'Authentication: scheduled jobs fail after the caroot password is changed',
    description:
      'After the caroot password is changed, jobs scheduled earlier fail with "unable to validate user" because their saved credentials are not re-encrypted.',
    severity: 'recommended',
    publishedAt: '2025-11-11T00:00:00Z',
    component: 'authsvc',
    detect: 'fileExists',
  },

  // Arcserve Backup 19.0: the demo installs every critical patch and its requirements, so all of
  // them must succeed on linux. Requirement chain four deep: T5KB0204 -> 0203 -> 0202 -> 0201.
  {
    id: 'T5KB0201',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Database engine: catalog DB merge fails with ODBC error 0x80040E14 on SQL Server 2022',
    description:
      'Catalog merges into a SQL Server 2022 Express ARCserve_DB fail with ODBC error 0x80040E14 because of a changed collation default. The database engine now sets the collation explicitly.',
    severity: 'critical',
    publishedAt: '2026-01-13T00:00:00Z',
    component: 'dbeng',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0202',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Tape engine: LTO-9 drives time out (E3719) during merge and scan jobs',
    description:
      'LTO-9 drives calibrate new cartridges for up to 20 minutes; the tape engine treated that as a hung drive and failed the job with E3719. Ships an updated tape engine module.',
    severity: 'critical',
    publishedAt: '2026-02-10T00:00:00Z',
    requires: ['T5KB0201'],
    component: 'tapeeng',
    detect: 'fileExists',
    extraFiles: [
      {
        name: 'tapeeng-19.0.2.bin',
        installTo: 'bin/tapeeng-19.0.2.bin',
        content: () => pseudoBinary('tapeeng-19.0.2', 1_000_003),
      },
    ],
    role: 'two files, one of about 1 MB (range and resume tests)',
  },
  {
    id: 'T5KB0203',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Job engine: rotation jobs skip incremental sessions after a tape drive timeout',
    description:
      'When a drive timed out during a GFS rotation job, the job engine marked the incremental sessions as done without writing them. They are now retried on the next drive.',
    severity: 'critical',
    publishedAt: '2026-03-10T00:00:00Z',
    requires: ['T5KB0202'],
    component: 'jobeng',
    detect: 'fileSha256',
    role: 'detect by fileSha256',
  },
  {
    id: 'T5KB0204',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Agent for Microsoft SQL Server: VSS writer times out on databases with many files',
    description:
      'Databases with more than 500 files made the SQL Server VSS writer time out while freezing I/O. The agent now freezes databases in groups and raises the writer timeout.',
    severity: 'critical',
    publishedAt: '2026-04-14T00:00:00Z',
    requires: ['T5KB0203'],
    component: 'sqlagent',
    detect: 'command',
    role: 'detect by command; end of the 19.0 requirement chain four deep',
  },
  {
    id: 'T5KB0205',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Deduplication: purge job leaves orphaned hash files',
    description:
      'Purge jobs removed expired sessions but left their hash files behind, so the deduplication data store kept growing.',
    severity: 'recommended',
    publishedAt: '2026-04-28T00:00:00Z',
    requires: ['T5KB0201'],
    component: 'dedupe',
    detect: 'fileExists',
  },
  {
    id: 'T5KB0206',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Database engine: catalog DB schema update 19.0.3 for session purge',
    description:
      'Adds the session-time index the session purge uses; large catalog databases purge in minutes instead of hours. A schema change: it cannot be uninstalled.',
    severity: 'critical',
    publishedAt: '2026-05-12T00:00:00Z',
    requires: ['T5KB0201'],
    component: 'dbeng',
    detect: 'fileExists',
    uninstallable: false,
    extraFiles: [{ name: 'T5KB0206.sql', installTo: 'db/schema/T5KB0206.sql', content: () => SCHEMA_SQL }],
    role: 'no uninstall command; two files (script and .sql)',
  },
  {
    id: 'T5KB0207',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Device driver update for SAS tape libraries (reboot required)',
    description:
      'Updated tape class driver for SAS-attached libraries that lost the robotic changer after a bus reset. The new driver is loaded at the next reboot.',
    severity: 'recommended',
    publishedAt: '2026-06-09T00:00:00Z',
    rebootRequired: true,
    component: 'drivers',
    detect: 'fileExists',
    role: 'rebootRequired',
  },
  {
    id: 'T5KB0208',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Agent for Microsoft Exchange: granular restore fails for mailboxes over 100 GB',
    description:
      'Granular restore of a large mailbox stopped with "the database is not mounted" once the staging EDB passed 100 GB. Windows only.',
    severity: 'recommended',
    publishedAt: '2026-06-23T00:00:00Z',
    platforms: ['win32'],
    component: 'exchagent',
    detect: 'fileExists',
    role: 'platforms ["win32"]: not applicable on linux',
  },
  {
    id: 'T5KB0209',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Client Agent for Linux: backup of XFS reflinked files fails with ENOTSUP',
    description:
      'The Linux client agent used a copy call that XFS refuses for reflinked extents, and the file was skipped with ENOTSUP. Linux only.',
    severity: 'recommended',
    publishedAt: '2026-07-14T00:00:00Z',
    platforms: ['linux'],
    component: 'linuxagent',
    detect: 'fileExists',
    role: 'platforms ["linux"]',
  },
  {
    id: 'T5KB0210',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Universal Agent: raise the concurrent connection limit to 64',
    description:
      'Raises the Universal Agent connection limit so that large multiplexing jobs do not queue. In this sample feed the install fails on purpose (exit code 3, service locked) to exercise failure handling.',
    severity: 'optional',
    publishedAt: '2026-08-11T00:00:00Z',
    component: 'univagent',
    detect: 'fileExists',
    failInstall: { exitCode: 3, service: 'CASUniversalAgent' },
    role: 'install FAILS on purpose: exit 3, message on stderr',
  },
  {
    id: 'T5KB0211',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Universal Agent: TLS 1.3 for agent-to-server traffic',
    description:
      'Enables TLS 1.3 between the Universal Agent and the backup server. Needs the T5KB0210 connection changes.',
    severity: 'optional',
    publishedAt: '2026-08-25T00:00:00Z',
    requires: ['T5KB0210'],
    component: 'univagent',
    detect: 'fileExists',
    role: 'requires the failing T5KB0210, so it fails with it',
  },
  {
    id: 'T5KB0212',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Deduplication: cumulative purge and space reclaim update (includes T5KB0205)',
    description:
      'Cumulative deduplication update: the orphaned hash file fix of T5KB0205, and space reclaim that no longer blocks backups to the same data store.',
    severity: 'recommended',
    publishedAt: '2026-09-08T00:00:00Z',
    requires: ['T5KB0201'],
    supersedes: ['T5KB0205'],
    component: 'dedupe',
    detect: 'fileExists',
    role: 'supersedes T5KB0205',
  },
  {
    id: 'T5KB0213',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Manager console: job queue column widths are not saved',
    description: 'Column widths in the job queue view reset each time the Manager console starts.',
    severity: 'optional',
    publishedAt: '2026-09-22T00:00:00Z',
    component: 'manager',
    detect: 'none',
    role: 'no detect rule (the install ledger decides)',
  },
  {
    id: 'T5KB0214',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Discovery service: subnet scans hang on unreachable hosts',
    description:
      'Auto-discovery waited for each unreachable host in turn. It now probes in parallel and gives up on a host after three failures.',
    severity: 'recommended',
    publishedAt: '2026-10-13T00:00:00Z',
    component: 'discovery',
    detect: 'fileExists',
    extraFiles: [
      {
        name: 'T5KB0214-discovery.conf',
        installTo: 'config/ca_discovery.conf',
        content: () => DISCOVERY_CONF,
      },
    ],
    role: 'two files (script and .conf)',
  },
  {
    id: 'T5KB0215',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Security: authentication service accepts expired session tokens',
    description:
      'The authentication service accepted a session token for up to 24 hours after it expired. Tokens are now checked against their expiry on every request.',
    severity: 'critical',
    publishedAt: '2026-11-03T00:00:00Z',
    requires: ['T5KB0201'],
    component: 'authsvc',
    detect: 'fileExists',
  },

  // Arcserve Backup 19.0 for Windows: installers run by msiexec or a setup program.
  ...WINDOWS_SAMPLE_PATCHES,

  // A second product, so that product/release filters have something to filter out.
  {
    id: 'T5UD0301',
    product: 'arcserve-udp',
    release: '9.0',
    title: 'Recovery point server: merge job fails after the data store is imported',
    description:
      'Merge jobs on an imported data store failed with "invalid session chain" until the RPS was restarted.',
    severity: 'critical',
    publishedAt: '2026-05-19T00:00:00Z',
    component: 'rps',
    detect: 'fileExists',
  },
  {
    id: 'T5UD0302',
    product: 'arcserve-udp',
    release: '9.0',
    title: 'Console: plan deployment stalls at 0% for agents behind a proxy',
    description: 'Plans deployed to agents that reach the console through an HTTP proxy stayed at 0%.',
    severity: 'recommended',
    publishedAt: '2026-10-20T00:00:00Z',
    requires: ['T5UD0301'],
    component: 'console',
    detect: 'fileExists',
  },
];

/** The patch added by `extraPatches` (sequence 8 style "next publication" tests). */
export const EXTRA_SAMPLE_PATCHES: readonly SamplePatch[] = [
  {
    id: 'T5KB0216',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Database engine: deadlock while pruning the catalog DB during a backup',
    description:
      'Catalog DB pruning and a running backup could deadlock on the session table. Pruning now takes its locks in the same order as the backup.',
    severity: 'critical',
    publishedAt: '2026-11-24T00:00:00Z',
    requires: ['T5KB0201'],
    component: 'dbeng',
    detect: 'fileExists',
    role: 'only with extraPatches (the next publication)',
  },
];
