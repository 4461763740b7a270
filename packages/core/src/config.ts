// STUB — implemented by the core-schema helper.
// One schema per program, one loader, defaults in one place (docs/config.md lists every key).

export interface ServerConfig {
  listen: { host: string; port: number };
  /** absolute after loading */
  dataDir: string;
  upstream: {
    /** absolute URL after loading (a bare path in the file is resolved against the config file's directory) */
    url: string;
    publicKey: string | null;
    proxy: string | null;
    concurrency: number;
    /** retries per file on 5xx / connection errors */
    retries: number;
    /** give up on a request that sends no bytes for this long */
    timeoutSeconds: number;
    /** refuse a feed.json larger than this */
    maxFeedBytes: number;
  };
  /** absent products = mirror everything */
  mirror: { products?: { id: string; releases?: string[] }[] };
  schedule: { sync: string | null };
  reports: { maxBodyBytes: number; staleAfterHours: number; historyLimit: number };
  log: { level: string };
  /** accepted and validated now, used by later issues */
  notify?: Record<string, unknown>;
  auth?: Record<string, unknown>;
}

export interface ClientProduct {
  id: string;
  release: string;
  installDir: string;
}

export interface ClientConfig {
  /** normalised to a list */
  server: string[];
  hostId: string;
  hostname: string;
  /** absolute after loading */
  dataDir: string;
  products: ClientProduct[];
  schedule: { check: string | null; install: string | null; intervalSeconds: number };
  policy: { autoInstall: 'none' | 'critical' };
  trust: { mirrorKey: string | null };
  proxy: string | null;
  retries: number;
  timeoutSeconds: number;
  log: { level: string };
}

export interface LoadOptions<T> {
  /** --config FILE; when absent, only defaults + overrides */
  file?: string;
  /** CLI flag overrides, applied after the file, validated the same way */
  overrides?: DeepPartial<T>;
  /** base for relative paths when there is no file (default process.cwd()) */
  cwd?: string;
}

export type DeepPartial<T> = { [K in keyof T]?: T[K] extends object ? DeepPartial<T[K]> : T[K] };

/** Throws PatchbayError PB_ERR_CONFIG naming the key and the reason (CLIs exit 2). */
export function loadServerConfig(_opts: LoadOptions<ServerConfig> = {}): ServerConfig {
  throw new Error('not implemented');
}

export function loadClientConfig(_opts: LoadOptions<ClientConfig> = {}): ClientConfig {
  throw new Error('not implemented');
}
