// The status page's wiring: the view (filters, sort, page, open host) lives in the URL's
// fragment, so every view can be bookmarked and Back works; each change of the fragment
// loads what the view shows from the JSON API and renders it.
// <body data-state> says where the page is: loading, ready, auth (token needed) or error.
import { AccessError, ApiError, adminToken, downloadWithToken, getJson, setAdminToken } from './api.js';
import { fill, h } from './dom.js';
import { hideHost, renderHost, renderHostError } from './host.js';
import { matrixUrl, renderMatrix } from './matrix.js';
import { renderOverview } from './overview.js';
import { legend } from './states.js';

const SIZES = [25, 50, 100, 200];
const SORTS = ['behind', 'failed', 'hostId', 'hostname', 'lastSeenAt'];
const DEFAULT_ORDER = { behind: 'desc', failed: 'desc', hostId: 'asc', hostname: 'asc', lastSeenAt: 'asc' };
const DEFAULTS = {
  severity: '',
  release: '',
  search: '',
  sort: 'behind',
  order: 'desc',
  page: 1,
  size: 50,
  host: '',
};
const OVERVIEW_REFRESH_MS = 60_000;

/** The view in the fragment (#severity=critical&page=2&host=…), defaults for what is absent or odd. */
function readView() {
  const q = new URLSearchParams(location.hash.slice(1));
  const view = { ...DEFAULTS };
  for (const name of ['severity', 'release', 'search', 'host']) view[name] = q.get(name) ?? '';
  if (SORTS.includes(q.get('sort'))) view.sort = q.get('sort');
  view.order = ['asc', 'desc'].includes(q.get('order')) ? q.get('order') : DEFAULT_ORDER[view.sort];
  const page = Number(q.get('page'));
  if (Number.isInteger(page) && page >= 1) view.page = page;
  const size = Number(q.get('size'));
  if (SIZES.includes(size)) view.size = size;
  return view;
}

/** The fragment of a view, naming only what differs from the defaults. */
function viewHref(view) {
  const q = new URLSearchParams();
  for (const [name, value] of Object.entries(view)) {
    const fallback = name === 'order' ? DEFAULT_ORDER[view.sort] : DEFAULTS[name];
    if (value !== fallback && value !== '') q.set(name, String(value));
  }
  const text = q.toString();
  return text === '' ? '#' : `#${text}`;
}

/** Show `view`: a new fragment loads through hashchange; the same one (Apply, unchanged) loads now. */
function go(view) {
  const href = viewHref(view);
  if (href === (location.hash || '#')) load();
  else location.hash = href;
}

const actions = {
  onSort(key) {
    const view = readView();
    const order = view.sort === key ? (view.order === 'asc' ? 'desc' : 'asc') : DEFAULT_ORDER[key];
    go({ ...view, sort: key, order, page: 1 });
  },
  onPage(page) {
    go({ ...readView(), page });
  },
  hostHref(hostId) {
    return viewHref({ ...readView(), host: hostId });
  },
};

function setState(state, message = '') {
  document.body.dataset.state = state;
  document.querySelector('main').setAttribute('aria-busy', state === 'loading' ? 'true' : 'false');
  const notice = document.getElementById('notice');
  fill(notice, message);
  notice.className = state === 'error' ? 'error-text' : '';
}

/** The filter form shows the view; the release list comes from the catalog (the host view's `releases`). */
function showFilters(view, releases) {
  const form = document.getElementById('filters');
  const release = form.elements.namedItem('release');
  if (releases) {
    fill(
      release,
      h('option', { value: '' }, 'all releases'),
      ...releases.map((r) => h('option', { value: r }, r)),
    );
  }
  form.elements.namedItem('severity').value = view.severity;
  release.value = view.release;
  form.elements.namedItem('search').value = view.search;
  form.elements.namedItem('size').value = String(view.size);
}

/** CSV links for the reports, with the view's severity and release. */
function showReportLinks(view) {
  const filters = {};
  if (view.severity) filters.severity = view.severity;
  if (view.release) filters.release = view.release;
  const href = (path, more = {}) =>
    `${path}?${new URLSearchParams({ ...filters, ...more, format: 'csv' }).toString()}`;
  const links = [
    ['Compliance per patch', href('/v1/reports/compliance')],
    ['Compliance matrix, every host', matrixUrl(view, 'csv')],
    ['Patches downloaded', href('/v1/reports/downloaded')],
    ['Installs and uninstalls (newest 10,000)', href('/v1/reports/installs', { limit: '10000' })],
    ['All events (newest 10,000)', href('/v1/reports/history', { limit: '10000' })],
  ];
  fill(
    document.getElementById('report-links'),
    ...links.map(([label, url]) => h('li', {}, h('a', { href: url, 'data-csv': '' }, label))),
  );
}

