// The fleet benchmark's simulated hosts, in a process of their own (started with fork), so the
// servers never share a process or an event loop with the load. Each host acts as a daemon in
// trust v2 does after a check: the TUF refresh (tuf-js asks for the next root version, a 404,
// then timestamp.json — conditionally here, If-None-Match), the snapshot, targets and its
// product's role when the timestamp is new, then its report.
//
// Messages from the parent: { type: 'start', hosts: [from, to), tokens: { index: token } },
// then { type: 'round', round, baseUrl, concurrency } as often as it likes; each round answers
// { type: 'round-done', ... } with its counts, latencies (ms) and, per host, what the last
// acknowledged report said (what the store must hold at the end).
import { Pool } from 'undici';
import { firstAvailable, hostReport, hostStates, stateCounts } from './reports.mjs';

const PATCHES = 25;
const FIRST_EVENTS = 3;
const ROLE = 'bench-suite~1.0';
/** one host in ten installs a patch between its two reports; the others report the same states */
const CHANGES_EVERY = 10;

const round2 = (ms) => Math.round(ms * 100) / 100;
/** this process's CPU time so far: how much of the machine the load itself took */
const cpuMs = () => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

class Fleet {
  constructor({ hosts: [from, to], tokens }) {
    this.from = from;
    this.count = to - from;
    this.tokens = tokens;
    this.etags = new Array(this.count).fill(null);
    this.nextSeq = new Uint32Array(this.count).fill(1);
    this.rootVersion = 1;
    // per host, what its last acknowledged report said: installed, missing, failed, events
    this.acked = Array.from({ length: this.count }, () => null);
    this.ackedEvents = new Uint32Array(this.count);
  }

  beginRound(baseUrl, concurrency) {
    this.pool = new Pool(baseUrl, {
      connections: concurrency,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      headersTimeout: 120_000,
      bodyTimeout: 120_000,
    });
    this.latency = {};
    this.statuses = {};
    this.errors = {};
    this.errorSamples = [];
    this.reports = 0;
    this.acceptedMismatch = 0;
  }

  note(kind, status) {
    const key = `${kind} ${status}`;
    this.statuses[key] = (this.statuses[key] ?? 0) + 1;
  }

  /** One request, body read; its latency filed under `kind`. Network errors: { error }. */
  async request(kind, method, path, headers = {}, body = undefined) {
    const started = performance.now();
    try {
      const res = await this.pool.request({ method, path, headers, body });
      const text = await res.body.text();
      (this.latency[kind] ??= []).push(round2(performance.now() - started));
      this.note(kind, res.statusCode);
      return { status: res.statusCode, headers: res.headers, text };
    } catch (err) {
      const key = `${kind}: ${err.code ?? err.name}`;
      this.errors[key] = (this.errors[key] ?? 0) + 1;
      if (this.errorSamples.length < 10) this.errorSamples.push({ kind, path, message: String(err.message) });
      return { error: err };
    }
  }

  /** The TUF refresh; false when the host could not get its metadata (counted, not retried). */
  async refresh(slot) {
    await this.request('root probe', 'GET', `/v1/tuf/metadata/${this.rootVersion + 1}.root.json`);
    const etag = this.etags[slot];
    const ts = await this.request(
      'timestamp',
      'GET',
      '/v1/tuf/metadata/timestamp.json',
      etag ? { 'if-none-match': etag } : {},
    );
    if (ts.error || (ts.status !== 200 && ts.status !== 304)) return false;
    if (ts.status === 304) return true;
    const snapshotVersion = JSON.parse(ts.text).signed.meta['snapshot.json'].version;
    const snapshot = await this.request(
      'metadata',
      'GET',
      `/v1/tuf/metadata/${snapshotVersion}.snapshot.json`,
    );
    if (snapshot.error || snapshot.status !== 200) return false;
    const meta = JSON.parse(snapshot.text).signed.meta;
    for (const role of ['targets', ROLE]) {
      const version = meta[`${role}.json`]?.version;
      const res = await this.request(
        'metadata',
        'GET',
        `/v1/tuf/metadata/${version}.${encodeURIComponent(role)}.json`,
      );
      if (res.error || res.status !== 200) return false;
    }
    this.etags[slot] = ts.headers.etag;
    return true;
  }

  async report(slot, round) {
    const index = this.from + slot;
    const changed = round > 1 && index % CHANGES_EVERY === 3 ? firstAvailable(index, PATCHES) : -1;
    // the first report: a check, a download, an install; later ones a check (and the install)
    const events = round === 1 ? FIRST_EVENTS : changed >= 0 ? 2 : 1;
    const report = hostReport(index, {
      patches: PATCHES,
      events,
      firstSeq: this.nextSeq[slot],
      at: new Date().toISOString(),
      changed,
    });
    const token = this.tokens[index];
    const res = await this.request(
      round === 1 ? 'report' : 're-report',
      'PUT',
      `/v1/clients/${report.hostId}/report`,
      {
        'content-type': 'application/json',
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      JSON.stringify(report),
    );
    if (res.error || res.status !== 200) return;
    this.reports += 1;
    this.nextSeq[slot] += events;
    if (JSON.parse(res.text).accepted !== events) this.acceptedMismatch += 1;
    this.acked[slot] = stateCounts(hostStates(index, { patches: PATCHES, changed }));
    this.ackedEvents[slot] += events;
  }

  async round(round, baseUrl, concurrency) {
    this.beginRound(baseUrl, concurrency);
    let next = 0;
    const started = performance.now();
    const cpuAtStart = cpuMs();
    const slotWorker = async () => {
      while (next < this.count) {
        const slot = next++;
        if (await this.refresh(slot)) await this.report(slot, round);
      }
    };
    await Promise.all(Array.from({ length: concurrency }, slotWorker));
    const seconds = (performance.now() - started) / 1000;
    await this.pool.close();
    return {
      seconds,
      reports: this.reports,
      acceptedMismatch: this.acceptedMismatch,
      latency: this.latency,
      statuses: this.statuses,
      errors: this.errors,
      errorSamples: this.errorSamples,
      from: this.from,
      acked: this.acked.map((a, slot) =>
        a ? [a.installed, a.missing, a.failed, this.ackedEvents[slot]] : null,
      ),
      cpuMs: cpuMs(),
      /** this round's share of it: what the load took to send the round's requests */
      roundCpuMs: cpuMs() - cpuAtStart,
    };
  }
}

let fleet = null;
process.on('message', (message) => {
  const answer = (work) =>
    work.then(
      (result) => process.send({ type: 'done', result }),
      (err) => process.send({ type: 'crash', error: String(err?.stack ?? err) }, () => process.exit(1)),
    );
  if (message.type === 'start') {
    fleet = new Fleet(message);
    process.send({ type: 'done', result: { started: true } });
  } else if (message.type === 'round') {
    answer(fleet.round(message.round, message.baseUrl, message.concurrency));
  } else if (message.type === 'exit') {
    process.exit(0);
  }
});
