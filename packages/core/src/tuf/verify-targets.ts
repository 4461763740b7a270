// The last step of verify.ts: every target of the checked roles is present under its
// consistent-snapshot name, with the length and SHA-256 its role signed (TargetFile.verify).
import { consistentTargetPath, isSafeTargetPath } from './layout.js';
import type { CheckedRole } from './verify-roles.js';
import type { VerifyRun } from './verify-result.js';

/** Target files hashed at the same time. */
const TARGET_CHECKS_AT_ONCE = 4;

/** Every target of the checked roles: present under its consistent name, with its length and hashes. */
export async function verifyTargetFiles(run: VerifyRun, roles: readonly CheckedRole[]): Promise<void> {
  const { repo, result, problem } = run;
  const withheld = new Set(result.unavailable.map((u) => `${u.path}\0${u.sha256}`));
  const jobs = roles.flatMap(({ role, metadata }) =>
    Object.values(metadata.signed.targets).map((target) => ({ role, target })),
  );
  let next = 0;
  const worker = async () => {
    for (let job = jobs[next++]; job !== undefined; job = jobs[next++]) {
      const { role, target } = job;
      const sha256 = target.hashes.sha256;
      if (sha256 === undefined || !/^[0-9a-f]{64}$/.test(sha256)) {
        problem(
          role,
          'has no sha256 hash of 64 lowercase hex (this layout names target files by it)',
          target.path,
        );
        continue;
      }
      if (!isSafeTargetPath(target.path)) {
        problem(
          role,
          'is not a safe relative target path (empty, `.` or `..` segments, `\\` or NUL)',
          target.path,
        );
        continue;
      }
      const file = consistentTargetPath(target.path, sha256);
      const stream = await repo.openTarget(file);
      if (!stream) {
        if (!withheld.has(`${target.path}\0${sha256}`))
          problem(role, `target file targets/${file} is missing`, target.path);
        continue;
      }
      try {
        await target.verify(stream);
        result.targetFiles.push({ role, targetPath: target.path, file, length: target.length, sha256 });
      } catch (err) {
        stream.destroy();
        problem(
          role,
          `target file targets/${file} does not match its length or hashes: ${(err as Error).message}`,
          target.path,
        );
      }
    }
  };
  await Promise.all(Array.from({ length: TARGET_CHECKS_AT_ONCE }, worker));
  result.targetFiles.sort((a, b) => (a.targetPath < b.targetPath ? -1 : a.targetPath > b.targetPath ? 1 : 0));
}
