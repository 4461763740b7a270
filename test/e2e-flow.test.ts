// End to end, real processes over loopback, on trust v2: the publisher's TUF repository of the
// sample feed, served by the reference upstream -> staging server -> two clients
// on different releases: check, install (critical, with requirements), failures that fail only
// their dependants, uninstall refusal and cascade, supersedence, reports and admin reports.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { BIN, run, runJson } from './helpers/processes.js';
import { startStack, type StatusDocument } from './helpers/stack.js';

/** The sample feed's win32-only patches (T5KB0208's payload is a sh script; the rest Windows installers). */
const WIN32_ONLY = ['T5KB0208', 'T5KB0217', 'T5KB0218', 'T5KB0219', 'T5KB0220'];

interface CheckPatch {
  id: string;
  title: string;
  severity: string;
  release: string;
  state: string;
  requires: string[];
  reason?: string;
}
interface Result {
  id: string;
  outcome: 'ok' | 'failed' | 'skipped';
  message: string;
}

t.test('feed to installed patch and back to a report', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir);
  t.teardown(stack.stop);
  const marker = (installDir: string, id: string) => path.join(installDir, 'patches', `${id}.installed`);

  await t.test('the staging server mirrored and published the sample feed', async (t) => {
    const status = await stack.getJson<StatusDocument>('/v1/status');
    t.equal(status.lastSync?.outcome, 'ok');
    // under trust v2 the upstream's sequence is the publisher's targets version: init, import-feed
    t.equal(status.lastSync?.upstreamSequence, 2);
    t.match(status.trust, { mode: 'tuf', rootVersion: 1, targetsVersion: 2, snapshotVersion: 1 });
    t.same(status.lastSync?.heldBack, []);
    t.equal(status.mirror.sequence, 1);
    t.equal(
      status.mirror.patches,
      27,
      'arcserve-backup 18.0 and 19.0 only (the UDP patches are filtered out)',
    );
    t.ok(status.mirror.blobs >= 27);

    const res = await fetch(`${stack.server.url}/v1/catalog`);
    t.equal(res.status, 200);
    const etag = res.headers.get('etag');
    t.match(etag, /^"[0-9a-f]{64}"$/, 'strong ETag');
    const catalog = (await res.json()) as {
      format: string;
      sequence: number;
      upstreamSequence: number;
      patches: { id: string; product: string; files: { url: string; sha256: string }[] }[];
    };
    t.equal(catalog.format, 'patchbay-catalog/1');
    t.equal(catalog.upstreamSequence, 2, 'the publisher targets version');
    t.notOk(
      catalog.patches.some((p) => p.product !== 'arcserve-backup'),
      'product filter applied',
    );
    for (const p of catalog.patches)
      for (const f of p.files) t.equal(f.url, `/v1/blobs/sha256/${f.sha256}`, `${p.id} file url`);

    const again = await fetch(`${stack.server.url}/v1/catalog`, { headers: { 'if-none-match': etag! } });
    t.equal(again.status, 304, 'If-None-Match gives 304');

    const raw = await fetch(`${stack.server.url}/v1/catalog`, { headers: { 'accept-encoding': 'gzip' } });
    t.equal(raw.headers.get('content-encoding'), 'gzip');

    const blob = catalog.patches[0]!.files[0]!;
    const ranged = await fetch(`${stack.server.url}${blob.url}`, { headers: { range: 'bytes=0-9' } });
    t.equal(ranged.status, 206);
    t.equal((await ranged.arrayBuffer()).byteLength, 10);
    t.equal(ranged.headers.get('etag'), `"${blob.sha256}"`);
    t.match(ranged.headers.get('cache-control'), /immutable/);
    t.ok(gunzipSync, 'zlib available');
  });

  const a = stack.writeClientConfig('host-19', '19.0');
  const b = stack.writeClientConfig('host-18', '18.0');

  await t.test('check lists the applicable patches of each host', async (t) => {
    const check = await runJson<{ patches: CheckPatch[] }>(BIN.client, ['--config', a.config, 'check']);
    t.equal(check.code, 0, check.stderr);
    const ids = check.json.patches.map((p) => p.id);
    t.ok(ids.includes('T5KB0201'));
    for (const id of WIN32_ONLY) t.notOk(ids.includes(id), `the win32-only ${id} is not applicable on linux`);
    t.notOk(ids.includes('T5KB0101'), 'no 18.0 patch on the 19.0 host');
    t.ok(check.json.patches.every((p) => p.release === '19.0'));
    const p204 = check.json.patches.find((p) => p.id === 'T5KB0204');
    t.same(p204?.requires, ['T5KB0203']);
    t.equal(p204?.state, 'available');

    const checkB = await runJson<{ patches: CheckPatch[] }>(BIN.client, ['--config', b.config, 'check']);
    t.equal(checkB.code, 0, checkB.stderr);
    t.ok(checkB.json.patches.every((p) => p.release === '18.0'));
    t.ok(checkB.json.patches.some((p) => p.id === 'T5KB0104'));
  });

  await t.test(
    'install --critical installs the critical patches and their requirements in order',
    async (t) => {
      const install = await runJson<{ results: Result[] }>(BIN.client, [
        '--config',
        a.config,
        'install',
        '--critical',
      ]);
      t.equal(install.code, 0, install.stderr);
      const ok = install.json.results.filter((r) => r.outcome === 'ok').map((r) => r.id);
      for (const id of ['T5KB0201', 'T5KB0202', 'T5KB0203', 'T5KB0204', 'T5KB0206', 'T5KB0215']) {
        t.ok(ok.includes(id), `${id} installed`);
        t.ok(fs.existsSync(marker(a.installDir, id)), `${id} marker written`);
      }
      t.ok(ok.indexOf('T5KB0201') < ok.indexOf('T5KB0202'), 'requirement first');
      t.ok(ok.indexOf('T5KB0203') < ok.indexOf('T5KB0204'), 'chain order');
      t.notOk(fs.existsSync(marker(a.installDir, 'T5KB0209')), 'a recommended patch was not installed');
      t.notOk(
        install.json.results.some((r) => WIN32_ONLY.includes(r.id)),
        'no win32 patch planned (T5KB0217 and T5KB0219 are critical)',
      );

      const status = await runJson<{ patches: CheckPatch[] }>(BIN.client, ['--config', a.config, 'status']);
      t.equal(status.json.patches.find((p) => p.id === 'T5KB0204')?.state, 'installed');
    },
  );

  await t.test('the server has the report', async (t) => {
    const clients =
      await stack.getJson<{ hostId: string; installed: number; failed: number }[]>('/v1/clients');
    const host = clients.find((c) => c.hostId === 'host-19');
    t.ok(host, 'host-19 reported');
    t.equal(host?.installed, 6);
    t.equal(host?.failed, 0);
    const history = await stack.getJson<{ hostId: string; type: string; patchId: string; outcome: string }[]>(
      '/v1/reports/history?host=host-19&type=install',
    );
    t.equal(history.filter((e) => e.outcome === 'ok').length, 6, 'six install events');
    // the compliance report lists the win32 patches too; a linux host counts for none of them
    const compliance = await stack.getJson<{ patchId: string; installed: number; missing: number }[]>(
      '/v1/reports/compliance?hosts=false&release=19.0',
    );
    t.same(
      compliance
        .filter((row) => WIN32_ONLY.includes(row.patchId))
        .map((row) => [row.patchId, row.installed + row.missing]),
      WIN32_ONLY.map((id) => [id, 0]),
    );
    t.ok(history.every((e) => e.hostId === 'host-19' && e.type === 'install'));
  });

  await t.test('a failed install fails its dependants, never unrelated patches', async (t) => {
    const install = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      a.config,
      'install',
      'T5KB0211',
      'T5KB0209',
    ]);
    t.equal(install.code, 1, 'exit 1: something failed');
    const byId = new Map(install.json.results.map((r) => [r.id, r]));
    t.equal(byId.get('T5KB0210')?.outcome, 'failed');
    t.equal(byId.get('T5KB0211')?.outcome, 'failed');
    t.match(byId.get('T5KB0211')?.message, /T5KB0210/);
    t.equal(byId.get('T5KB0209')?.outcome, 'ok', 'the unrelated patch installed');
    t.notOk(fs.existsSync(marker(a.installDir, 'T5KB0211')));
    const logs = fs.readdirSync(path.join(a.dataDir, 'logs'));
    t.ok(
      logs.some((f) => f.startsWith('T5KB0210')),
      'the failing install has a log',
    );
  });

  await t.test('the host has the same history for itself, with filters', async (t) => {
    type Events = { events: { type: string; patchId?: string; at: string; outcome: string }[] };
    const all = await runJson<Events>(BIN.client, ['--config', a.config, 'history']);
    t.equal(all.code, 0, all.stderr);
    const failed = await runJson<Events>(BIN.client, [
      '--config',
      a.config,
      'history',
      '--patch',
      'T5KB0210',
      '--type',
      'install',
    ]);
    t.ok(failed.json.events.length >= 1);
    t.ok(failed.json.events.every((e) => e.patchId === 'T5KB0210' && e.type === 'install'));
    t.ok(failed.json.events.some((e) => e.outcome === 'failed'));
    const future = await runJson<Events>(BIN.client, [
      '--config',
      a.config,
      'history',
      '--since',
      '2099-01-01T00:00:00Z',
    ]);
    t.same(future.json.events, []);
    const bad = await run(BIN.client, ['--config', a.config, 'history', '--since', 'yesterday']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /--since/);
  });

  await t.test('uninstall is refused naming dependants, and --cascade removes them first', async (t) => {
    const refused = await run(BIN.client, ['--config', a.config, 'uninstall', 'T5KB0202']);
    t.equal(refused.code, 1);
    t.match(refused.stdout + refused.stderr, /T5KB0203/);
    t.ok(fs.existsSync(marker(a.installDir, 'T5KB0202')), 'nothing removed');

    const noUninstaller = await run(BIN.client, ['--config', a.config, 'uninstall', 'T5KB0206']);
    t.equal(noUninstaller.code, 1);
    t.match(noUninstaller.stdout + noUninstaller.stderr, /uninstall/i);
    t.ok(fs.existsSync(marker(a.installDir, 'T5KB0206')));

    const cascade = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      a.config,
      'uninstall',
      'T5KB0202',
      '--cascade',
    ]);
    t.equal(cascade.code, 0, cascade.stderr);
    const order = cascade.json.results.filter((r) => r.outcome === 'ok').map((r) => r.id);
    t.same(order, ['T5KB0204', 'T5KB0203', 'T5KB0202'], 'dependants first, in reverse order');
    for (const id of order) t.notOk(fs.existsSync(marker(a.installDir, id)), `${id} removed`);
    t.ok(fs.existsSync(marker(a.installDir, 'T5KB0201')), 'the requirement stays');
  });

  await t.test('a superseded patch is not offered once its successor is installed', async (t) => {
    const install = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      a.config,
      'install',
      'T5KB0212',
    ]);
    t.equal(install.code, 0, install.stderr);
    const check = await runJson<{ patches: CheckPatch[] }>(BIN.client, ['--config', a.config, 'check']);
    const old = check.json.patches.find((p) => p.id === 'T5KB0205');
    t.equal(old?.state, 'superseded');
    t.match(old?.reason, /T5KB0212/);
  });

  await t.test('the 18.0 host installs everything applicable', async (t) => {
    const install = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      b.config,
      'install',
      '--all',
    ]);
    t.equal(install.code, 0, install.stderr);
    t.ok(fs.existsSync(marker(b.installDir, 'T5KB0104')));
    t.ok(fs.existsSync(marker(b.installDir, 'T5KB0106')));
    t.notOk(fs.existsSync(marker(b.installDir, 'T5KB0102')), 'superseded by T5KB0106, selected together');
  });

  await t.test('compliance and history reports, JSON and CSV', async (t) => {
    const compliance = await stack.getJson<
      {
        patchId: string;
        installed: number;
        missing: number;
        failed: number;
        hosts: Record<string, string>;
      }[]
    >('/v1/reports/compliance');
    const row201 = compliance.find((r) => r.patchId === 'T5KB0201');
    t.equal(row201?.installed, 1);
    t.equal(row201?.hosts['host-19'], 'installed');
    const row210 = compliance.find((r) => r.patchId === 'T5KB0210');
    t.equal(row210?.failed, 1);
    const row101 = compliance.find((r) => r.patchId === 'T5KB0101');
    t.equal(row101?.installed, 1);

    const csv = await fetch(`${stack.server.url}/v1/reports/compliance?format=csv`);
    t.match(csv.headers.get('content-type'), /text\/csv/);
    const text = await csv.text();
    t.match(text.split('\n')[0], /patchId/);
    t.match(text, /T5KB0201/);

    const uninstalls = await stack.getJson<{ patchId: string; outcome: string }[]>(
      '/v1/reports/history?type=uninstall',
    );
    const byOutcome = (outcome: string) =>
      uninstalls
        .filter((e) => e.outcome === outcome)
        .map((e) => e.patchId)
        .sort();
    t.same(byOutcome('ok'), ['T5KB0202', 'T5KB0203', 'T5KB0204']);
    t.same(byOutcome('refused'), ['T5KB0202', 'T5KB0206'], 'the refused uninstalls are recorded too');
    const byPatch = await stack.getJson<{ patchId: string }[]>('/v1/reports/history?patch=T5KB0210');
    t.ok(byPatch.length >= 1 && byPatch.every((e) => e.patchId === 'T5KB0210'));
    const historyCsv = await fetch(`${stack.server.url}/v1/reports/history?format=csv&host=host-18`);
    t.match(await historyCsv.text(), /host-18/);
  });

  await t.test('a resent report doubles nothing', async (t) => {
    const detail = await stack.getJson<{
      lastReport: Record<string, unknown>;
      events: {
        seq: number;
        type: string;
        patchId: string | null;
        at: string;
        outcome: string;
        message: string | null;
        output: string | null;
      }[];
    }>('/v1/clients/host-19');
    t.ok(detail.lastReport, 'the last report is kept');
    t.ok(detail.events.length > 0, 'with its recent events');
    const before = await stack.getJson<unknown[]>('/v1/reports/history?host=host-19&limit=10000');
    // the same events again, as a client resends them after a lost acknowledgement
    const events = detail.events.map(({ seq, type, patchId, at, outcome, message, output }) => ({
      seq,
      type,
      at,
      outcome,
      ...(patchId ? { patchId } : {}),
      ...(message ? { message } : {}),
      ...(output !== null ? { output } : {}),
    }));
    const res = await fetch(`${stack.server.url}/v1/clients/host-19/report`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ ...detail.lastReport, events }),
    });
    t.equal(res.status, 200);
    t.same(await res.json(), { accepted: 0 });
    const after = await stack.getJson<unknown[]>('/v1/reports/history?host=host-19&limit=10000');
    t.equal(after.length, before.length);
  });

  await t.test('a new upstream publication reaches the clients', async (t) => {
    const before = await stack.getJson<StatusDocument>('/v1/status');
    // the vendor's feed sequence 8, vouched for by the publisher (import-feed) into the same repository
    await stack.updateFeed(['--sequence', '8', '--extra-patches']);
    const sync = await stack.syncNow();
    t.equal(sync.outcome, 'ok', sync.error ?? '');
    const check = await runJson<{ patches: CheckPatch[] }>(BIN.client, ['--config', a.config, 'check']);
    t.equal(check.json.patches.find((p) => p.id === 'T5KB0216')?.state, 'available');
    const status = await stack.getJson<StatusDocument>('/v1/status');
    t.equal(status.mirror.sequence, 2);
    t.ok(
      status.trust!.snapshotVersion! > before.trust!.snapshotVersion!,
      'the server signed a new snapshot over the new publication',
    );
  });
});
