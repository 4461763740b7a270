// A simulated host's report (core's REPORT_SCHEMA): the states of `patches` patches and ten
// events, about what a real daemon sends after a check. The fleet benchmark also sends later
// reports: events numbered on from `firstSeq`, at `at`, and `changed` (a patch index) installed.
const AT = '2026-11-20T08:00:00.000Z';
const STATES = ['installed', 'installed', 'available', 'downloaded', 'failed', 'superseded'];
const MISSING = new Set(['available', 'downloaded', 'blocked', 'uninstalled']);

/** The patch states host `index` reports: `changed` (a patch index, or -1) is installed since. */
export function hostStates(index, { patches = 25, changed = -1 } = {}) {
  return Array.from({ length: patches }, (_, p) =>
    p === changed ? 'installed' : STATES[(index + p) % STATES.length],
  );
}

/** The first patch host `index` reports as available: the one a later report installs. */
export function firstAvailable(index, patches = 25) {
  return hostStates(index, { patches }).indexOf('available');
}

/** What /v1/clients says of a host that reported `states`. */
export function stateCounts(states) {
  let installed = 0;
  let missing = 0;
  let failed = 0;
  for (const state of states) {
    if (state === 'installed') installed += 1;
    else if (state === 'failed') failed += 1;
    else if (MISSING.has(state)) missing += 1;
  }
  return { installed, missing, failed };
}

export function hostReport(index, { patches = 25, events = 10, firstSeq = 1, at = AT, changed = -1 } = {}) {
  const hostId = `bench-host-${String(index).padStart(6, '0')}`;
  const id = (p) => `PS${String(p).padStart(5, '0')}`;
  const states = hostStates(index, { patches, changed });
  return {
    hostId,
    hostname: `${hostId}.bench.example`,
    daemonVersion: '0.1.0',
    platform: 'linux',
    reportedAt: at,
    pendingReboot: false,
    products: [{ id: 'bench-suite', release: '1.0' }],
    patches: states.map((state, p) => ({ id: id(p * 4), state, since: AT })),
    events: Array.from({ length: events }, (_, e) => ({
      seq: firstSeq + e,
      type: ['check', 'download', 'install'][e % 3],
      patchId: id(e * 4),
      at,
      outcome: 'ok',
      message: '',
    })),
  };
}
