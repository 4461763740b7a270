// The status page in a real browser, on trust v2 (the stack's default): headless Chromium (Debian's package, driven by
// playwright-core) against a real staging server whose report store holds 10,000 hosts
// (seeded straight into reports.sqlite before `serve` starts) plus two real clients that
// checked and installed. Checks the numbers shown against the JSON API, filters, sorts,
// pages, opens a host, downloads a CSV, and saves a screenshot (test-output/ and, for
// the README, docs/img/). A second part restarts the server with auth.publicStatus false:
// the page asks for the admin token and then shows the same data.
import t, { type Test } from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { chromiumSkipReason, launchChromium } from './helpers/chromium.js';
import type { ClientReport } from '@patchbay/core';
import { SAMPLE_PATCHES, generateSampleFeed } from '@patchbay/sample-feed';
import { ReportStore } from '@patchbay/staging-server';
import { BIN, REPO_ROOT, runJson } from './helpers/processes.js';
import { startStack, type Stack, type StatusDocument } from './helpers/stack.js';
import type { HostViewPage } from '../packages/staging-server/src/reports/views.js';

const FLEET = 10_000;
/** one in ten seeded hosts was last heard from three days ago (stale after 24 h) */
const STALE_EVERY = 10;
const ADMIN_TOKEN = 'status-page-test-admin-token-0123456789';
/** the next publication's new patch, whose file the test corrupts upstream */
const HELD_BACK = 'T5KB0216';
const SCREENSHOT = path.join(REPO_ROOT, 'test-output', 'status-page.png');
const README_IMAGE = path.join(REPO_ROOT, 'docs', 'img', 'status-page.png');

type HostView = HostViewPage;
type PatchColumn = HostView['patches'][number];
interface ClientDoc {
  hostId: string;
  patches: { id: string; state: string }[];
  events: { id: number; type: string }[];
}

/** A fleet of linux and some win32 hosts on 18.0 or 19.0, with a spread of states. */
function fleetReports(from: number, to: number): ClientReport[] {
  const states = ['installed', 'available', 'downloaded', 'failed', 'superseded'] as const;
  const reports: ClientReport[] = [];
  for (let i = from; i < to; i++) {
    const hostId = `fleet-${String(i).padStart(5, '0')}`;
    const release = i % 3 === 0 ? '18.0' : '19.0';
    const platform = i % 20 === 7 ? 'win32' : 'linux';
    const patches: ClientReport['patches'] = [];
    // as a daemon reports: only the patches that apply to its product release and platform
    const applicable = SAMPLE_PATCHES.filter(
      (p) =>
        p.product === 'arcserve-backup' &&
        p.release === release &&
        (p.platforms === undefined || p.platforms.includes(platform)),
    );
    applicable.forEach((p, j) => {
      // deterministic spread: mostly installed, some missing, a few failed or unreported
      const k = (i * 7919 + j * 104_729) % 100;
      if (k >= 97) return; // unreported
      const state =
        k < 78 ? states[0] : k < 88 ? states[1] : k < 92 ? states[2] : k < 95 ? states[3] : states[4];
      patches.push({ id: p.id, state, since: '2026-11-24T08:00:00Z' });
    });
    reports.push({
      hostId,
      hostname: `${hostId}.corp.example`,
      daemonVersion: '0.1.0',
      platform,
      reportedAt: '2026-11-24T09:00:00Z',
      products: [{ id: 'arcserve-backup', release }],
      patches,
      events: [],
    });
  }
  return reports;
}

/** 10,000 hosts straight into the data dir's reports.sqlite (no HTTP), before the server opens it. */
async function seedFleet(dataDir: string): Promise<void> {
  const store = await ReportStore.open(dataDir);
  try {
    const now = Date.now();
    const all = fleetReports(0, FLEET);
    await store.ingestMany(
      all.filter((_, i) => i % STALE_EVERY !== 0),
      new Date(now - 3_600_000).toISOString(),
    );
    await store.ingestMany(
      all.filter((_, i) => i % STALE_EVERY === 0),
      new Date(now - 3 * 86_400_000).toISOString(),
    );
  } finally {
    await store.close();
  }
}

