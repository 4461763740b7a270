/**
 * The sample feed's Windows patches ship a Windows installer, not a sh script: a patch (.msp)
 * or a package (.msi) run by msiexec, or a setup program (.exe) with Inno Setup's silent
 * switches. This module turns one into the feed's install/uninstall argv and detect rule.
 * The bytes the feed ships for them are stand-ins (see standInInstaller in sample-feed.ts):
 * Debian has no tool that builds a Windows Installer package.
 */
import type { CommandSpec, DetectRule, FileVersionOp, RegistryRule } from '@patchbay/core';

/** Windows Installer's own exit codes (msiexec): success with a reboot, and "busy, try later". */
const MSI_REBOOT_EXIT_CODES = [3010, 1641];
const MSI_RETRY_EXIT_CODES = [1618];

/** A cumulative update as a Windows Installer patch, applied to an installed product. */
export interface MspInstaller {
  kind: 'msp';
  /** {GUID} of the product the patch applies to */
  productCode: string;
  /** {GUID} of the patch itself (its PatchCode) */
  patchCode: string;
}

/** An update shipped as a whole package: a major upgrade of an installed product. */
export interface MsiInstaller {
  kind: 'msi';
  productCode: string;
  /** the package's ProductVersion: installed when the product is at least this */
  productVersion: string;
}

/** A setup program built with Inno Setup; what it changes is told by `detect`. */
export interface InnoInstaller {
  kind: 'inno';
  detect: { fileVersion: { path: string; op: FileVersionOp; version: string } } | { registry: RegistryRule };
  /** its uninstaller, as Inno Setup leaves it (`unins000.exe`), under the install directory */
  uninstaller?: string;
}

export type WindowsInstaller = MspInstaller | MsiInstaller | InnoInstaller;

const EXTENSIONS: Record<WindowsInstaller['kind'], string> = { msp: 'msp', msi: 'msi', inno: 'exe' };

/** The feed file name of a patch's installer: `<ID>.msp`, `<ID>.msi` or `<ID>.exe`. */
export function installerFileName(patchId: string, installer: WindowsInstaller): string {
  return `${patchId}.${EXTENSIONS[installer.kind]}`;
}

/** msiexec, quiet, never restarting on its own, its verbose log at {log}. */
function msiexec(...args: string[]): CommandSpec {
  return {
    command: ['msiexec', ...args, '/qn', '/norestart', '/l*v', '{log}'],
    timeoutSeconds: 3600,
    successExitCodes: [0],
    rebootExitCodes: MSI_REBOOT_EXIT_CODES,
    retryExitCodes: MSI_RETRY_EXIT_CODES,
  };
}

const INNO_SILENT = ['/VERYSILENT', '/SUPPRESSMSGBOXES', '/NORESTART', '/LOG={log}'];

/**
 * The install argv, and the uninstall argv when the installer can be taken back: a patch by
 * its code; an Inno setup by its uninstaller. A major upgrade (.msi) cannot: `msiexec /x`
 * would remove the whole product rather than bring the previous version back.
 */
export function windowsInstallerCommands(
  fileName: string,
  installer: WindowsInstaller,
): { install: CommandSpec; uninstall?: CommandSpec } {
  const file = `{file:${fileName}}`;
  switch (installer.kind) {
    case 'msp':
      return {
        install: msiexec('/p', file),
        uninstall: msiexec('/package', installer.productCode, '/uninstall', installer.patchCode),
      };
    case 'msi':
      return { install: msiexec('/i', file) };
    case 'inno': {
      const install: CommandSpec = {
        command: [file, ...INNO_SILENT],
        timeoutSeconds: 1800,
        successExitCodes: [0],
      };
      if (installer.uninstaller === undefined) return { install };
      const uninstall: CommandSpec = {
        command: [`{installDir}\\${installer.uninstaller}`, ...INNO_SILENT],
        timeoutSeconds: 1800,
        successExitCodes: [0],
      };
      return { install, uninstall };
    }
  }
}

/** How a host tells the installer's change is there. */
export function windowsDetectRule(installer: WindowsInstaller): DetectRule {
  switch (installer.kind) {
    case 'msp':
      return { msiPatch: { patchCode: installer.patchCode, productCode: installer.productCode } };
    case 'msi':
      return {
        msiProduct: { productCode: installer.productCode, op: '>=', version: installer.productVersion },
      };
    case 'inno':
      return installer.detect;
  }
}
