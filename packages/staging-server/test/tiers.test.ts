// Tiered mirrors, unit level: a parent's catalog as a child's feed (URLs, sequence,
// chain, loops, expiry) and the report rollup between two real servers over loopback.
import { join } from 'node:path';
import t from 'tap';
import {
  ErrorCodes,
  isPatchbayError,
  keyFingerprint,
  normaliseFeedUrl,
  type Catalog,
  type ClientReport,
} from '@patchbay/core';
import { buildCatalog } from '../src/sync/build-catalog.js';
import { resolveFeedUrl, resolveFileUrl } from '../src/upstream/feed-location.js';
import { feedSignatureUrl } from '../src/trust/feed-signature.js';
import { parseUpstreamFeed } from '../src/tiers/upstream-document.js';
import { RollupSender } from '../src/tiers/rollup-sender.js';
import { RollupCursorFile } from '../src/tiers/rollup-cursor.js';
import { ROLLUP_FORMAT } from '../src/tiers/rollup-protocol.js';
import { SqliteTokenStore } from '../src/auth/sqlite-token-store.js';
import { putReport, report, silentLogger, startHarness, type Harness } from './fixtures/http-harness.js';
import { patch, TEST_SIGNING_KEY } from './fixtures/http-mirror.js';

const HEX = 'a'.repeat(64);

/** The error fn throws (the test fails when it throws nothing). */
function thrown(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  return new Error('nothing was thrown');
}
const OWN = '0123456789abcdef';
const PARENT = 'fedcba9876543210';

function parentCatalog(more: Record<string, unknown> = {}): Catalog {
  return {
    format: 'patchbay-catalog/1',
    vendor: 'Arcserve',
    sequence: 42,
    upstreamSequence: 7,
    generatedAt: '2026-11-20T08:00:00.000Z',
    publishedAt: '2026-11-20T08:05:00.000Z',
    expiresAt: '2099-01-01T00:00:00.000Z',
    products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['19.0'] }],
    patches: [
      {
        ...patch('T5KB0042'),
        files: [{ name: 'T5KB0042.sh', url: `/v1/blobs/sha256/${HEX}`, size: 10, sha256: HEX }],
      },
    ],
    ...more,
  } as Catalog;
}

t.test("a parent's /v1/catalog is a feed: URL, signature URL and blob URLs", async (t) => {
  const url = normaliseFeedUrl('http://head-office:8080/v1/catalog', '/');
  t.equal(url, 'http://head-office:8080/v1/catalog', 'not made into a directory');
  t.equal(normaliseFeedUrl('http://ho:8080/v1/catalog/', '/'), 'http://ho:8080/v1/catalog');
  t.equal(resolveFeedUrl(url), 'http://head-office:8080/v1/catalog');
  t.equal(feedSignatureUrl(resolveFeedUrl(url)), 'http://head-office:8080/v1/catalog.sig');
  t.equal(
    resolveFeedUrl('http://vendor/feed/'),
    'http://vendor/feed/feed.json',
    'a feed directory as before',
  );

  const { feed, kind, chain } = parseUpstreamFeed(
    Buffer.from(JSON.stringify(parentCatalog({ mirrorChain: [PARENT] }))),
    url,
    OWN,
  );
  t.equal(kind, 'catalog');
  t.equal(feed.format, 'patchbay-feed/1');
  t.equal(feed.sequence, 42, "the parent's publication counter is the feed sequence");
  t.same(chain, [PARENT]);
  for (const key of ['upstreamSequence', 'publishedAt', 'expiresAt'])
    t.notOk(key in feed, `${key} (catalog-only) is dropped`);
  const fileUrl = feed.patches[0]!.files[0]!.url;
  t.equal(resolveFileUrl(url, fileUrl), `http://head-office:8080/v1/blobs/sha256/${HEX}`);
  t.equal(
    resolveFileUrl('https://gw.corp/patchbay/v1/catalog', fileUrl),
    `https://gw.corp/patchbay/v1/blobs/sha256/${HEX}`,
    'a reverse proxy path prefix is kept',
  );

  const built = buildCatalog(feed, new Set(), {
    sequence: 3,
    publishedAt: '2026-11-21T00:00:00.000Z',
    expiresAt: '2026-11-28T00:00:00.000Z',
    mirrorChain: [...chain, OWN],
  });
  t.equal(built.upstreamSequence, 42);
  t.same((built as { mirrorChain?: string[] }).mirrorChain, [PARENT, OWN], 'the child appends itself');
  t.equal(built.patches[0]!.files[0]!.url, `/v1/blobs/sha256/${HEX}`, 'the child serves its own blobs');
});

