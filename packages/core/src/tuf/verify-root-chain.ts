// Specification 5.2 and 5.3 for verify.ts: from the trusted root, every next root version the
// repository holds, each signed by a threshold of its predecessor and of itself.
import { MetadataKind } from '@tufjs/models';
import type { Metadata, Root } from '@tufjs/models';
import { metadataFileName } from './layout.js';
import type { VerifyRun } from './verify-result.js';
import { checkSignatures, parseOrReport } from './verify-signatures.js';

/** The trusted root's bytes: given, or `1.root.json` when the options say to trust it. */
async function trustedRootBytes({ repo, opts, problem }: VerifyRun): Promise<Buffer | undefined> {
  if (opts.trustedRoot) return opts.trustedRoot;
  if (!opts.trustFirstRoot) {
    problem('root', 'no trusted root given (a root.json to start from, or trust 1.root.json)');
    return undefined;
  }
  const bytes = await repo.readMetadata(metadataFileName('root', 1));
  if (!bytes) problem('root', 'there is no 1.root.json to trust', metadataFileName('root', 1));
  return bytes;
}

/** Load the trusted root, then follow N+1.root.json while it exists; the newest root reached. */
export async function verifyRootChain(run: VerifyRun): Promise<Metadata<Root> | undefined> {
  const { repo, result, problem } = run;
  const trustedBytes = await trustedRootBytes(run);
  if (!trustedBytes) return undefined;
  const trusted = parseOrReport<Root>(MetadataKind.Root, trustedBytes, 'root', 'trusted root', problem);
  if (!trusted) return undefined;
  const trustedName = metadataFileName('root', trusted.signed.version);
  if (!checkSignatures(trusted, 'root', trusted, 'trusted root', problem)) return undefined;
  // The trusted root itself is in the repository under its version (what a mirror copies).
  const own = await repo.readMetadata(trustedName);
  if (own && own.equals(trustedBytes)) result.files.set(trustedName, own);

  let current = trusted;
  let newestBytes = own && own.equals(trustedBytes) ? own : undefined;
  for (let version = trusted.signed.version + 1; ; version++) {
    const name = metadataFileName('root', version);
    const bytes = await repo.readMetadata(name);
    if (!bytes) break;
    const next = parseOrReport<Root>(MetadataKind.Root, bytes, 'root', name, problem);
    if (!next) return current;
    // 5.3.4: signed by a threshold of the trusted root's root keys; 5.3.5: the next version;
    // then signed by a threshold of its own root keys.
    const byOld = checkSignatures(
      current,
      'root',
      next,
      name,
      problem,
      `root version ${current.signed.version}`,
    );
    if (next.signed.version !== version) {
      problem('root', `holds version ${next.signed.version}, expected ${version}`, name);
      return current;
    }
    const bySelf = checkSignatures(next, 'root', next, name, problem, 'itself');
    if (!byOld || !bySelf) return current;
    result.files.set(name, bytes);
    newestBytes = bytes;
    current = next;
  }
  const alias = await repo.readMetadata('root.json');
  if (alias && newestBytes && !alias.equals(newestBytes)) {
    problem(
      'root',
      `differs from ${metadataFileName('root', current.signed.version)}, the newest root`,
      'root.json',
    );
  }
  return current;
}
