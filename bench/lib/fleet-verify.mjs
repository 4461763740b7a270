// After the fleet's rounds: is every acknowledged report in the store? Read back through the
// admin API, as an operator would see it: /v1/clients (each host's counts must be those of its
// last acknowledged report) and /v1/reports/history (each host's events, at least as many as
// were acknowledged). Runs in the benchmark's own process: it is checked, not timed.

const PAGE = 10_000;

async function getJson(url) {
  const res = await fetch(url);
  if (!res.ok) throw new Error(`GET ${url}: HTTP ${res.status} ${(await res.text()).slice(0, 300)}`);
  return { body: await res.json(), headers: res.headers };
}

/** hostId -> { installed, missing, failed }, every page of /v1/clients. */
async function storedHosts(baseUrl) {
  const hosts = new Map();
  let after = null;
  while (true) {
    const query = `limit=${PAGE}${after ? `&after=${encodeURIComponent(after)}` : ''}`;
    const { body } = await getJson(`${baseUrl}/v1/clients?${query}`);
    for (const h of body) hosts.set(h.hostId, h);
    if (body.length < PAGE) return hosts;
    after = body.at(-1).hostId;
  }
}

/** hostId -> events stored, every page of /v1/reports/history. */
async function storedEvents(baseUrl) {
  const counts = new Map();
  let before = null;
  while (true) {
    const query = `limit=${PAGE}${before ? `&before=${before}` : ''}`;
    const { body } = await getJson(`${baseUrl}/v1/reports/history?${query}`);
    for (const e of body) counts.set(e.hostId, (counts.get(e.hostId) ?? 0) + 1);
    if (body.length < PAGE) return counts;
    before = body.at(-1).id;
  }
}

/**
 * `acked`: host index -> [installed, missing, failed, events] of its last acknowledged report
 * (events: all it had acknowledged). Returns how many hosts the store lost something of.
 */
export async function verifyFleet(baseUrl, acked, hostIdOf) {
  const hosts = await storedHosts(baseUrl);
  const events = await storedEvents(baseUrl);
  const lost = { absent: 0, statesBehind: 0, eventsShort: 0, samples: [] };
  for (const [index, [installed, missing, failed, eventCount]] of acked) {
    const hostId = hostIdOf(index);
    const stored = hosts.get(hostId);
    const kind = !stored
      ? 'absent'
      : stored.installed !== installed || stored.missing !== missing || stored.failed !== failed
        ? 'statesBehind'
        : (events.get(hostId) ?? 0) < eventCount
          ? 'eventsShort'
          : null;
    if (kind === null) continue;
    lost[kind] += 1;
    if (lost.samples.length < 5) lost.samples.push({ hostId, kind, stored, acked: acked.get(index) });
  }
  lost.total = lost.absent + lost.statesBehind + lost.eventsShort;
  return lost;
}
