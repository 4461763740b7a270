// What a verification (verify.ts) is asked and what it answers: its options, the problems it
// found and what verified; plus the state one run shares between its steps.
import type { Metadata, Root, Snapshot, Targets, Timestamp } from '@tufjs/models';
import { ErrorCodes, PatchbayError } from '../errors.js';
import type { UnavailableTarget } from './descriptor.js';
import type { RepositorySource } from './verify-source.js';

export interface VerifyOptions {
  /** bytes of the root metadata the verifier trusts (a deployment's `trust.root`, `upstream.trustedRoot`) */
  trustedRoot?: Buffer;
  /** with no trustedRoot: trust `metadata/1.root.json` as it is (a publisher checking its own repository) */
  trustFirstRoot?: boolean;
  /** the reference time for expiry (default: now) */
  now?: Date;
  /** read and check every target file (default true) */
  checkTargetFiles?: boolean;
  /** which delegated roles to verify (default: all); a staging server's product filter */
  includeRole?: (role: string) => boolean;
  /**
   * leave out a delegated role the snapshot does not list instead of reporting it (default
   * false): a staging server's snapshot lists only the roles its mirror.products selects
   */
  skipUnlistedRoles?: boolean;
  /**
   * roles whose expiry is not checked (default none): an import replaces the bundle's
   * timestamp and snapshot with its own, so their freshness says nothing about an air-gapped
   * transfer; root, targets and delegated roles are always checked
   */
  ignoreExpiry?: readonly ('timestamp' | 'snapshot')[];
}

/** One reason a repository fails: the role (and file) it concerns. */
export interface VerifyProblem {
  role: string;
  /** metadata file name, or target path */
  file?: string;
  reason: string;
}

/** A target file that verified: where it is and what it is. */
export interface VerifiedTargetFile {
  role: string;
  targetPath: string;
  /** path under `targets/` (consistent snapshot) */
  file: string;
  length: number;
  sha256: string;
}

export interface VerifyResult {
  ok: boolean;
  problems: VerifyProblem[];
  /** the newest root reached by the chain from the trusted root */
  root?: Metadata<Root>;
  timestamp?: Metadata<Timestamp>;
  snapshot?: Metadata<Snapshot>;
  targets?: Metadata<Targets>;
  /** delegated targets roles that verified, by name */
  roles: Map<string, Metadata<Targets>>;
  /** metadata files that verified, name under `metadata/` -> exact bytes (root versions of the chain included) */
  files: Map<string, Buffer>;
  targetFiles: VerifiedTargetFile[];
  /** target files the snapshot says the mirror withholds (their absence is not a problem) */
  unavailable: UnavailableTarget[];
}

/** Adds a problem to the run's result. */
export type Report = (role: string, reason: string, file?: string) => void;

/** One verification in progress: what every step reads from and reports to. */
export interface VerifyRun {
  /** the repository, whose read errors are reported as problems (and read as missing) */
  repo: RepositorySource;
  opts: VerifyOptions;
  now: Date;
  result: VerifyResult;
  problem: Report;
}

/** Throw PB_ERR_TUF_VERIFY listing every problem, unless the result is ok. */
export function assertVerified(result: VerifyResult, location: string): void {
  if (result.ok) return;
  const lines = result.problems.map(formatProblem);
  throw new PatchbayError(
    ErrorCodes.TUF_VERIFY,
    `${location} fails TUF verification (${lines.length} problem${lines.length === 1 ? '' : 's'}):\n  ${lines.join('\n  ')}`,
    { location, problems: result.problems },
  );
}

/** One problem as a line: `<file or role>: <reason>`. */
export function formatProblem(p: VerifyProblem): string {
  return `${p.file ?? p.role}: ${p.reason}`;
}

/** The problems, each once (a file reached twice reports the same thing twice). */
export function dedupeProblems(problems: VerifyProblem[]): VerifyProblem[] {
  const seen = new Set<string>();
  return problems.filter((p) => {
    const key = `${p.role}\0${p.file ?? ''}\0${p.reason}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
