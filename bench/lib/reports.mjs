// A simulated host's report (core's REPORT_SCHEMA): the states of `patches` patches and ten
// events, about what a real daemon sends after a check.
const AT = '2026-11-20T08:00:00.000Z';
const STATES = ['installed', 'installed', 'available', 'downloaded', 'failed', 'superseded'];

export function hostReport(index, { patches = 25, events = 10 } = {}) {
  const hostId = `bench-host-${String(index).padStart(6, '0')}`;
  const id = (p) => `PS${String(p).padStart(5, '0')}`;
  return {
    hostId,
    hostname: `${hostId}.bench.example`,
    daemonVersion: '0.1.0',
    platform: 'linux',
    reportedAt: AT,
    pendingReboot: false,
    products: [{ id: 'bench-suite', release: '1.0' }],
    patches: Array.from({ length: patches }, (_, p) => ({
      id: id(p * 4),
      state: STATES[(index + p) % STATES.length],
      since: AT,
    })),
    events: Array.from({ length: events }, (_, e) => ({
      seq: e + 1,
      type: ['check', 'download', 'install'][e % 3],
      patchId: id(e * 4),
      at: AT,
      outcome: 'ok',
      message: '',
    })),
  };
}
