// A TUF role's metadata file at one version, kept with the exact bytes it was verified (or
// signed) from: what the served repository publishes byte for byte, whether the file came from
// the upstream, from an import bundle or from this server's own signing (server-signed.ts).
export interface RoleFile<T> {
  role: string;
  version: number;
  bytes: Buffer;
  signed: T;
}
