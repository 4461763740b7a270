// The root chain read backwards (spec 5.3.4): every root version below a trusted one, each
// checked to be signed by a threshold of its own keys and to sign its successor. Hosts whose
// trust anchor is older walk these versions forward, so whatever this server publishes (from
// its upstream, an import bundle or signing.root) carries them.
import { ErrorCodes, PatchbayError, errorMessage } from '@patchbay/core';
import { metadataFileName, parseMetadata } from '@patchbay/core/tuf';
import type { Metadata, Root } from '@tufjs/models';
import type { RoleFile } from './role-file.js';

/**
 * Every root version below `newest`, walked back while each version is signed by a threshold
 * of its own root keys and signs its successor (spec 5.3.4 read backwards); the chain stops at
 * the first version `read` does not have (`onMissing` is told). Hosts whose trust anchor is
 * older need those versions to walk forward; they check every signature themselves.
 * PB_ERR_TUF_VERIFY when a version that is there does not chain.
 */
export async function walkRootChainBack(
  newest: RoleFile<Root>,
  read: (version: number) => Promise<Buffer | undefined>,
  onMissing: (version: number) => void,
  source: string,
): Promise<RoleFile<Root>[]> {
  const chain: RoleFile<Root>[] = [newest];
  let successor = parseMetadata('root', newest.bytes, 'root.json') as Metadata<Root>;
  for (let version = newest.version - 1; version >= 1; version--) {
    const name = metadataFileName('root', version);
    const bytes = await read(version);
    if (bytes === undefined) {
      onMissing(version);
      break;
    }
    const older = parseMetadata('root', bytes, name) as Metadata<Root>;
    try {
      if (older.signed.version !== version) throw new Error(`holds version ${older.signed.version}`);
      older.verifyDelegate('root', older);
      older.verifyDelegate('root', successor);
    } catch (err) {
      throw new PatchbayError(
        ErrorCodes.TUF_VERIFY,
        `${source} ${name} does not chain to root version ${version + 1}: ${errorMessage(err)}`,
        { version },
        { cause: err },
      );
    }
    chain.unshift({ role: 'root', version, bytes, signed: older.signed });
    successor = older;
  }
  return chain;
}