t.test('a vendor feed has no chain; a loop and an expired parent catalog are refused', async (t) => {
  const vendor = { ...parentCatalog(), format: 'patchbay-feed/1' } as Record<string, unknown>;
  for (const key of ['upstreamSequence', 'publishedAt', 'expiresAt']) delete vendor[key];
  (vendor.patches as { files: { url: string }[] }[])[0]!.files[0]!.url = 'files/T5KB0042.sh';
  const plain = parseUpstreamFeed(Buffer.from(JSON.stringify(vendor)), 'feed.json', OWN);
  t.equal(plain.kind, 'feed');
  t.same(plain.chain, []);

  const loop = parentCatalog({ mirrorChain: [OWN, PARENT] });
  const loopErr = thrown(() =>
    parseUpstreamFeed(Buffer.from(JSON.stringify(loop)), 'http://b/v1/catalog', OWN),
  );
  t.ok(isPatchbayError(loopErr, ErrorCodes.MIRROR_LOOP), 'a loop is PB_ERR_MIRROR_LOOP');
  t.match((loopErr as Error).message, `chain ${OWN} -> ${PARENT}`, 'the error names the chain');
  const expired = parentCatalog({ expiresAt: '2020-01-01T00:00:00.000Z' });
  const expiredErr = thrown(() =>
    parseUpstreamFeed(Buffer.from(JSON.stringify(expired)), 'http://b/v1/catalog', OWN),
  );
  t.ok(isPatchbayError(expiredErr, ErrorCodes.CATALOG_STALE), 'an expired parent catalog is stale');
  const badChain = parentCatalog({ mirrorChain: ['not a fingerprint'] });
  const badErr = thrown(() =>
    parseUpstreamFeed(Buffer.from(JSON.stringify(badChain)), 'http://b/v1/catalog', OWN),
  );
  t.ok(isPatchbayError(badErr, ErrorCodes.FEED_SCHEMA), 'a malformed chain fails the schema');
});

// ---- report rollup ---------------------------------------------------------

const event = (seq: number, patchId = 'T5KB0042') => ({
  seq,
  type: 'install' as const,
  patchId,
  at: `2026-11-24T09:${String(seq).padStart(2, '0')}:00Z`,
  outcome: 'ok',
  message: '',
});

interface ClientRow {
  hostId: string;
  via?: string;
  viaPath?: string[];
}

async function getJson<T>(h: Harness, path: string): Promise<T> {
  const res = await fetch(`${h.base}${path}`);
  if (!res.ok) throw new Error(`${path}: ${res.status} ${await res.text()}`);
  return (await res.json()) as T;
}

/** branch-b's rollup token at the parent (enroll --branch), made once per parent. */
async function enrollBranch(parent: Harness, branchId = 'branch-b'): Promise<string> {
  const tokens = SqliteTokenStore.open(parent.config.dataDir);
  try {
    return await tokens.enroll(branchId, new Date(), 'branch');
  } finally {
    await tokens.close();
  }
}

async function sender(child: Harness, parent: Harness | string, more: Record<string, unknown> = {}) {
  return new RollupSender({
    config: {
      url: typeof parent === 'string' ? parent : parent.base,
      branchId: 'branch-b',
      token: typeof parent === 'string' ? null : await enrollBranch(parent),
      tokenFile: null,
      schedule: null,
      intervalSeconds: null,
    },
    dataDir: child.config.dataDir,
    reports: child.store,
    fingerprint: OWN,
    logger: silentLogger,
    retryBaseMs: 1,
    ...more,
  });
}

