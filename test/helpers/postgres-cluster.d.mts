// Types of postgres-cluster.mjs for the TypeScript tests.
export declare const PG_LIB: string;
export declare function postgresBinDir(): string | undefined;
export interface Cluster {
  readonly url: string;
  readonly port: number;
  readonly dataDir: string;
  pid(): number | undefined;
  createDatabase(name: string): Promise<string>;
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  destroy(): Promise<void>;
}
export declare function startCluster(options?: {
  fsync?: boolean;
  maxConnections?: number;
}): Promise<Cluster>;
