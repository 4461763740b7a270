// The compliance matrix: one page of hosts × the selected patches, from
// GET /v1/reports/compliance?view=hosts (sorted and paged by the server, so the page
// never holds more rows than one page, whatever the fleet's size).
import { count, fill, h, relative } from './dom.js';
import { stateCell } from './states.js';

/** Sort keys the server knows, with the column that shows each. */
const SORTABLE = [
  ['hostId', 'Host'],
  ['lastSeenAt', 'Last seen'],
  ['behind', 'Behind'],
  ['failed', 'Failed'],
];

/** The host view's URL for a view state (see app.js readView). */
export function matrixUrl(view, format = 'json') {
  const q = new URLSearchParams({ view: 'hosts', sort: view.sort, order: view.order });
  if (format === 'json') {
    q.set('offset', String((view.page - 1) * view.size));
    q.set('limit', String(view.size));
  } else q.set('format', format);
  for (const name of ['severity', 'release', 'search']) if (view[name]) q.set(name, view[name]);
  return `/v1/reports/compliance?${q.toString()}`;
}

function sortHeader(key, label, view, onSort) {
  const active = view.sort === key;
  const button = h(
    'button',
    { type: 'button', class: 'sort', 'data-sort': key },
    label,
    h('span', { 'aria-hidden': 'true' }, active ? (view.order === 'asc' ? ' ▲' : ' ▼') : ''),
  );
  button.addEventListener('click', () => onSort(key));
  return h(
    'th',
    {
      scope: 'col',
      class: `sortable col-${key}`,
      'aria-sort': active ? (view.order === 'asc' ? 'ascending' : 'descending') : null,
    },
    button,
  );
}

function patchHeader(p) {
  const relevant = p.installed + p.missing + p.failed + p.superseded;
  return h(
    'th',
    {
      scope: 'col',
      class: `patch sev-${p.severity}`,
      title: `${p.patchId} — ${p.title} (${p.severity}, ${p.release}): installed on ${p.installed} of ${relevant} hosts`,
      'data-patch': p.patchId,
    },
    h('span', { class: 'pid' }, p.patchId),
    h('span', { class: 'sev', 'aria-hidden': 'true' }, p.severity[0].toUpperCase()),
    h('span', { class: 'sr-only' }, ` ${p.severity}`),
  );
}

function hostRow(host, patches, hostHref) {
  return h(
    'tr',
    { 'data-host': host.hostId },
    h(
      'th',
      { scope: 'row', class: 'host' },
      h('a', { href: hostHref(host.hostId) }, host.hostId),
      host.hostname !== host.hostId ? h('span', { class: 'hostname' }, host.hostname) : null,
    ),
    h(
      'td',
      { class: 'seen' },
      h('time', { datetime: host.lastSeenAt, title: host.lastSeenAt }, relative(new Date(host.lastSeenAt))),
    ),
    h(
      'td',
      { class: `num behind${host.behind > 0 ? ' is-behind' : ''}`, 'data-field': 'behind' },
      count(host.behind),
      h('span', { class: 'of' }, ` of ${host.relevant}`),
    ),
    h(
      'td',
      { class: `num${host.failed > 0 ? ' has-failed' : ''}`, 'data-field': 'failed' },
      count(host.failed),
    ),
    ...patches.map((p) => stateCell(host.states[p.patchId], p.patchId)),
  );
}

/**
 * Render one page of the matrix.
 * @param {object} data the host view's JSON
 * @param {object} view the page's view state
 * @param {{ onSort: (key: string) => void, onPage: (page: number) => void, hostHref: (id: string) => string }} actions
 */
export function renderMatrix(data, view, actions) {
  const { patches, hosts, total } = data;
  const first = total === 0 ? 0 : data.offset + 1;
  const last = data.offset + hosts.length;
  const pages = Math.max(1, Math.ceil(total / view.size));
  const sortLabel = SORTABLE.find(([k]) => k === view.sort)?.[1] ?? view.sort;

  fill(
    document.getElementById('matrix-summary'),
    total === 0
      ? 'No host matches.'
      : h(
          'span',
          {},
          'Hosts ',
          h('data', { value: first, 'data-field': 'first' }, first.toLocaleString()),
          '–',
          h('data', { value: last, 'data-field': 'last' }, last.toLocaleString()),
          ' of ',
          h('data', { value: total, 'data-field': 'total' }, total.toLocaleString()),
          `, sorted by ${sortLabel.toLowerCase()} (${view.order === 'asc' ? 'ascending' : 'descending'}); `,
          `${patches.length} patch${patches.length === 1 ? '' : 'es'} selected.`,
        ),
  );

  const table = document.getElementById('matrix');
  fill(
    table,
    h('caption', { class: 'sr-only' }, 'Hosts and the state of each selected patch on them'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        ...SORTABLE.map(([key, label]) => sortHeader(key, label, view, actions.onSort)),
        ...patches.map(patchHeader),
      ),
    ),
    h('tbody', {}, ...hosts.map((host) => hostRow(host, patches, actions.hostHref))),
  );

  for (const nav of document.querySelectorAll('.pager')) {
    const prev = h('button', { type: 'button', disabled: view.page <= 1 }, '← Previous');
    const next = h('button', { type: 'button', disabled: view.page >= pages }, 'Next →');
    prev.addEventListener('click', () => actions.onPage(view.page - 1));
    next.addEventListener('click', () => actions.onPage(view.page + 1));
    fill(nav, prev, h('span', {}, ` page ${view.page} of ${pages.toLocaleString()} `), next);
  }

  renderPatchTable(patches);
}

/** Per-patch counts over the selected hosts (the per-patch compliance report's numbers). */
function renderPatchTable(patches) {
  const cols = ['installed', 'missing', 'failed', 'superseded', 'pendingReboot'];
  const labels = ['Installed', 'Missing', 'Failed', 'Superseded', 'Pending reboot'];
  fill(
    document.getElementById('patches'),
    h('caption', {}, 'Each selected patch, counted over the selected hosts'),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Patch'),
        h('th', { scope: 'col' }, 'Title'),
        h('th', { scope: 'col' }, 'Severity'),
        h('th', { scope: 'col' }, 'Release'),
        ...labels.map((l) => h('th', { scope: 'col', class: 'num' }, l)),
      ),
    ),
    h(
      'tbody',
      {},
      ...patches.map((p) =>
        h(
          'tr',
          { 'data-patch': p.patchId },
          h('th', { scope: 'row' }, p.patchId),
          h('td', {}, p.title),
          h('td', {}, h('span', { class: `sev-badge sev-${p.severity}` }, p.severity)),
          h('td', {}, p.release),
          ...cols.map((c) => h('td', { class: 'num', 'data-field': c }, count(p[c]))),
        ),
      ),
    ),
  );
}
