import type { FeedPatch, FeedProduct } from '@patchbay/core';
import type { PayloadExtraFile } from './payload-script.js';
import type { WindowsInstaller } from './windows-installer.js';

/** The shapes of the sample feed's data (sample-patches.ts, sample-windows-patches.ts). */

export type DetectKind = 'fileExists' | 'fileSha256' | 'command' | 'none';

export type SampleProduct = FeedProduct;

export interface SampleExtraFile extends PayloadExtraFile {
  content: () => Buffer | string;
}

/** A feed patch's own fields; its files, commands and detect rule are made from the rest. */
interface SamplePatchBase extends Omit<
  FeedPatch,
  'description' | 'files' | 'install' | 'uninstall' | 'detect'
> {
  description: string;
  /** what this patch is in the sample feed for, when it is special (docs table) */
  role?: string;
}

/** A patch whose payload is a generated sh script acting on a sandbox install directory. */
export interface ScriptSamplePatch extends SamplePatchBase {
  /** product component the payload touches: `lib/<component>/<id>.version` */
  component: string;
  detect: DetectKind;
  /** false: no uninstall command in the feed, and the script refuses to uninstall */
  uninstallable?: boolean;
  /** the install fails on purpose with this exit code (message on stderr) */
  failInstall?: { exitCode: number; service: string };
  extraFiles?: SampleExtraFile[];
}

/** A win32 patch shipped as a Windows installer (stand-in bytes: see docs/windows.md). */
export interface WindowsSamplePatch extends SamplePatchBase {
  platforms: ['win32'];
  installer: WindowsInstaller;
  /** size of the stand-in installer file in bytes */
  installerSize: number;
}

export type SamplePatch = ScriptSamplePatch | WindowsSamplePatch;

export function isWindowsSamplePatch(patch: SamplePatch): patch is WindowsSamplePatch {
  return 'installer' in patch;
}
