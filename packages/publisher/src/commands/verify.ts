// patchbay-publish verify: check a repository directory as a client would (core/tuf
// verifyRepository) and, beyond TUF, that every descriptor passes the read rules and the
// targets carry a valid x-patchbay. Every reason is reported.
import { readFile } from 'node:fs/promises';
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import {
  formatProblem,
  patchbayTargetsInfo,
  readDescriptors,
  verifyRepository,
  type VerifyProblem,
} from '@patchbay/core/tuf';
import type { Outcome } from '../outcome.js';

export interface VerifyOptions {
  repo: string;
  /** root metadata file to start from; without it, 1.root.json is trusted as it is */
  rootFile: string | undefined;
  now: Date;
}

export async function verify(opts: VerifyOptions): Promise<Outcome> {
  let trustedRoot: Buffer | undefined;
  if (opts.rootFile !== undefined) {
    try {
      trustedRoot = await readFile(opts.rootFile);
    } catch (err) {
      throw new PatchbayError(ErrorCodes.USAGE, `--root ${opts.rootFile}: ${(err as Error).message}`, {});
    }
  }
  const result = await verifyRepository(opts.repo, {
    trustedRoot,
    trustFirstRoot: trustedRoot === undefined,
    now: opts.now,
  });
  const problems: VerifyProblem[] = [...result.problems];
  let patches = 0;
  if (result.targets) {
    try {
      patchbayTargetsInfo(result.targets.signed);
    } catch (err) {
      problems.push({ role: 'targets', reason: (err as Error).message });
    }
  }
  for (const [role, metadata] of result.roles) {
    const { descriptors, refused } = readDescriptors(role, metadata.signed);
    patches += descriptors.length;
    for (const refusal of refused) problems.push({ role, file: refusal.targetPath, reason: refusal.error });
  }
  const summary = {
    root: result.root?.signed.version ?? null,
    timestamp: result.timestamp?.signed.version ?? null,
    snapshot: result.snapshot?.signed.version ?? null,
    targets: result.targets?.signed.version ?? null,
    roles: Object.fromEntries([...result.roles].map(([name, md]) => [name, md.signed.version])),
    patches,
    targetFiles: result.targetFiles.length,
  };
  const ok = problems.length === 0;
  const lines = ok
    ? [
        `${opts.repo}: verified — root version ${summary.root}, ${result.roles.size} delegated role${result.roles.size === 1 ? '' : 's'}, ${patches} patch${patches === 1 ? '' : 'es'}, ${summary.targetFiles} target files`,
      ]
    : [
        `${opts.repo}: ${problems.length} problem${problems.length === 1 ? '' : 's'}`,
        ...problems.map((p) => `  ${formatProblem(p)}`),
      ];
  return { ok, json: { ok, problems, ...summary }, lines };
}
