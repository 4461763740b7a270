// The simulated fleet for test/faults/fleet.test.ts, in its own process so that 1,000 hosts'
// HTTP, gunzip and SHA-256 work does not share an event loop with the test that publishes.
//
// Started with child_process.fork; the parent sends one `start` message, then `final` (with
// the last published catalog's ETag) once every publication is done. The worker runs rounds
// until it has `final` and at least `minRounds`, runs one more round (the fleet must converge
// on the final catalog), and answers with one `result` message. It sends `round` at the start
// of every round, which is what the parent paces its publications on.
//
// Every host, every round: poll /v1/catalog (If-None-Match; gzip for most hosts), verify a
// new catalog against /v1/catalog.sig and /v1/keys, HEAD the blobs it names (all of them for
// an ETag this process has not seen yet, a sample otherwise), download one or two blobs (full
// or as two Range requests) and check their SHA-256, then PUT a report with new events —
// sometimes after resending the previous report, sometimes overlapping it. Nothing is retried:
// a failed request is counted by kind, never hidden.
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { Pool } from 'undici';
import { verifyDetached } from '@patchbay/core';

/** mulberry32, as test/faults/figures.ts: the fleet's choices replay with the seed. */
function seededRandom(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

const sha256 = (bytes) => createHash('sha256').update(bytes).digest('hex');
const MAX_SIG_RACE_RETRIES = 5;

class Fleet {
  constructor(opts) {
    this.opts = opts;
    this.random = seededRandom(opts.seed);
    this.pool = new Pool(opts.baseUrl, {
      connections: opts.connections,
      pipelining: 1,
      // below the server's 10 s keep-alive, so the client closes an idle socket first
      keepAliveTimeout: 4_000,
      headersTimeout: 60_000,
      bodyTimeout: 60_000,
    });
    this.hosts = opts.hosts.map((h, index) => ({
      hostId: h.hostId,
      token: h.token,
      // one host in five asks for identity bytes, as the real client does
      gzip: index % 5 !== 0,
      etag: null,
      catalog: null,
      files: [],
      sequence: 0,
      seq: 0,
      lastReport: null,
      sentUnique: 0,
      accepted: 0,
      reports: 0,
      resends: 0,
      overlaps: 0,
    }));
    this.requests = {};
    this.errors = {};
    this.errorSamples = [];
    this.violations = {};
    this.violationSamples = [];
    this.checks = 0;
    /** ETag -> { sequence, blobs, headChecked } for every catalog any host saw */
    this.seen = new Map();
    this.pinnedKey = null;
    this.sigRaces = 0;
    this.headChecks = 0;
    this.blobBytes = 0;
    this.final = false;
    this.finalEtag = null;
  }

  count(kind) {
    this.requests[kind] = (this.requests[kind] ?? 0) + 1;
  }

  error(kind, detail) {
    this.errors[kind] = (this.errors[kind] ?? 0) + 1;
    if (this.errorSamples.length < 20) this.errorSamples.push({ kind, ...detail });
  }

  /** an invariant check; a failure is counted by name with a few samples */
  check(ok, invariant, detail) {
    this.checks += 1;
    if (ok) return true;
    this.violations[invariant] = (this.violations[invariant] ?? 0) + 1;
    if (this.violationSamples.length < 20) this.violationSamples.push({ invariant, ...detail });
    return false;
  }

  /** One request; the body is always read. Network errors come back as { error }. */
  async request(kind, method, path, headers = {}, body = undefined) {
    this.count(kind);
    try {
      const res = await this.pool.request({ method, path, headers, body });
      const bytes = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, bytes };
    } catch (err) {
      this.error(`${kind}: ${err.code ?? err.name}`, { path, message: String(err.message) });
      return { error: err };
    }
  }

  /** Records an unexpected status as an error of its kind; true when status is allowed. */
  expectStatus(kind, res, allowed, path) {
    if (res.error) return false;
    if (allowed.includes(res.status)) return true;
    this.error(`${kind}: HTTP ${res.status}`, { path, body: res.bytes.toString('utf8').slice(0, 300) });
    return false;
  }

  async pollCatalog(host) {
    for (let attempt = 0; attempt <= MAX_SIG_RACE_RETRIES; attempt++) {
      const headers = { 'accept-encoding': host.gzip ? 'gzip' : 'identity' };
      if (host.etag) headers['if-none-match'] = host.etag;
      const res = await this.request('catalog', 'GET', '/v1/catalog', headers);
      if (!this.expectStatus('catalog', res, host.etag ? [200, 304] : [200], '/v1/catalog')) return;
      if (res.status === 304) {
        this.count('catalog 304');
        this.check(res.headers.etag === host.etag, 'a 304 carries the ETag the client holds', {
          host: host.hostId,
          sent: host.etag,
          got: res.headers.etag,
        });
        await this.headSample(host, 1);
        return;
      }
      this.count('catalog 200');
      const etag = res.headers.etag;
      const coding = res.headers['content-encoding'];
      this.check((coding === 'gzip') === host.gzip, 'the catalog comes in the coding asked for', {
        host: host.hostId,
        coding,
      });
      const bytes = coding === 'gzip' ? gunzipSync(res.bytes) : res.bytes;
      this.check(etag === `"${sha256(bytes)}"`, "the catalog's ETag is the SHA-256 of its bytes", {
        host: host.hostId,
        etag,
      });

      const sig = await this.request('catalog.sig', 'GET', '/v1/catalog.sig');
      if (!this.expectStatus('catalog.sig', sig, [200], '/v1/catalog.sig')) return;
      if (sig.headers.etag !== etag) {
        // A publication landed between the two requests: this signature is of the newer
        // catalog. A careful client notices by the ETag and polls again.
        this.sigRaces += 1;
        continue;
      }
      const keys = await this.request('keys', 'GET', '/v1/keys');
      if (!this.expectStatus('keys', keys, [200], '/v1/keys')) return;
      const mirrorKey = JSON.parse(keys.bytes.toString('utf8')).mirror;
      this.pinnedKey ??= mirrorKey;
      this.check(mirrorKey === this.pinnedKey, 'the mirror key stays the one first seen', {
        host: host.hostId,
      });
      if (
        !this.check(
          verifyDetached(bytes, sig.bytes.toString('utf8'), mirrorKey),
          "the catalog's signature verifies against /v1/keys",
          { host: host.hostId, etag },
        )
      )
        return;

      const catalog = JSON.parse(bytes.toString('utf8'));
      this.check(catalog.format === 'patchbay-catalog/1', 'the catalog has the catalog format', {
        host: host.hostId,
        format: catalog.format,
      });
      this.check(catalog.sequence >= host.sequence, "a host never sees the catalog's sequence go back", {
        host: host.hostId,
        had: host.sequence,
        got: catalog.sequence,
      });
      host.etag = etag;
      host.sequence = catalog.sequence;
      host.files = catalog.patches.flatMap((patch) =>
        patch.files.map((file) => ({
          patchId: patch.id,
          path: file.url,
          size: file.size,
          sha256: file.sha256,
        })),
      );
      let entry = this.seen.get(etag);
      const firstSight = entry === undefined;
      if (firstSight) {
        entry = { sequence: catalog.sequence, blobs: host.files.length, headChecked: 0 };
        this.seen.set(etag, entry);
      }
      // At the moment it is seen, every blob a new catalog names must be there.
      if (firstSight) await this.headFiles(host, host.files, entry);
      else await this.headSample(host, 2);
      return;
    }
    this.error('catalog: signature raced more than the retries allow', { host: host.hostId });
  }

  async headSample(host, n) {
    const sample = [];
    for (let i = 0; i < n && host.files.length > 0; i++) sample.push(this.pick(host.files));
    await this.headFiles(host, sample, this.seen.get(host.etag));
  }

  async headFiles(host, files, entry) {
    for (const file of files) {
      const res = await this.request('blob HEAD', 'HEAD', file.path);
      this.headChecks += 1;
      if (entry) entry.headChecked += 1;
      if (res.error) continue;
      this.check(
        res.status === 200 && Number(res.headers['content-length']) === file.size,
        'every blob the catalog names answers HEAD 200 with its size',
        { host: host.hostId, etag: host.etag, path: file.path, status: res.status },
      );
    }
  }

  pick(list) {
    return list[Math.floor(this.random() * list.length)];
  }

  async download(host, file) {
    const split = file.size >= 2 && this.random() < 0.5 ? 1 + Math.floor(this.random() * (file.size - 1)) : 0;
    let bytes;
    if (split === 0) {
      const res = await this.request('blob GET', 'GET', file.path);
      if (!this.expectStatus('blob GET', res, [200], file.path)) return;
      bytes = res.bytes;
    } else {
      // a resumed download: two ranges, the second guarded by If-Range
      const etag = `"${file.sha256}"`;
      const first = await this.request('blob range', 'GET', file.path, { range: `bytes=0-${split - 1}` });
      if (!this.expectStatus('blob range', first, [206], file.path)) return;
      const rest = await this.request('blob range', 'GET', file.path, {
        range: `bytes=${split}-`,
        'if-range': etag,
      });
      if (!this.expectStatus('blob range', rest, [206], file.path)) return;
      this.check(
        rest.headers['content-range'] === `bytes ${split}-${file.size - 1}/${file.size}`,
        'a Range answer names the bytes it carries',
        { path: file.path, got: rest.headers['content-range'] },
      );
      bytes = Buffer.concat([first.bytes, rest.bytes]);
    }
    this.blobBytes += bytes.length;
    this.check(
      bytes.length === file.size && sha256(bytes) === file.sha256,
      'a downloaded blob hashes right',
      {
        host: host.hostId,
        path: file.path,
        length: bytes.length,
      },
    );
  }

  async putReport(host, report, expectedAccepted, kind) {
    const path = `/v1/clients/${encodeURIComponent(host.hostId)}/report`;
    const res = await this.request(
      kind,
      'PUT',
      path,
      {
        'content-type': 'application/json',
        authorization: `Bearer ${host.token}`,
      },
      JSON.stringify(report),
    );
    if (!this.expectStatus(kind, res, [200], path)) return;
    const accepted = JSON.parse(res.bytes.toString('utf8')).accepted;
    host.accepted += accepted;
    host.reports += 1;
    this.check(accepted === expectedAccepted, 'a report is accepted exactly for its new events', {
      host: host.hostId,
      kind,
      accepted,
      expectedAccepted,
    });
  }

  async report(host, downloaded) {
    const now = new Date().toISOString();
    const fresh = [];
    const n = 1 + Math.floor(this.random() * 3);
    for (let i = 0; i < n; i++) {
      host.seq += 1;
      const file = downloaded[i % Math.max(1, downloaded.length)];
      fresh.push(
        file && i > 0
          ? { seq: host.seq, type: 'download', patchId: file.patchId, at: now, outcome: 'ok', message: '' }
          : { seq: host.seq, type: 'check', at: now, outcome: 'ok', message: `catalog ${host.sequence}` },
      );
    }
    const roll = this.random();
    const previous = host.lastReport;
    // overlap: the previous report's events again, plus the new ones (a client that lost the
    // answer to its last PUT and has more to say since)
    const overlap = previous !== null && roll >= 0.12 && roll < 0.24;
    const report = {
      hostId: host.hostId,
      hostname: `${host.hostId}.fleet.test`,
      daemonVersion: 'fleet-sim',
      platform: 'linux',
      reportedAt: now,
      products: [{ id: 'arcserve-backup', release: '19.0' }],
      patches: [...new Set(downloaded.map((f) => f.patchId))].map((id) => ({
        id,
        state: 'downloaded',
        cached: true,
        since: now,
      })),
      events: overlap ? [...previous.events, ...fresh] : fresh,
    };
    if (previous !== null && roll < 0.12) {
      // an exact resend of the previous report: must add nothing
      host.resends += 1;
      await this.putReport(host, previous, 0, 'report resend');
    }
    if (overlap) host.overlaps += 1;
    host.sentUnique += fresh.length;
    await this.putReport(host, report, fresh.length, overlap ? 'report overlap' : 'report');
    host.lastReport = report;
  }

  async cycle(host) {
    await this.pollCatalog(host);
    if (host.files.length === 0) return;
    const downloaded = [];
    const count = 1 + Math.floor(this.random() * 2);
    const fleetFiles = host.files.filter((f) => f.patchId.startsWith(this.opts.newPatchPrefix));
    for (let i = 0; i < count; i++) {
      // a third of the downloads go to the patches the publications added
      const file =
        fleetFiles.length > 0 && this.random() < 0.33 ? this.pick(fleetFiles) : this.pick(host.files);
      await this.download(host, file);
      downloaded.push(file);
    }
    await this.report(host, downloaded);
  }

  async round() {
    let next = 0;
    const worker = async () => {
      while (next < this.hosts.length) {
        const host = this.hosts[next++];
        await this.cycle(host);
      }
    };
    await Promise.all(Array.from({ length: this.opts.concurrency }, worker));
  }

  async run() {
    const startedAt = Date.now();
    let rounds = 0;
    while (!(this.final && rounds >= this.opts.minRounds)) {
      if (rounds >= this.opts.maxRounds) {
        // the parent is slow to finish publishing: wait for it rather than run unbounded
        while (!this.final) await new Promise((resolve) => setTimeout(resolve, 100));
        break;
      }
      rounds += 1;
      process.send({ type: 'round', round: rounds });
      await this.round();
    }
    // the final round: every host polls once more after the last publication
    rounds += 1;
    process.send({ type: 'round', round: rounds, final: true });
    await this.round();
    for (const host of this.hosts) {
      this.check(host.etag === this.finalEtag, 'after the last round every host holds the final catalog', {
        host: host.hostId,
        etag: host.etag,
        finalEtag: this.finalEtag,
      });
    }
    const elapsedMs = Date.now() - startedAt;
    await this.pool.close();
    const cpu = process.cpuUsage();
    return {
      rounds,
      elapsedMs,
      cpuMs: (cpu.user + cpu.system) / 1000,
      requests: this.requests,
      errors: this.errors,
      errorSamples: this.errorSamples,
      violations: this.violations,
      violationSamples: this.violationSamples,
      checks: this.checks,
      seen: [...this.seen].map(([etag, e]) => ({ etag, ...e })),
      sigRaces: this.sigRaces,
      headChecks: this.headChecks,
      blobBytes: this.blobBytes,
      hosts: this.hosts.map((h) => ({
        hostId: h.hostId,
        sentUnique: h.sentUnique,
        accepted: h.accepted,
        reports: h.reports,
        resends: h.resends,
        overlaps: h.overlaps,
        lastSeq: h.seq,
      })),
    };
  }
}

let fleet = null;
process.on('message', (message) => {
  if (message.type === 'start') {
    fleet = new Fleet(message.options);
    fleet.run().then(
      (result) => process.send({ type: 'result', result }, () => process.exit(0)),
      (err) => process.send({ type: 'crash', error: String(err?.stack ?? err) }, () => process.exit(1)),
    );
  } else if (message.type === 'final' && fleet !== null) {
    fleet.finalEtag = message.etag;
    fleet.final = true;
  }
});
