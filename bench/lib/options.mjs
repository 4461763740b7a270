// Command-line flags of bench/run.mjs and the sizes they give. The default run is the one
// docs/performance.md records (under 5 minutes on 2 cores); --quick is the CI smoke run that
// keeps the harness from rotting (under a minute; its figures mean little).
import { parseArgs } from 'node:util';

export const USAGE = `node bench/run.mjs [--quick] [options]    (npm run bench -- [options])

  --quick            small sizes and 1 s load tests: checks the harness works (CI)
  --duration S       seconds per load test (default 8; quick 1)
  --patches N        catalog size (default 20000; quick 1000)
  --blob-mb N        size of each served blob in MiB (default 16; quick 4)
  --blobs N          how many of them (default 16; quick 4)
  --sync-mb N        bytes to sync in MiB (default 2048; quick 64)
  --sync-files N     in how many files (default 200; quick 20)
  --hosts N          simulated hosts for report ingest (default 2000; quick 200)
  --server-mem-mb N  blob size for the server memory case in MiB (default 1024; quick 64)
  --client-mem-mb N  blob size for the client memory case in MiB (default 2048; quick 128)
  --downloads N      concurrent downloads in the server memory case (default 256; quick 32)
  --fleet-hosts N    simulated hosts of the fleet case (default 100000; quick 300)
  --fleet-layouts L  the fleet case's layouts, comma separated: a, b (default both)
  --only LIST        run only these cases, comma separated: catalog, check, blobs, ingest,
                     server-memory, client-memory, sync, fleet. Without it: all of them, but
                     fleet only with --quick (--only fleet: about 20 minutes per layout on 2 cores)
  --without LIST     act as if these tools were missing (nginx,wrk,curl,openssl)
  --json FILE        also write the results as JSON
  --keep             keep the fixture directory (printed) instead of removing it
  -h, --help         this text`;

export const CASES = [
  'catalog',
  'check',
  'blobs',
  'ingest',
  'server-memory',
  'client-memory',
  'sync',
  'fleet',
];
/** what a run without --only does at full size: the fleet alone takes longer than all of these */
const FULL_RUN_CASES = CASES.filter((name) => name !== 'fleet');

const DEFAULTS = {
  duration: 8,
  patches: 20_000,
  'blob-mb': 16,
  blobs: 16,
  'sync-mb': 2048,
  'sync-files': 200,
  hosts: 2_000,
  'server-mem-mb': 1024,
  'client-mem-mb': 2048,
  downloads: 256,
  'fleet-hosts': 100_000,
};

const QUICK = {
  duration: 1,
  patches: 1_000,
  'blob-mb': 4,
  blobs: 4,
  'sync-mb': 64,
  'sync-files': 20,
  hosts: 200,
  'server-mem-mb': 64,
  'client-mem-mb': 128,
  downloads: 32,
  'fleet-hosts': 300,
};

export function readOptions(argv) {
  const numeric = Object.keys(DEFAULTS);
  const { values } = parseArgs({
    args: argv,
    options: {
      quick: { type: 'boolean', default: false },
      only: { type: 'string' },
      without: { type: 'string' },
      'fleet-layouts': { type: 'string', default: 'a,b' },
      json: { type: 'string' },
      keep: { type: 'boolean', default: false },
      help: { type: 'boolean', short: 'h', default: false },
      ...Object.fromEntries(numeric.map((k) => [k, { type: 'string' }])),
    },
    strict: true,
  });
  if (values.help) return { help: true };
  const base = values.quick ? QUICK : DEFAULTS;
  const sizes = {};
  for (const key of numeric) {
    const raw = values[key] ?? String(base[key]);
    const n = Number(raw);
    if (!Number.isFinite(n) || n <= 0) throw new Error(`--${key}: expected a positive number, got "${raw}"`);
    sizes[key] = n;
  }
  const only = values.only
    ? values.only.split(',').map((s) => s.trim())
    : values.quick
      ? CASES
      : FULL_RUN_CASES;
  for (const name of only) {
    if (!CASES.includes(name)) throw new Error(`--only: unknown case "${name}" (cases: ${CASES.join(', ')})`);
  }
  const fleetLayouts = values['fleet-layouts'].split(',').map((s) => s.trim());
  for (const key of fleetLayouts) {
    if (!['a', 'b'].includes(key))
      throw new Error(`--fleet-layouts: unknown layout "${key}" (layouts: a, b)`);
  }
  const MiB = 1 << 20;
  return {
    quick: values.quick,
    keep: values.keep,
    json: values.json,
    only,
    without: values.without ? values.without.split(',').map((s) => s.trim()) : [],
    duration: sizes.duration,
    patches: Math.floor(sizes.patches),
    blobBytes: Math.floor(sizes['blob-mb'] * MiB),
    blobCount: Math.floor(sizes.blobs),
    syncBytes: Math.floor(sizes['sync-mb'] * MiB),
    syncFiles: Math.floor(sizes['sync-files']),
    hosts: Math.floor(sizes.hosts),
    serverMemBytes: Math.floor(sizes['server-mem-mb'] * MiB),
    clientMemBytes: Math.floor(sizes['client-mem-mb'] * MiB),
    downloads: Math.floor(sizes.downloads),
    fleetHosts: Math.floor(sizes['fleet-hosts']),
    fleetLayouts,
    checkRuns: values.quick ? 1 : 5,
  };
}
