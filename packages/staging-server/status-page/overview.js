// The overview from GET /v1/status: the last sync and what it held back, the mirror's
// size and the fleet's freshness.
import { bytes, count, fill, h, row, time } from './dom.js';

const OUTCOME_TEXT = {
  ok: 'ok',
  partial: 'partial: some patches held back',
  failed: 'failed',
  running: 'running',
};

function duration(from, to) {
  const seconds = Math.max(0, Math.round((Date.parse(to) - Date.parse(from)) / 1000));
  return seconds < 120 ? `${seconds} s` : `${Math.round(seconds / 60)} min`;
}

function heldBack(held) {
  if (held.length === 0) return h('span', { 'data-field': 'lastSync.heldBack', 'data-count': 0 }, 'nothing');
  return h(
    'ul',
    { class: 'held', 'data-field': 'lastSync.heldBack', 'data-count': held.length },
    ...held.map((p) => h('li', {}, h('strong', {}, p.patchId), ': ', p.error)),
  );
}

function imported(update) {
  return h(
    'span',
    { class: 'outcome outcome-ok' },
    'import ',
    time(update.at),
    update.upstreamSequence === null ? '' : h('span', {}, ', sequence ', count(update.upstreamSequence)),
    update.source ? h('span', {}, ' from ', h('code', {}, update.source)) : '',
  );
}

function syncRows(status) {
  const last = status.lastSync;
  const next = status.syncing
    ? 'a sync is running now'
    : status.nextSyncAt === null
      ? h('span', { class: 'none' }, 'not scheduled')
      : time(status.nextSyncAt);
  const update = status.lastUpdate ?? null;
  // An import newer than every successful sync is the mirror's last update (air-gapped): a
  // sync that failed after it (an absent medium) is said, not shown as the mirror failing.
  const importServed = update?.kind === 'import' && last?.outcome === 'failed';
  const updateRow =
    update?.kind === 'import' && (last === null || importServed)
      ? row('Last update', imported(update), 'lastUpdate')
      : [];
  if (last === null)
    return [...updateRow, ...row('Outcome', 'no sync yet', 'lastSync.outcome'), ...row('Next sync', next)];
  const outcome = h(
    'span',
    { class: `outcome outcome-${importServed ? 'superseded' : last.outcome}` },
    last.imported ? 'ok: imported' : (OUTCOME_TEXT[last.outcome] ?? last.outcome),
    importServed ? h('span', { class: 'none' }, ' · the imported catalog is served') : null,
    last.notModified ? h('span', { class: 'none' }, ' · feed not modified') : null,
  );
  return [
    ...updateRow,
    ...row('Outcome', outcome, 'lastSync.outcome'),
    ...row(
      'Started',
      h(
        'span',
        {},
        time(last.startedAt),
        last.finishedAt === null ? ', still running' : `, took ${duration(last.startedAt, last.finishedAt)}`,
      ),
      'lastSync.startedAt',
    ),
    ...row(
      'Upstream',
      h(
        'span',
        {},
        last.upstreamSequence === null ? '—' : h('span', {}, 'sequence ', count(last.upstreamSequence)),
        last.published ? ', published a new catalog' : '',
      ),
      'lastSync.upstreamSequence',
    ),
    ...row(
      'Fetched',
      h('span', {}, count(last.filesFetched ?? 0), ' files, ', bytes(last.bytesFetched ?? 0)),
      'lastSync.fetched',
    ),
    ...row('Held back', heldBack(last.heldBack ?? []), 'lastSync.heldBackList'),
    ...(last.error ? row('Error', h('span', { class: 'error-text' }, last.error), 'lastSync.error') : []),
    ...row('Next sync', next, 'nextSyncAt'),
  ];
}

function mirrorRows(status) {
  const { mirror, storage } = status;
  return [
    ...row('Catalog sequence', count(mirror.sequence), 'mirror.sequence'),
    ...row('Patches', count(mirror.patches), 'mirror.patches'),
    ...row('Files', count(mirror.blobs), 'mirror.blobs'),
    ...row('Size', bytes(mirror.bytes), 'mirror.bytes'),
    ...(storage
      ? [
          ...row('Reclaimable by gc', bytes(storage.reclaimableBytes), 'storage.reclaimableBytes'),
          ...row('Last gc', storage.lastGc ? time(storage.lastGc.at) : 'never', 'storage.lastGc'),
        ]
      : []),
  ];
}

function fleetRows(status) {
  return [
    ...row('Reporting hosts', count(status.clients.total), 'clients.total'),
    ...row('Not heard from lately', count(status.clients.stale), 'clients.stale'),
    ...row(
      'Notifications',
      status.notify?.enabled ? `on, ${status.notify.queued} queued` : 'off',
      'notify.enabled',
    ),
  ];
}

/**
 * trust v2 with signing.targets "mirror": this server signs targets, so a compromised server
 * controls what hosts run. Shown above everything, as long as the mode lasts.
 */
function renderTrustWarning(trust) {
  const banner = document.getElementById('trust-warning');
  const warning = trust?.warning;
  banner.hidden = !warning;
  if (warning) fill(banner, h('strong', {}, 'Warning: '), warning);
  else fill(banner);
}

/** Fill the overview's elements from a /v1/status document. */
export function renderOverview(status) {
  renderTrustWarning(status.trust);
  fill(
    document.getElementById('server-line'),
    `version ${status.version} · mirroring `,
    h('code', {}, status.upstream.url),
    ` · up ${Math.floor(status.uptimeSeconds / 3600)} h ${Math.floor((status.uptimeSeconds % 3600) / 60)} min`,
  );
  fill(document.getElementById('sync'), ...syncRows(status));
  fill(document.getElementById('mirror'), ...mirrorRows(status));
  fill(document.getElementById('fleet'), ...fleetRows(status));
}
