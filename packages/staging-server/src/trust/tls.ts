// listen.tls (CONTRACT §5): the certificate chain and key for HTTPS, read once at start.
import { readFileSync } from 'node:fs';
import { ErrorCodes, PatchbayError, type ServerConfig } from '@patchbay/core';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
}

function readTlsFile(path: string, key: 'cert' | 'key'): Buffer {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new PatchbayError(
      ErrorCodes.CONFIG,
      `listen.tls.${key}: cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`,
      { key: `listen.tls.${key}`, path },
      { cause: err },
    );
  }
}

/** The PEM files of listen.tls, or undefined for plain HTTP. Unreadable: PB_ERR_CONFIG (exit 2). */
export function readTlsFiles(listen: ServerConfig['listen']): TlsFiles | undefined {
  if (!listen.tls) return undefined;
  return { cert: readTlsFile(listen.tls.cert, 'cert'), key: readTlsFile(listen.tls.key, 'key') };
}
