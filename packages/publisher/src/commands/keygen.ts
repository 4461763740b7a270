// patchbay-publish keygen: one key pair, for a key holder who keeps it away from the
// publisher (a root key of a k-of-n ceremony, a staging server's online key, a new key to rotate to).
import { generateKeyFiles } from '../keyring.js';
import type { Outcome } from '../outcome.js';

export interface KeygenOptions {
  keys: string;
  name: string;
}

export async function keygen(opts: KeygenOptions): Promise<Outcome> {
  const held = await generateKeyFiles(opts.keys, opts.name);
  return {
    ok: true,
    json: { keyId: held.keyId, privateKeyFile: held.file, publicKeyFile: held.publicFile },
    lines: [
      `key ${held.keyId}`,
      `  private: ${held.file} (mode 0600, never share it)`,
      `  public:  ${held.publicFile}`,
    ],
  };
}
