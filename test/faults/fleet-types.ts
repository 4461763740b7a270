// The result message test/faults/fleet-worker.mjs sends back to fleet.test.ts.

export interface FleetHostResult {
  hostId: string;
  /** events this host sent for the first time (each seq once) */
  sentUnique: number;
  /** sum of `accepted` over the server's answers to this host's PUTs */
  accepted: number;
  reports: number;
  /** exact resends of the previous report */
  resends: number;
  /** reports repeating the previous report's events along with new ones */
  overlaps: number;
  /** the highest seq the host used */
  lastSeq: number;
}

export interface FleetSeenCatalog {
  etag: string;
  sequence: number;
  /** files the catalog names */
  blobs: number;
  /** HEAD requests made against its blobs by hosts holding it */
  headChecked: number;
}

export interface FleetResult {
  rounds: number;
  elapsedMs: number;
  /** CPU time of the worker process (user + system) */
  cpuMs: number;
  /** requests by kind ("catalog 200" and "catalog 304" subdivide "catalog") */
  requests: Record<string, number>;
  /** failed requests by kind: "<kind>: HTTP <status>" or "<kind>: <error code>" */
  errors: Record<string, number>;
  errorSamples: Record<string, unknown>[];
  violations: Record<string, number>;
  violationSamples: ({ invariant: string } & Record<string, unknown>)[];
  /** invariant checks the worker made */
  checks: number;
  seen: FleetSeenCatalog[];
  /** a publication landed between a host's catalog and catalog.sig requests */
  sigRaces: number;
  headChecks: number;
  blobBytes: number;
  hosts: FleetHostResult[];
}