async function launch(t: Test): Promise<BrowserContext> {
  const context = await launchChromium(t, { viewport: { width: 1280, height: 1200 }, acceptDownloads: true });
  if (!context) throw new Error('unreachable: the file skips before any test without a browser');
  return context;
}

/** Wait until the page has loaded its view (body[data-state] ready, or `state`). */
async function settled(page: Page, state = 'ready'): Promise<void> {
  await page.waitForSelector(`body[data-state="${state}"]`, { timeout: 60_000 });
}

async function dataValue(page: Page, selector: string): Promise<number> {
  const value = await page.locator(`${selector} data`).first().getAttribute('value');
  return Number(value);
}

/** A number of the matrix summary ("Hosts 1–50 of 10,002"). */
async function summaryValue(page: Page, field: 'first' | 'last' | 'total'): Promise<number> {
  return Number(await page.locator(`#matrix-summary data[data-field="${field}"]`).getAttribute('value'));
}

/** The requests the page made that left the server's origin (there must be none). */
function watchOrigins(page: Page, origin: string): string[] {
  const foreign: string[] = [];
  page.on('request', (request) => {
    const url = request.url();
    if (!url.startsWith(origin) && !url.startsWith('data:') && !url.startsWith('blob:')) foreign.push(url);
  });
  return foreign;
}

/**
 * The next publication (sequence 8, one new critical patch, T5KB0216) with that patch's
 * file corrupted upstream: the sync publishes the rest and holds it back.
 */
async function publishWithHeldBackPatch(stack: Stack): Promise<void> {
  await generateSampleFeed({ outDir: stack.feedDir, sequence: 8, extraPatches: true });
  const feed = JSON.parse(fs.readFileSync(path.join(stack.feedDir, 'feed.json'), 'utf8')) as {
    patches: {
      id: string;
      product: string;
      release: string;
      files: { name: string; url: string; sha256: string }[];
    }[];
  };
  const patch = feed.patches.find((p) => p.id === HELD_BACK)!;
  const file = patch.files[0]!;
  // trust v2: the publisher signs the feed as the vendor made it (import-feed), then the file
  // is corrupted on the vendor site, under its consistent-snapshot target name
  await stack.publishFeed();
  const onDisk = stack.repoDir
    ? path.join(
        stack.repoDir,
        'targets',
        patch.product,
        patch.release,
        patch.id,
        `${file.sha256}.${file.name}`,
      )
    : path.join(stack.feedDir, file.url);
  const bytes = fs.readFileSync(onDisk);
  bytes[0] = bytes[0]! ^ 0xff; // same size, other digest
  fs.writeFileSync(onDisk, bytes);
  const sync = await stack.syncNow();
  if (sync.outcome !== 'partial') throw new Error(`expected a partial sync, got ${JSON.stringify(sync)}`);
}

/** Two real clients: host-18 checks, host-19 installs its critical patches (and reports both). */
async function runClients(stack: Stack): Promise<void> {
  const a = stack.writeClientConfig('host-19', '19.0');
  const b = stack.writeClientConfig('host-18', '18.0');
  const [check, install] = await Promise.all([
    runJson(BIN.client, ['--config', b.config, 'check']),
    runJson(BIN.client, ['--config', a.config, 'install', '--critical']),
  ]);
  if (check.code !== 0) throw new Error(`host-18 check failed: ${check.stderr}`);
  if (install.code !== 0) throw new Error(`host-19 install failed: ${install.stderr}`);
}

const hostsShown = (page: Page): Promise<(string | null)[]> =>
  page.locator('#matrix tbody tr').evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-host')));

