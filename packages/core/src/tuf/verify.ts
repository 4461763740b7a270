// Verify a whole TUF repository as a client would (TUF specification 1.0.x, "Detailed client
// workflow"), but without stopping at the first failure: every reason is collected. Every
// signature, hash and length check is @tufjs/models' own (verifyDelegate, MetaFile.verify,
// TargetFile.verify); these modules only order them as the specification does and add the
// checks the layout asks for (key ids, distinct keys, consistent snapshots, delegated paths):
// the root chain (verify-root-chain.ts), each role against what lists and signs it
// (verify-roles.ts, verify-signatures.ts), then the target files (verify-targets.ts).
import type { Snapshot, Targets, Timestamp } from '@tufjs/models';
import { unavailableTargets } from './descriptor.js';
import { parseMetadataFileName } from './layout.js';
import { verifyRootChain } from './verify-root-chain.js';
import { loadRole, metaFor, verifyDelegatedRoles, type CheckedRole } from './verify-roles.js';
import { directorySource, type RepositorySource } from './verify-source.js';
import { verifyTargetFiles } from './verify-targets.js';
import {
  dedupeProblems,
  type Report,
  type VerifyOptions,
  type VerifyResult,
  type VerifyRun,
} from './verify-result.js';

/**
 * Verify a repository: the root chain from the trusted root (each version signed by a
 * threshold of the previous root and of itself, versions consecutive), then timestamp,
 * snapshot (length and hash from the timestamp), targets and every delegated role (version
 * and length from the snapshot, signatures by the delegator's keys, expiry), then every
 * target file's length and SHA-256. All problems are returned; `ok` when there are none.
 */
export async function verifyRepository(
  source: RepositorySource | string,
  opts: VerifyOptions = {},
): Promise<VerifyResult> {
  const given = typeof source === 'string' ? directorySource(source) : source;
  const result: VerifyResult = {
    ok: false,
    problems: [],
    roles: new Map(),
    files: new Map(),
    targetFiles: [],
    unavailable: [],
  };
  const problem: Report = (role, reason, file) =>
    result.problems.push(file === undefined ? { role, reason } : { role, file, reason });
  const run: VerifyRun = {
    repo: reporting(given, problem),
    opts,
    now: opts.now ?? new Date(),
    result,
    problem,
  };

  const root = await verifyRootChain(run);
  result.root = root;
  if (root) {
    if (root.signed.isExpired(run.now))
      problem('root', `root version ${root.signed.version} expired at ${root.signed.expires}`);
    if (!root.signed.consistentSnapshot) problem('root', 'consistent_snapshot must be true in this layout');

    const ignoredExpiry = new Set<string>(opts.ignoreExpiry ?? []);
    const timestamp = await loadRole<Timestamp>(
      run,
      'timestamp',
      root,
      undefined,
      ignoredExpiry.has('timestamp'),
    );
    const snapshotMeta = timestamp?.metadata.signed.snapshotMeta;
    const snapshot =
      snapshotMeta &&
      (await loadRole<Snapshot>(run, 'snapshot', root, snapshotMeta, ignoredExpiry.has('snapshot')));
    if (snapshot) result.unavailable = unavailableTargets(snapshot.metadata.signed);
    const targetsMeta = snapshot && metaFor(run, snapshot.metadata, 'targets');
    const targets = targetsMeta && (await loadRole<Targets>(run, 'targets', root, targetsMeta));
    if (timestamp?.ok) result.timestamp = timestamp.metadata;
    if (snapshot?.ok) result.snapshot = snapshot.metadata;
    if (targets?.ok) result.targets = targets.metadata;

    const checked: CheckedRole[] = [];
    if (targets) checked.push({ role: 'targets', metadata: targets.metadata });
    if (targets && snapshot)
      checked.push(...(await verifyDelegatedRoles(run, targets.metadata, snapshot.metadata)));
    if (opts.checkTargetFiles ?? true) await verifyTargetFiles(run, checked);
  }
  result.problems = dedupeProblems(result.problems);
  result.ok = result.problems.length === 0;
  return result;
}

/**
 * The source, with a file it cannot give (unreadable, a symlink out of the repository)
 * reported as a problem of its own, then treated as missing.
 */
function reporting(given: RepositorySource, problem: Report): RepositorySource {
  return {
    location: given.location,
    readMetadata: async (name) => {
      try {
        return await given.readMetadata(name);
      } catch (err) {
        problem(roleOfFile(name), `cannot be read: ${(err as Error).message}`, name);
        return undefined;
      }
    },
    openTarget: async (path) => {
      try {
        return await given.openTarget(path);
      } catch (err) {
        problem('targets', `cannot be read: ${(err as Error).message}`, path);
        return undefined;
      }
    },
  };
}

/** The role a metadata file name belongs to, for messages (`3.root.json` -> root). */
function roleOfFile(name: string): string {
  if (name === 'timestamp.json') return 'timestamp';
  if (name === 'root.json') return 'root';
  return parseMetadataFileName(name)?.role ?? name;
}