t.test('rollup: the parent sees the branch hosts marked via; a resend doubles nothing', async (t) => {
  const parent = await startHarness(t);
  // Its own directory: a second t.testdir() would wipe the parent's auth.sqlite under it.
  const child = await startHarness(t, { dir: join(parent.config.dataDir, 'child') });
  await putReport(
    child.base,
    'db-01',
    report('db-01', { patches: [{ id: 'T5KB0042', state: 'installed' }], events: [event(1), event(2)] }),
  );
  await putReport(child.base, 'web-01', report('web-01', { events: [event(1)] }));

  const s = await sender(child, parent);
  await s.run('test');
  t.equal(s.status().error, null);
  t.same(s.status().lastRun, { requests: 1, hosts: 2, accepted: 3, refused: [] });

  const clients = await getJson<ClientRow[]>(parent, '/v1/clients');
  t.same(
    clients.map((c) => [c.hostId, c.via]),
    [
      ['db-01', 'branch-b'],
      ['web-01', 'branch-b'],
    ],
  );
  const detail = await getJson<ClientRow & { patches: unknown[]; events: unknown[] }>(
    parent,
    '/v1/clients/db-01',
  );
  t.equal(detail.via, 'branch-b');
  t.same(detail.patches, [{ id: 'T5KB0042', state: 'installed' }]);
  t.equal(detail.events.length, 2);
  const history = await getJson<{ hostId: string; seq: number; via?: string }[]>(
    parent,
    '/v1/reports/history',
  );
  t.equal(history.length, 3);
  t.ok(
    history.every((e) => e.via === 'branch-b'),
    'history marks the branch',
  );
  const branches = await getJson<{ branchId: string; mirror: string; hosts: number }[]>(
    parent,
    '/v1/branches',
  );
  t.match(branches, [{ branchId: 'branch-b', mirror: OWN, hosts: 2 }]);

  // Nothing new: the next run sends nothing. A lost cursor resends all: the parent dedups.
  await s.run('again');
  t.equal(s.status().lastRun?.requests, 0);
  const cursor = new RollupCursorFile(child.config.dataDir);
  await cursor.write({ target: 'elsewhere', eventId: 0, hosts: {} });
  await s.run('resend');
  t.same(s.status().lastRun, { requests: 1, hosts: 2, accepted: 0, refused: [] }, 'resent, nothing doubled');
  t.equal((await getJson<unknown[]>(parent, '/v1/reports/history')).length, 3);

  // A new event and a new host go next time, and only they.
  await putReport(
    child.base,
    'db-01',
    report('db-01', { reportedAt: '2026-11-24T11:00:00Z', events: [event(3)] }),
  );
  await s.run('news');
  t.same(s.status().lastRun, { requests: 1, hosts: 1, accepted: 1, refused: [] });
  await s.close();
});

t.test('rollup: an undelivered rollup is kept and retried; large ones go in batches', async (t) => {
  const parent = await startHarness(t);
  // Its own directory: a second t.testdir() would wipe the parent's auth.sqlite under it.
  const child = await startHarness(t, { dir: join(parent.config.dataDir, 'child') });
  for (let i = 1; i <= 12; i++)
    await putReport(
      child.base,
      `h-${String(i).padStart(2, '0')}`,
      report(`h-${String(i).padStart(2, '0')}`, { events: [event(1), event(2)] }),
    );

  const down = await sender(child, 'http://127.0.0.1:9'); // nothing listens on the discard port
  await down.run('parent down');
  t.equal(down.status().failures, 1);
  t.match(down.status().error, /rollup to http:\/\/127\.0\.0\.1:9/);
  t.ok(down.status().nextRetryAt, 'a retry is scheduled');
  await down.close();

  // A report store that cannot answer (its database gone) is a failure kept for a retry too.
  const failing = { ...child.store, lastEventId: () => Promise.reject(new Error('database gone')) };
  const blind = await sender(child, parent, { reports: failing });
  await blind.runIfDue('store down');
  t.match(blind.status(), { failures: 1, error: /database gone/ }, 'recorded, not thrown');
  t.ok(blind.status().nextRetryAt, 'and retried');
  await blind.close();

  const s = await sender(child, parent, { limits: { maxBytes: 1500, maxEvents: 7 } });
  await s.run('parent up');
  t.equal(s.status().error, null);
  t.ok((s.status().lastRun?.requests ?? 0) > 3, `several batches (${s.status().lastRun?.requests})`);
  t.equal(s.status().lastRun?.accepted, 24, 'every event delivered once');
  t.equal((await getJson<unknown[]>(parent, '/v1/clients')).length, 12);
  t.equal((await getJson<unknown[]>(parent, '/v1/reports/history')).length, 24);
  await s.close();
});

async function putRollup(h: Harness, branchId: string, body: unknown, token?: string): Promise<Response> {
  return fetch(`${h.base}/v1/branches/${branchId}/rollup`, {
    method: 'PUT',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify(body),
  });
}

const rollupBody = (
  hosts: { report: ClientReport; via?: string[]; viaKeys?: string[] }[],
  branchId = 'branch-b',
) => ({
  format: ROLLUP_FORMAT,
  branchId,
  mirror: OWN,
  sentAt: '2026-11-24T10:00:00Z',
  hosts,
});

