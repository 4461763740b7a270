// STUB — implemented by the core-storage helper.

/**
 * Content-addressed blob store: `<root>/blobs/sha256/<2 hex>/<hex>`, temp files in
 * `<root>/tmp` (same filesystem, so commit is a rename). Bytes that fail their
 * check never get a name under blobs/.
 */
export class ContentStore {
  readonly root: string;

  constructor(root: string) {
    this.root = root;
  }

  /** Path a verified blob lives at (whether or not it exists). Throws PB_ERR_BAD_DIGEST. */
  blobPath(_hex: string): string {
    throw new Error('not implemented');
  }

  /** True when the blob exists (not re-hashed). */
  async has(_hex: string): Promise<boolean> {
    throw new Error('not implemented');
  }

  /** Re-hash a stored blob; true when it matches its name. */
  async verify(_hex: string): Promise<boolean> {
    throw new Error('not implemented');
  }

  /** Path for the partial download of `hex` (resume state lives beside it). */
  partialPath(_hex: string): string {
    throw new Error('not implemented');
  }

  /** Move a fully verified temp file into place: fsync, rename, fsync dir. Returns the blob path. */
  async commit(_tempPath: string, _hex: string): Promise<string> {
    throw new Error('not implemented');
  }

  /** Remove a blob (used by the client cache prune; the server keeps blobs). */
  async remove(_hex: string): Promise<void> {
    throw new Error('not implemented');
  }

  /** Count and total bytes of stored blobs. */
  async stats(): Promise<{ blobs: number; bytes: number }> {
    throw new Error('not implemented');
  }

  /** Delete temp files left by a crash (not partials that can be resumed). */
  async cleanTemp(): Promise<void> {
    throw new Error('not implemented');
  }
}
