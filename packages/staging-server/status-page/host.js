// One host's detail and history, from GET /v1/clients/:hostId: what it last reported,
// its patches' states and its newest events.
import { count, fill, h, row, time } from './dom.js';
import { STATES } from './states.js';

function stateText(state) {
  return STATES[state]?.word ?? state;
}

function summary(client) {
  return h(
    'dl',
    { class: 'facts' },
    ...row('Host name', client.hostname, 'hostname'),
    ...row('Platform', client.platform || '—', 'platform'),
    ...row('Daemon version', client.daemonVersion || '—', 'daemonVersion'),
    ...row('Products', client.products.map((p) => `${p.id} ${p.release}`).join(', ') || '—', 'products'),
    ...row('Last seen', time(client.lastSeenAt), 'lastSeenAt'),
    ...row('Report written', time(client.reportedAt), 'reportedAt'),
    ...row('Reboot pending', client.pendingReboot ? 'yes' : 'no', 'pendingReboot'),
    ...(client.via ? row('Reports through branch', client.via, 'via') : []),
    ...row('Client instance', client.instanceId ?? '—', 'instanceId'),
  );
}

/**
 * A host id that reported from more than one client instance (data dir): re-imaged, or two
 * machines share the id. Its events are kept per instance; the reader should know.
 */
function instanceWarning(client) {
  const instances = client.instances ?? [];
  if (instances.length < 2) return null;
  const [current, ...earlier] = instances;
  return h(
    'p',
    { class: 'instance-warning', id: 'host-instances', 'data-count': instances.length },
    `This host id has reported from ${instances.length} client instances: the newest, ${current.instanceId}, since `,
    time(current.firstSeenAt),
    `; before it ${earlier.map((i) => i.instanceId).join(', ')}. `,
    'The host was re-imaged or its data directory re-created — or two machines share this host id.',
  );
}

/** The installer's last output lines of an event, folded (text only, never HTML). */
function eventOutput(e) {
  if (!e.output) return null;
  return h(
    'details',
    { class: 'output' },
    h('summary', {}, 'installer output (last lines)'),
    h('pre', { 'data-field': 'output' }, e.output),
  );
}

function patchTable(client) {
  if (client.patches.length === 0) return h('p', {}, 'The host reported no patches.');
  return h(
    'table',
    { class: 'plain', id: 'host-patches' },
    h('caption', {}, `Patches as last reported (${client.patches.length})`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'Patch'),
        h('th', { scope: 'col' }, 'State'),
        h('th', { scope: 'col' }, 'Since'),
        h('th', { scope: 'col' }, 'Reason'),
      ),
    ),
    h(
      'tbody',
      {},
      ...client.patches.map((p) =>
        h(
          'tr',
          { 'data-patch': p.id },
          h('th', { scope: 'row' }, p.id),
          h('td', { class: `state-${p.state}`, 'data-state': p.state }, stateText(p.state)),
          h('td', {}, p.since ? time(p.since) : '—'),
          h('td', {}, p.reason ?? ''),
        ),
      ),
    ),
  );
}

function eventTable(client) {
  if (client.events.length === 0) return h('p', { id: 'host-events' }, 'No events recorded.');
  return h(
    'table',
    { class: 'plain', id: 'host-events', 'data-count': client.events.length },
    h('caption', {}, `History: the newest ${client.events.length} events`),
    h(
      'thead',
      {},
      h(
        'tr',
        {},
        h('th', { scope: 'col' }, 'When'),
        h('th', { scope: 'col' }, 'Event'),
        h('th', { scope: 'col' }, 'Patch'),
        h('th', { scope: 'col' }, 'Outcome'),
        h('th', { scope: 'col' }, 'Message'),
      ),
    ),
    h(
      'tbody',
      {},
      ...client.events.map((e) =>
        h(
          'tr',
          { 'data-event': e.id },
          h('td', {}, time(e.at)),
          h('td', {}, e.type),
          h('td', {}, e.patchId ?? '—'),
          h('td', { class: `outcome outcome-${e.outcome}` }, e.outcome),
          h('td', {}, e.message, eventOutput(e)),
        ),
      ),
    ),
  );
}

function csvLinks(hostId) {
  const q = (more) => new URLSearchParams({ host: hostId, format: 'csv', ...more }).toString();
  return h(
    'p',
    { class: 'links' },
    'Whole history as CSV: ',
    h('a', { href: `/v1/reports/history?${q({ limit: '10000' })}`, 'data-csv': '' }, 'all events'),
    ' · ',
    h(
      'a',
      { href: `/v1/reports/installs?${q({ limit: '10000' })}`, 'data-csv': '' },
      'installs and uninstalls',
    ),
  );
}

/**
 * Render the host section from the /v1/clients/:hostId document.
 * @param {object} client
 * @param {string} closeHref where "Close" leads (the same view without the host)
 */
export function renderHost(client, closeHref) {
  const section = document.getElementById('host');
  const installed = client.patches.filter((p) => p.state === 'installed').length;
  const failed = client.patches.filter((p) => p.state === 'failed').length;
  fill(
    section,
    h('h2', { id: 'host-h', tabindex: '-1' }, `Host ${client.hostId}`),
    h(
      'p',
      {},
      count(installed),
      ' installed, ',
      count(failed),
      ' failed, as reported · ',
      h('a', { href: closeHref }, 'Close'),
    ),
    summary(client),
    instanceWarning(client),
    h('h3', {}, 'Patches'),
    patchTable(client),
    h('h3', {}, 'History'),
    eventTable(client),
    csvLinks(client.hostId),
  );
  section.hidden = false;
}

/** The host section when the host is unknown or could not be read. */
export function renderHostError(hostId, message) {
  const section = document.getElementById('host');
  fill(
    section,
    h('h2', { id: 'host-h', tabindex: '-1' }, `Host ${hostId}`),
    h('p', { class: 'error-text' }, message),
  );
  section.hidden = false;
}

export function hideHost() {
  const section = document.getElementById('host');
  section.hidden = true;
  section.replaceChildren();
}