async function loadOverview() {
  renderOverview((await getJson('/v1/status')).body);
}

async function loadMatrix(view) {
  const { body } = await getJson(matrixUrl(view));
  // A page past the end (the fleet shrank, a bookmark): go to the last page instead.
  if (body.hosts.length === 0 && body.total > 0 && view.page > 1) {
    go({ ...view, page: Math.ceil(body.total / view.size) });
    return;
  }
  showFilters(view, body.releases);
  renderMatrix(body, view, actions);
}

async function loadHost(view, focus) {
  if (!view.host) {
    hideHost();
    return;
  }
  try {
    const { body } = await getJson(`/v1/clients/${encodeURIComponent(view.host)}`);
    renderHost(body, viewHref({ ...view, host: '' }));
  } catch (err) {
    if (!(err instanceof ApiError) || err instanceof AccessError) throw err;
    renderHostError(view.host, err.message);
  }
  if (focus) {
    const heading = document.getElementById('host-h');
    heading?.focus();
    heading?.scrollIntoView({ block: 'start' });
  }
}

function showTokenForm(message) {
  const form = document.getElementById('token-form');
  fill(document.getElementById('token-reason'), message);
  form.hidden = false;
  form.elements.namedItem('token').focus();
}

function handleError(err) {
  document.getElementById('forget-token').hidden = adminToken() === null;
  if (err instanceof AccessError && err.status === 401) {
    setState('auth', 'This server shows its status to the admin only.');
    showTokenForm(adminToken() ? `The server refused the token: ${err.message}` : err.message);
  } else if (err instanceof AccessError) {
    setState('error', `The server refused: ${err.message}`);
  } else {
    setState('error', `Could not load the status: ${err instanceof Error ? err.message : String(err)}`);
  }
}

let lastHost = null;
let loading = 0;

async function load() {
  const view = readView();
  const mine = ++loading;
  const hostChanged = view.host !== lastHost;
  lastHost = view.host;
  setState('loading', 'Loading…');
  showReportLinks(view);
  try {
    await Promise.all([loadOverview(), loadMatrix(view), loadHost(view, hostChanged && view.host !== '')]);
    if (mine !== loading) return; // a newer view is loading
    document.getElementById('token-form').hidden = true;
    document.getElementById('forget-token').hidden = adminToken() === null;
    setState('ready', '');
  } catch (err) {
    if (mine === loading) handleError(err);
  }
}

function wire() {
  const filters = document.getElementById('filters');
  const applyFilters = (event) => {
    event?.preventDefault();
    const data = new FormData(filters);
    go({
      ...readView(),
      severity: String(data.get('severity') ?? ''),
      release: String(data.get('release') ?? ''),
      search: String(data.get('search') ?? '').trim(),
      size: Number(data.get('size')),
      page: 1,
    });
  };
  filters.addEventListener('submit', applyFilters);
  for (const name of ['severity', 'release', 'size'])
    filters.elements.namedItem(name).addEventListener('change', () => applyFilters());

  document.getElementById('token-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const input = event.target.elements.namedItem('token');
    setAdminToken(input.value.trim());
    input.value = '';
    load();
  });
  document.getElementById('forget-token').addEventListener('click', () => {
    setAdminToken(null);
    load();
  });
  document.getElementById('refresh').addEventListener('click', () => load());

  // A CSV link is a plain link unless a token must go with it.
  document.addEventListener('click', (event) => {
    const link = event.target instanceof Element ? event.target.closest('a[data-csv]') : null;
    if (link === null || adminToken() === null) return;
    event.preventDefault();
    downloadWithToken(link.getAttribute('href')).catch(handleError);
  });

  fill(document.getElementById('legend'), legend());
  window.addEventListener('hashchange', () => load());
  setInterval(() => {
    if (document.visibilityState === 'visible' && document.body.dataset.state === 'ready')
      loadOverview().catch(handleError);
  }, OVERVIEW_REFRESH_MS);
}

wire();
load();
