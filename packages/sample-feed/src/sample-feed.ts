import type { KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { sha256Hex, type CommandSpec, type DetectRule } from '@patchbay/core';
import {
  writeFeedDirectory,
  type FeedInput,
  type FeedPatchInput,
  type WrittenFeedDirectory,
} from './feed-writer.js';
import { demoVendorKeyFiles } from './paths.js';
import { renderPayloadScript, versionStampContent, versionStampPath } from './payload-script.js';
import {
  isWindowsSamplePatch,
  type ScriptSamplePatch,
  type SamplePatch,
  type WindowsSamplePatch,
} from './sample-patch.js';
import {
  EXTRA_SAMPLE_PATCHES,
  SAMPLE_PATCHES,
  SAMPLE_PRODUCTS,
  SAMPLE_VENDOR,
  pseudoBinary,
} from './sample-patches.js';
import { installerFileName, windowsDetectRule, windowsInstallerCommands } from './windows-installer.js';

export const DEFAULT_SAMPLE_SEQUENCE = 7;

/** generatedAt of sequence 7; each sequence step is one week (fixed, so output is reproducible). */
const BASE_GENERATED_AT = Date.parse('2026-11-20T08:00:00Z');
const WEEK_MS = 7 * 24 * 3600 * 1000;

export interface GenerateSampleFeedOptions {
  outDir: string;
  /** feed sequence (default 7); also moves generatedAt by one week per step */
  sequence?: number;
  /** add the patches of the next publication (T5KB0216), for "new patch appears" tests */
  extraPatches?: boolean;
  /**
   * Ed25519 private key (PEM or KeyObject) that signs feed.json (feed.json.sig); default the
   * committed demo key (demo-keys/, NEVER FOR PRODUCTION); null writes an unsigned feed.
   */
  signingKey?: KeyObject | string | null;
}

export interface SampleFeedContent {
  feed: FeedInput;
  files: Record<string, Buffer | string>;
  patches: SamplePatch[];
}

/** The sample patches a generation includes, in feed order. */
export function samplePatches(opts: { extraPatches?: boolean } = {}): SamplePatch[] {
  return [...SAMPLE_PATCHES, ...(opts.extraPatches ? EXTRA_SAMPLE_PATCHES : [])];
}

/** The sample feed in memory (no I/O): the catalog without sizes/digests, and every file. */
export function buildSampleFeed(opts: Omit<GenerateSampleFeedOptions, 'outDir'> = {}): SampleFeedContent {
  const sequence = opts.sequence ?? DEFAULT_SAMPLE_SEQUENCE;
  if (!Number.isSafeInteger(sequence) || sequence < 1) {
    throw new RangeError(`sample feed sequence must be a positive integer, got ${sequence}`);
  }
  const patches = samplePatches(opts);
  const files: Record<string, Buffer | string> = {};
  const feedPatches = patches.map((patch) =>
    isWindowsSamplePatch(patch) ? windowsFeedPatch(patch, files) : scriptFeedPatch(patch, files),
  );
  const feed: FeedInput = {
    format: 'patchbay-feed/1',
    vendor: SAMPLE_VENDOR,
    sequence,
    generatedAt: new Date(BASE_GENERATED_AT + (sequence - DEFAULT_SAMPLE_SEQUENCE) * WEEK_MS)
      .toISOString()
      .replace('.000Z', 'Z'),
    products: SAMPLE_PRODUCTS.map((product) => ({ ...product, releases: [...product.releases] })),
    patches: feedPatches,
  };
  return { feed, files, patches };
}

/** The feed fields every sample patch has as they are. */
function commonFields(
  patch: SamplePatch,
): Omit<FeedPatchInput, 'files' | 'install' | 'uninstall' | 'detect'> {
  return {
    id: patch.id,
    product: patch.product,
    release: patch.release,
    title: patch.title,
    description: patch.description,
    severity: patch.severity,
    publishedAt: patch.publishedAt,
    requires: patch.requires ?? [],
    supersedes: patch.supersedes ?? [],
    rebootRequired: patch.rebootRequired ?? false,
    platforms: patch.platforms,
  };
}

/** A patch whose payload is a sh script (and its extra files); adds them to `files`. */
function scriptFeedPatch(patch: ScriptSamplePatch, files: Record<string, Buffer | string>): FeedPatchInput {
  const productName = SAMPLE_PRODUCTS.find((product) => product.id === patch.product)?.name ?? patch.product;
  const extraFiles = patch.extraFiles ?? [];
  const scriptName = `${patch.id}.sh`;
  files[scriptName] = renderPayloadScript({
    id: patch.id,
    title: patch.title,
    productName,
    release: patch.release,
    component: patch.component,
    extraFiles,
    rebootRequired: patch.rebootRequired ?? false,
    uninstallable: patch.uninstallable ?? true,
    failInstall: patch.failInstall,
  });
  for (const extra of extraFiles) files[extra.name] = extra.content();
  const extraNames = extraFiles.map((extra) => extra.name);
  const argv = (action: string): string[] => [
    'sh',
    `{file:${scriptName}}`,
    action,
    '{installDir}',
    '{patchId}',
    ...(action === 'install' ? extraNames.map((name) => `{file:${name}}`) : []),
  ];
  const install: CommandSpec = { command: argv('install'), timeoutSeconds: 600, successExitCodes: [0] };
  const uninstall: CommandSpec | undefined =
    patch.uninstallable === false ? undefined : { command: argv('uninstall'), timeoutSeconds: 600 };
  return {
    ...commonFields(patch),
    files: [scriptName, ...extraNames].map((name) => ({ name })),
    install,
    uninstall,
    detect: detectRule(patch),
  };
}

/**
 * Bytes standing in for a Windows installer: a line saying what they are, then deterministic
 * filler. No tool on this build host makes a real .msp or .msi (msiexec would answer 1620).
 */
function standInInstaller(fileName: string, size: number): Buffer {
  const header = Buffer.from(
    `patchbay sample feed: stand-in bytes for ${fileName}, not a Windows installer (docs/windows.md)\n`,
  );
  return Buffer.concat([header, pseudoBinary(fileName, Math.max(0, size - header.length))]);
}

/** A win32 patch shipped as one Windows installer file; adds its stand-in bytes to `files`. */
function windowsFeedPatch(patch: WindowsSamplePatch, files: Record<string, Buffer | string>): FeedPatchInput {
  const fileName = installerFileName(patch.id, patch.installer);
  files[fileName] = standInInstaller(fileName, patch.installerSize);
  const { install, uninstall } = windowsInstallerCommands(fileName, patch.installer);
  return {
    ...commonFields(patch),
    files: [{ name: fileName }],
    install,
    uninstall,
    detect: windowsDetectRule(patch.installer),
  };
}

function detectRule(patch: ScriptSamplePatch): DetectRule | undefined {
  const marker = `{installDir}/patches/${patch.id}.installed`;
  switch (patch.detect) {
    case 'fileExists':
      return { fileExists: marker };
    case 'fileSha256':
      return {
        fileSha256: {
          path: `{installDir}/${versionStampPath(patch)}`,
          sha256: sha256Hex(versionStampContent(patch)),
        },
      };
    case 'command':
      // Needs nothing downloaded: the marker check runs before the patch is in the cache.
      return { command: ['test', '-f', marker], installedExitCodes: [0] };
    case 'none':
      return undefined;
  }
}

/**
 * Write the sample feed to `outDir` (feed.json and files/). Same bytes on every run; files
 * already holding the right bytes are left alone, and stale files under files/ are removed.
 */
export async function generateSampleFeed(opts: GenerateSampleFeedOptions): Promise<WrittenFeedDirectory> {
  const { feed, files } = buildSampleFeed(opts);
  // Ed25519 signatures are deterministic: the same feed bytes give the same feed.json.sig.
  const signingKey =
    opts.signingKey === undefined ? readFileSync(demoVendorKeyFiles().privateKey, 'utf8') : opts.signingKey;
  return writeFeedDirectory({
    dir: opts.outDir,
    feed,
    files,
    prune: true,
    ...(signingKey === null ? {} : { signingKey }),
  });
}