t.test('rollup: a branch reports only its own hosts; tokens and loops', async (t) => {
  const parent = await startHarness(t);
  parent.mirror.publish([]);
  const parentKey = keyFingerprint(TEST_SIGNING_KEY.publicKey);
  await putReport(parent.base, 'direct-01', report('direct-01'));
  const tokens = SqliteTokenStore.open(parent.config.dataDir);
  t.teardown(() => tokens.close());
  const branchToken = await tokens.enroll('branch-b', new Date(), 'branch');
  const hostToken = await tokens.enroll('own-token-01');

  const res = await putRollup(
    parent,
    'branch-b',
    rollupBody([
      { report: report('direct-01', { events: [event(1)] }) },
      { report: report('own-token-01') },
      { report: report('db-07', { events: [event(1)] }), via: ['branch-c'], viaKeys: ['1111222233334444'] },
    ]),
    branchToken,
  );
  t.equal(res.status, 200);
  const answer = (await res.json()) as {
    accepted: number;
    hosts: number;
    refused: { hostId: string; reason: string }[];
  };
  t.equal(answer.hosts, 1);
  t.equal(answer.accepted, 1);
  t.match(answer.refused, [
    { hostId: 'direct-01', reason: /reports to this server directly/ },
    { hostId: 'own-token-01', reason: /has its own report token here/ },
  ]);
  const detail = await getJson<ClientRow>(parent, '/v1/clients/db-07');
  t.equal(detail.via, 'branch-b');
  t.same(detail.viaPath, ['branch-b', 'branch-c'], 'a sub-branch host keeps its whole path');
  t.notOk('via' in (await getJson<ClientRow>(parent, '/v1/clients/direct-01')), 'a direct host has no via');

  // Another branch cannot take over branch-b's host.
  const otherToken = await tokens.enroll('branch-x', new Date(), 'branch');
  const other = await putRollup(
    parent,
    'branch-x',
    rollupBody([{ report: report('db-07') }], 'branch-x'),
    otherToken,
  );
  t.match(((await other.json()) as typeof answer).refused, [
    { hostId: 'db-07', reason: /through branch "branch-b"/ },
  ]);

  // One host's report naming a patch twice is refused by name; the rest of the rollup is stored.
  const twice = [
    { id: 'T5KB0042', state: 'installed' as const },
    { id: 'T5KB0042', state: 'failed' as const },
  ];
  const mixed = await putRollup(
    parent,
    'branch-b',
    rollupBody([
      { report: report('twice-01', { patches: twice }) },
      { report: report('good-01', { events: [event(1)] }) },
    ]),
    branchToken,
  );
  t.equal(mixed.status, 200, 'not the whole rollup refused');
  const mixedAnswer = (await mixed.json()) as typeof answer;
  t.match(mixedAnswer, {
    hosts: 1,
    accepted: 1,
    refused: [
      {
        hostId: 'twice-01',
        reason: /body\/hosts\/0\/report\/patches\/1\/id names patch T5KB0042 a second time/,
      },
    ],
  });
  t.equal(mixedAnswer.refused.length, 1, 'only that host');
  t.equal((await fetch(`${parent.base}/v1/clients/twice-01`)).status, 404, 'nothing of it stored');
  t.equal((await getJson<ClientRow>(parent, '/v1/clients/good-01')).via, 'branch-b', 'the other host stored');

  // A host's token cannot roll up as a branch; the URL and body branch must agree.
  t.equal((await putRollup(parent, 'branch-b', rollupBody([]), hostToken)).status, 403);
  t.equal((await putRollup(parent, 'branch-b', rollupBody([], 'branch-z'), branchToken)).status, 400);
  t.equal((await putRollup(parent, 'branch-b', { ...rollupBody([]), format: 'x' }, branchToken)).status, 400);

  // A rollup whose chain already holds the parent comes back to it: refused whole, nothing stored.
  const loop = await putRollup(
    parent,
    'branch-b',
    rollupBody([{ report: report('loop-01', { events: [event(1)] }), via: ['head'], viaKeys: [parentKey] }]),
    branchToken,
  );
  t.equal(loop.status, 409);
  t.match(((await loop.json()) as { message: string }).message, /PB_ERR_MIRROR_LOOP/);
  t.equal((await fetch(`${parent.base}/v1/clients/loop-01`)).status, 404);

  // A compliance row marks the hosts behind a branch.
  parent.mirror.publish([patch('T5KB0042')], 2);
  const compliance = await getJson<{ patchId: string; via?: Record<string, string> }[]>(
    parent,
    '/v1/reports/compliance',
  );
  t.same(compliance[0]?.via, { 'db-07': 'branch-b', 'good-01': 'branch-b' });
});
