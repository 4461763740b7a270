// STUB — implemented by the core-storage helper.

/** SHA-256 (lowercase hex) of a buffer. */
export function sha256Hex(_data: Buffer | string): string {
  throw new Error('not implemented');
}

/** SHA-256 of a file, streamed with 1 MiB reads (about twice as fast as the 64 KiB default). */
export async function sha256File(_path: string): Promise<string> {
  throw new Error('not implemented');
}