const skipReason = chromiumSkipReason();
if (skipReason) {
  t.plan(0, skipReason);
} else {
  t.test('the status page in headless Chromium', async (t) => {
    const dir = t.testdir();
    // Chromium starts up in its own processes while this one seeds (synchronous SQLite).
    const launching = launch(t);
    launching.catch(() => undefined); // awaited below; a failure then fails the test
    await seedFleet(path.join(dir, 'server-data'));
    const stack = await startStack(dir);
    t.teardown(stack.stop);
    // The clients see the same patches in either catalog: the new one's only new patch is held back.
    await Promise.all([publishWithHeldBackPatch(stack), runClients(stack)]);
    const context = await launching;
    const origin = stack.server.url;
    // One tab for the public part, as a person would use it.
    const page = await context.newPage();
    const foreign = watchOrigins(page, origin);

    await t.test('the overview shows what /v1/status says', async (t) => {
      await page.goto(`${origin}/`);
      await settled(page);
      const status = await stack.getJson<
        StatusDocument & { lastSync: { heldBack: { patchId: string }[]; filesFetched: number } }
      >('/v1/status');
      t.equal(await dataValue(page, '[data-field="mirror.sequence"]'), status.mirror.sequence);
      t.equal(await dataValue(page, '[data-field="mirror.patches"]'), status.mirror.patches);
      t.equal(await dataValue(page, '[data-field="mirror.blobs"]'), status.mirror.blobs);
      t.equal(await dataValue(page, '[data-field="mirror.bytes"]'), status.mirror.bytes, 'mirror size');
      t.equal(await dataValue(page, '[data-field="clients.total"]'), FLEET + 2, '10,000 seeded + 2 real');
      t.equal(status.clients.total, FLEET + 2);
      t.equal(await dataValue(page, '[data-field="clients.stale"]'), status.clients.stale);
      t.equal(status.clients.stale, FLEET / STALE_EVERY);
      t.equal(status.lastSync.outcome, 'partial');
      t.match(await page.locator('[data-field="lastSync.outcome"]').textContent(), /^partial/);
      t.same(
        status.lastSync.heldBack.map((h) => h.patchId),
        [HELD_BACK],
      );
      const held = page.locator('[data-field="lastSync.heldBack"]');
      t.equal(Number(await held.getAttribute('data-count')), 1, 'one patch held back');
      t.match(await held.textContent(), HELD_BACK, 'named with its reason');
      t.equal(
        await dataValue(page, '[data-field="lastSync.fetched"]'),
        status.lastSync.filesFetched,
        'files fetched',
      );
    });

    await t.test('the matrix: behind first, one page in the DOM, counts as the API', async (t) => {
      const api = await stack.getJson<HostView>('/v1/reports/compliance?view=hosts&limit=50');
      t.equal(api.total, FLEET + 2);
      t.equal(await summaryValue(page, 'total'), api.total);
      t.equal(await page.locator('#matrix tbody tr').count(), 50, 'one page of 50 rows, not 10,000');
      t.ok((await page.locator('tr').count()) < 200, 'the whole document holds a few hundred rows at most');
      t.same(
        await hostsShown(page),
        api.hosts.map((h) => h.hostId),
        'the rows are the API page, in its order',
      );
      const behind = await page
        .locator('#matrix tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) => Number(tr.querySelector('[data-field="behind"] data')?.getAttribute('value'))),
        );
      t.same(
        behind,
        api.hosts.map((h) => h.behind),
      );
      t.ok(
        behind.every((b, i) => i === 0 || behind[i - 1]! >= b),
        'most behind first',
      );
      t.ok(behind[0]! > 0);
      t.equal(await page.locator('th.col-behind').getAttribute('aria-sort'), 'descending');
      const first = api.hosts[0]!;
      const cells = await page
        .locator(`#matrix tbody tr[data-host="${first.hostId}"] td.st`)
        .evaluateAll((tds) => tds.map((td) => td.getAttribute('data-state')));
      t.same(
        cells,
        api.patches.map((p) => first.states[p.patchId] ?? ''),
        'the first host’s cells are its states',
      );

      // the per-patch table against the per-patch report (a separate computation in the server)
      const perPatch = await stack.getJson<PatchColumn[]>('/v1/reports/compliance');
      const shown = await page.locator('#patches tbody tr').evaluateAll((trs) =>
        trs.map((tr) => {
          const n = (field: string) =>
            Number(tr.querySelector(`[data-field="${field}"] data`)?.getAttribute('value'));
          return {
            patchId: tr.getAttribute('data-patch'),
            installed: n('installed'),
            missing: n('missing'),
            failed: n('failed'),
            superseded: n('superseded'),
          };
        }),
      );
      t.same(
        shown,
        perPatch.map(({ patchId, installed, missing, failed, superseded }) => ({
          patchId,
          installed,
          missing,
          failed,
          superseded,
        })),
        'installed / missing / failed / superseded per patch as /v1/reports/compliance',
      );

      fs.mkdirSync(path.dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT });
      // The README's image is refreshed on request only, so a test run leaves the tree clean.
      if (process.env.PATCHBAY_UPDATE_SCREENSHOT === '1') {
        fs.mkdirSync(path.dirname(README_IMAGE), { recursive: true });
        fs.copyFileSync(SCREENSHOT, README_IMAGE);
      }
      t.ok(fs.statSync(SCREENSHOT).size > 10_000, `screenshot saved: ${SCREENSHOT}`);

      await page.locator('.pager').first().getByRole('button', { name: 'Next' }).click();
      await page.waitForFunction(() => location.hash.includes('page=2'));
      await settled(page);
      t.equal(await summaryValue(page, 'first'), 51, 'page 2 starts at host 51');
      const page2 = await stack.getJson<HostView>('/v1/reports/compliance?view=hosts&limit=50&offset=50');
      t.same(
        await hostsShown(page),
        page2.hosts.map((h) => h.hostId),
      );
    });

    await t.test('filters and sorting reach the server and show its answer', async (t) => {
      await page.getByLabel('Severity').selectOption('critical');
      await page.waitForFunction(() => location.hash.includes('severity=critical'));
      await settled(page);
      t.equal(await summaryValue(page, 'first'), 1, 'a new filter starts at page 1');
      await page.getByLabel('Release').selectOption('18.0');
      await page.waitForFunction(() => location.hash.includes('release=18.0'));
      await settled(page);
      const api = await stack.getJson<HostView>(
        '/v1/reports/compliance?view=hosts&severity=critical&release=18.0&limit=50',
      );
      t.ok(api.patches.length > 0);
      t.ok(api.patches.every((p) => p.severity === 'critical' && p.release === '18.0'));
      const columns = await page
        .locator('#matrix thead th.patch')
        .evaluateAll((ths) => ths.map((th) => th.getAttribute('data-patch')));
      t.same(
        columns,
        api.patches.map((p) => p.patchId),
        'only critical 18.0 patches as columns',
      );
      t.same(
        await hostsShown(page),
        api.hosts.map((h) => h.hostId),
      );
      t.equal(await summaryValue(page, 'total'), api.total, 'the 18.0 part of the fleet');
      t.ok(api.total < FLEET / 2);
      t.match(
        await page.getByRole('link', { name: 'Compliance per patch' }).getAttribute('href'),
        /severity=critical.*release=18\.0|release=18\.0.*severity=critical/,
        'the CSV links carry the filters',
      );

      await page.getByLabel('Host contains').fill('host-1');
      await page.getByRole('button', { name: 'Apply' }).click();
      await page.waitForFunction(() => location.hash.includes('search=host-1'));
      await settled(page);
      t.same(
        await hostsShown(page),
        ['host-18'],
        'of "host-1…" only host-18 runs 18.0: host-19 has no selected patch and is not listed',
      );

      await page.goto(`${origin}/#sort=hostId`);
      await settled(page);
      t.equal(await page.locator('th.col-hostId').getAttribute('aria-sort'), 'ascending');
      t.equal(await page.locator('#matrix tbody tr').first().getAttribute('data-host'), 'fleet-00000');
      await page.locator('button[data-sort="hostId"]').click();
      await page.waitForFunction(() => location.hash.includes('order=desc'));
      await settled(page);
      t.equal(await page.locator('th.col-hostId').getAttribute('aria-sort'), 'descending');
      t.equal(await page.locator('#matrix tbody tr').first().getAttribute('data-host'), 'host-19');
    });

    await t.test('a host: its detail and history from /v1/clients/:hostId', async (t) => {
      await page.locator('#matrix tbody tr[data-host="host-19"] a').click();
      await page.waitForFunction(() => location.hash.includes('host=host-19'));
      await settled(page);
      const doc = await stack.getJson<ClientDoc>('/v1/clients/host-19');
      t.equal(await page.locator('#host-h').textContent(), 'Host host-19');
      t.ok(await page.locator('#host').isVisible());
      t.equal(await page.locator('#host-events tbody tr').count(), doc.events.length, 'every event shown');
      t.ok(
        doc.events.some((e) => e.type === 'install'),
        'the real client installed',
      );
      const states = await page
        .locator('#host-patches tbody tr')
        .evaluateAll((trs) =>
          trs.map((tr) => [
            tr.getAttribute('data-patch'),
            tr.querySelector('[data-state]')?.getAttribute('data-state'),
          ]),
        );
      t.same(
        states,
        doc.patches.map((p) => [p.id, p.state]),
        'patch states as reported',
      );
      t.equal(await page.evaluate(() => document.activeElement?.id), 'host-h', 'focus moved to the host');

      const [download] = await Promise.all([
        page.waitForEvent('download'),
        page.locator('#host').getByRole('link', { name: 'all events' }).click(),
      ]);
      const csv = fs
        .readFileSync((await download.path())!, 'utf8')
        .trimEnd()
        .split('\r\n');
      t.equal(download.suggestedFilename(), 'history.csv');
      // every field quoted (formula-safe CSV, docs/reports.md)
      t.equal(csv[0], '"at","hostId","seq","type","patchId","outcome","message","receivedAt","id"');
      t.equal(csv.length - 1, doc.events.length, "the host's history CSV: one line per event");
      t.ok(
        csv.slice(1).every((line) => line.split(',')[1] === '"host-19"'),
        'only this host',
      );

      await page.getByRole('link', { name: 'Close' }).click();
      await page.waitForFunction(() => !location.hash.includes('host='));
      await settled(page);
      t.ok(await page.locator('#host').isHidden(), 'closed');
      t.same(foreign, [], 'no request left the server (no CDN, no fonts)');
      await page.close();
    });

    await t.test('with auth.publicStatus false the page asks for the admin token', async (t) => {
      const config = JSON.parse(fs.readFileSync(stack.serverConfig, 'utf8')) as Record<string, unknown>;
      config.auth = { publicStatus: false, adminToken: ADMIN_TOKEN };
      fs.writeFileSync(stack.serverConfig, JSON.stringify(config, null, 2));
      await stack.restartServer();

      const shell = await fetch(`${origin}/`);
      t.equal(shell.status, 200, 'the shell (no data) is open');
      t.match(shell.headers.get('content-security-policy'), /script-src 'self'/);
      t.equal((await fetch(`${origin}/v1/status`)).status, 401, 'the data is not');

      const tab = await context.newPage(); // a new tab: an empty sessionStorage
      await tab.goto(`${origin}/`);
      await settled(tab, 'auth');
      t.ok(await tab.locator('#token-form').isVisible(), 'the token form is shown');
      t.equal(await tab.locator('#matrix tbody tr').count(), 0, 'nothing is shown without the token');

      await tab.getByLabel(/Admin token/).fill('not-the-token');
      await tab.getByRole('button', { name: 'Show the status' }).click();
      await tab.waitForFunction(() =>
        /refused the token/.test(document.getElementById('token-reason')?.textContent ?? ''),
      );
      t.equal(await tab.evaluate(() => document.body.dataset.state), 'auth', 'a wrong token is refused');

      await tab.getByLabel(/Admin token/).fill(ADMIN_TOKEN);
      await tab.getByRole('button', { name: 'Show the status' }).click();
      await settled(tab);
      t.notOk(await tab.locator('#token-form').isVisible(), 'the form is gone');
      t.equal(await dataValue(tab, '[data-field="clients.total"]'), FLEET + 2);
      t.equal(await tab.locator('#matrix tbody tr').count(), 50);
      t.equal(
        await tab.evaluate(() => sessionStorage.getItem('patchbay.adminToken')),
        ADMIN_TOKEN,
        'kept for this tab',
      );

      // a link cannot carry the header by itself: the page fetches the CSV with the token
      const [download] = await Promise.all([
        tab.waitForEvent('download'),
        tab.getByRole('link', { name: /^Installs and uninstalls/ }).click(),
      ]);
      t.equal(download.suggestedFilename(), 'installs.csv');
      t.match(
        fs.readFileSync((await download.path())!, 'utf8'),
        /^"at","hostId","hostname","type","patchId"/,
      );

      await tab.getByRole('button', { name: 'Forget the admin token' }).click();
      await settled(tab, 'auth');
      t.equal(await tab.evaluate(() => sessionStorage.getItem('patchbay.adminToken')), null, 'forgotten');
      await tab.close();
    });
  });
}
