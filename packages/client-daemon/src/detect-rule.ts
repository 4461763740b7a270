// One detect rule evaluated on this host, with what it read: for the inventory (installed or not)
// and for `patchbay-client detect` (what was read, for admins writing feeds).
import { access } from 'node:fs/promises';
import { ErrorCodes, PatchbayError, expandCommand, expandString, sha256File } from '@patchbay/core';
import type { DetectRule, FileVersionOp, PlaceholderContext } from '@patchbay/core';
import type { DetectOutcome } from './detect-outcome.js';
import { parseDottedVersion, readPeFileVersion, versionSatisfies } from './pe-version.js';
import { runCommand } from './process-runner.js';
import { createRegQuery } from './windows/reg-query.js';
import type { RegQuery } from './windows/reg-query.js';
import { msiPatchOutcome, msiProductOutcome, registryOutcome } from './windows/windows-rules.js';

const DETECT_TIMEOUT_MS = 120_000;

export interface DetectRuleDeps {
  /** registry reads for the Windows rules; default: reg.exe, at most a few at once */
  regQuery?: RegQuery;
}

let processRegQuery: RegQuery | undefined;
/** One reg.exe runner for the process, so its bound on processes holds across inventories. */
export function sharedRegQuery(): RegQuery {
  processRegQuery ??= createRegQuery();
  return processRegQuery;
}

/** The rule's kind: its one key besides installedExitCodes. */
export function ruleKind(rule: DetectRule): string {
  return Object.keys(rule).find((key) => key !== 'installedExitCodes') ?? 'unknown';
}

async function fileExistsOutcome(path: string): Promise<DetectOutcome> {
  const exists = await access(path).then(
    () => true,
    () => false,
  );
  return { installed: exists, evidence: `${path} ${exists ? 'exists' : 'not found'}` };
}

async function fileSha256Outcome(path: string, wanted: string): Promise<DetectOutcome> {
  const actual = await sha256File(path).catch(() => undefined);
  if (actual === undefined) return { installed: false, evidence: `${path} not found or unreadable` };
  const installed = actual === wanted.toLowerCase();
  return {
    installed,
    evidence: `${path} sha256 ${actual}${installed ? '' : `, not ${wanted.toLowerCase()}`}`,
  };
}

/** A file without a readable PE version is not installed, whatever the op; logged at warn. */
async function fileVersionOutcome(path: string, op: FileVersionOp, version: string): Promise<DetectOutcome> {
  const wanted = parseDottedVersion(version);
  if (!wanted) {
    throw new PatchbayError(
      ErrorCodes.FEED_SCHEMA,
      `detect.fileVersion.version "${version}" is not a dotted version`,
      {
        version,
      },
    );
  }
  const read = await readPeFileVersion(path);
  if (!read.ok) {
    return {
      installed: false,
      evidence: `${path}: ${read.reason}`,
      problem: {
        message: 'fileVersion detect: no file version; treating as not installed',
        fields: { path, reason: read.reason },
      },
    };
  }
  const installed = versionSatisfies(read.version, op, wanted);
  return {
    installed,
    evidence: `${path}: file version ${read.version.join('.')}, ${installed ? '' : 'not '}${op} ${version}`,
  };
}

async function commandOutcome(argv: string[], installedCodes: readonly number[]): Promise<DetectOutcome> {
  const result = await runCommand(argv, { timeoutMs: DETECT_TIMEOUT_MS, killGraceMs: 1000 });
  if (result.timedOut) return { installed: false, evidence: `${argv[0]} timed out` };
  if (result.exitCode === null) {
    const why = result.spawnError
      ? `did not start: ${result.spawnError.message}`
      : `ended by ${result.signal}`;
    return { installed: false, evidence: `${argv[0]} ${why}` };
  }
  const installed = installedCodes.includes(result.exitCode);
  return { installed, evidence: `${argv[0]} exited ${result.exitCode}` };
}

/**
 * Evaluate one rule. Placeholders ({installDir}, {file:NAME}, …) are expanded in file paths and
 * command argv, never in registry keys or MSI codes (a GUID's braces are not placeholders). A
 * placeholder that cannot be expanded throws (PB_ERR_PLACEHOLDER); everything else is an outcome.
 */
export async function evaluateDetectRule(
  rule: DetectRule,
  ctx: PlaceholderContext,
  deps: DetectRuleDeps = {},
): Promise<DetectOutcome> {
  if ('fileExists' in rule) return fileExistsOutcome(expandString(rule.fileExists, ctx));
  if ('fileSha256' in rule)
    return fileSha256Outcome(expandString(rule.fileSha256.path, ctx), rule.fileSha256.sha256);
  if ('fileVersion' in rule) {
    const { path, op, version } = rule.fileVersion;
    return fileVersionOutcome(expandString(path, ctx), op, version);
  }
  const reg = deps.regQuery ?? sharedRegQuery();
  if ('registry' in rule) return registryOutcome(reg, rule.registry);
  if ('msiProduct' in rule) return msiProductOutcome(reg, rule.msiProduct);
  if ('msiPatch' in rule) return msiPatchOutcome(reg, rule.msiPatch);
  return commandOutcome(expandCommand(rule.command, ctx), rule.installedExitCodes ?? [0]);
}
