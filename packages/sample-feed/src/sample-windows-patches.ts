import type { WindowsSamplePatch } from './sample-patch.js';

/**
 * Arcserve Backup 19.0 for Windows: one patch of each installer kind the sample feed knows.
 * Product and patch codes are made up (well-formed GUIDs, not Arcserve's), and so are the
 * versions, paths and registry keys; the installer files are stand-in bytes (docs/windows.md).
 */

/** The made-up product code of the Arcserve Backup 19.0 server the patches apply to. */
const BACKUP_SERVER_PRODUCT_CODE = '{5C8F3A21-7D4B-4E6A-9B1C-2F0D8E7A6B19}';

export const WINDOWS_SAMPLE_PATCHES: readonly WindowsSamplePatch[] = [
  {
    id: 'T5KB0217',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Cumulative update 19.0 CU2 for Windows (Windows Installer patch)',
    description:
      'Rolls up the 19.0 Windows fixes to date: the job engine, the tape engine and the catalog database service. Applied with msiexec /p; Windows only.',
    severity: 'critical',
    publishedAt: '2026-09-22T00:00:00Z',
    platforms: ['win32'],
    installer: {
      kind: 'msp',
      productCode: BACKUP_SERVER_PRODUCT_CODE,
      patchCode: '{A3E1C7B2-4F9D-4C28-8E5A-1B6D9F0C3E47}',
    },
    installerSize: 65_536,
    role: 'win32 .msp (msiexec /p), detect msiPatch',
  },
  {
    id: 'T5KB0218',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Client Agent for Windows 19.0.2210 (full package, major upgrade)',
    description:
      'The Windows client agent no longer stops backing up open files after a VSS provider is removed. Shipped as a whole agent package (msiexec /i) that upgrades the installed agent; Windows only.',
    severity: 'recommended',
    publishedAt: '2026-10-06T00:00:00Z',
    platforms: ['win32'],
    installer: {
      kind: 'msi',
      productCode: '{D2B64F8E-3A17-4C95-B0E2-7F1A5C9D8E36}',
      productVersion: '19.0.2210.0',
    },
    installerSize: 98_304,
    role: 'win32 .msi (msiexec /i), detect msiProduct >=; no uninstall',
  },
  {
    id: 'T5KB0219',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Tape engine hotfix for Windows: LTO-9 drives reported offline after CU2',
    description:
      'After CU2 the tape engine marked LTO-9 drives offline when a cleaning cartridge was loaded. Replaces tapeeng.exe; needs CU2 installed first. Windows only.',
    severity: 'critical',
    publishedAt: '2026-10-27T00:00:00Z',
    requires: ['T5KB0217'],
    platforms: ['win32'],
    installer: {
      kind: 'inno',
      detect: { fileVersion: { path: '{installDir}\\tapeeng.exe', op: '>=', version: '19.0.2215.3' } },
      uninstaller: 'Patches\\T5KB0219\\unins000.exe',
    },
    installerSize: 49_152,
    role: 'win32 .exe (Inno Setup switches), detect fileVersion; requires T5KB0217',
  },
  {
    id: 'T5KB0220',
    product: 'arcserve-backup',
    release: '19.0',
    title: 'Universal Agent for Windows: agent-to-server traffic over TLS 1.3',
    description:
      'Updates the Windows Universal Agent to 19.0.2230.1, which speaks TLS 1.3 to the backup server. The agent is a 32-bit program: its version is in the 32-bit registry view. Windows only.',
    severity: 'optional',
    publishedAt: '2026-11-10T00:00:00Z',
    platforms: ['win32'],
    installer: {
      kind: 'inno',
      detect: {
        registry: {
          key: 'HKLM\\SOFTWARE\\ComputerAssociates\\CA ARCServe Backup\\UniversalAgent',
          value: 'Version',
          view: '32',
          op: '>=',
          version: '19.0.2230.1',
        },
      },
    },
    installerSize: 40_960,
    role: 'win32 .exe (Inno Setup switches), detect registry (32-bit view); no uninstall',
  },
];
