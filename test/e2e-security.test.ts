// Issue 4 end to end with the real programs over loopback: a hostile vendor upstream (bad,
// missing and misplaced signatures, traversal in file names, a 200 MB feed), report tokens
// (none, wrong, another host's, revoked), and the staging server's catalog signature. Report
// tokens run on trust v2 (the stack's default); the hostile feed upstream is the server's own
// feed path (a staging server reading feed.json, `upstream: 'feed'`). Hosts trust TUF only:
// a vendor's feed is checked by `patchbay-publish import-feed --vendor-key` off the DMZ, and a
// hostile DMZ server's metadata is refused by hosts in test/e2e-trust.test.ts and
// packages/client-daemon/test/tuf-hostile-server.test.ts. Each part is its own top-level
// test, so one can run alone:
//   npx tap test/e2e-security.test.ts --grep='report tokens'
//
// Parts whose feature has not landed yet are skipped with the feature named in PENDING;
// PATCHBAY_E2E_RUN_PENDING=1 runs them anyway.
import t from 'tap';
import fs from 'node:fs';
import path from 'node:path';
import { generateKeyPairSync, verify, createPublicKey, type KeyObject } from 'node:crypto';
import { BIN, run, runJson } from './helpers/processes.js';
import { startStack, type Stack, type StatusDocument } from './helpers/stack.js';
import { residentBytes, startHostileUpstream } from './helpers/hostile-upstream.js';

/** Features other issue-4 work delivers; remove an entry once it has landed. */
const PENDING: Record<string, string> = {};

function pending(feature: string): string | false {
  if (process.env.PATCHBAY_E2E_RUN_PENDING) return false;
  const what = PENDING[feature];
  return what === undefined ? false : `pending: ${what} has not landed (remove '${feature}' from PENDING)`;
}

const MiB = 1024 * 1024;

interface Feed {
  sequence: number;
  patches: { id: string; files: { name: string }[] }[];
  [key: string]: unknown;
}

const spkiBase64 = (key: KeyObject) => key.export({ type: 'spki', format: 'der' }).toString('base64');

/** Rewrite the stack's feed.json with `change` applied and the given sequence. */
function publishFeed(stack: Stack, sequence: number, change: (feed: Feed) => void = () => {}): void {
  const feedPath = path.join(stack.feedDir, 'feed.json');
  const feed = JSON.parse(fs.readFileSync(feedPath, 'utf8')) as Feed;
  feed.sequence = sequence;
  change(feed);
  fs.writeFileSync(feedPath, JSON.stringify(feed, null, 2));
}

async function upstreamSequenceServed(stack: Stack): Promise<number> {
  return (await stack.getJson<{ upstreamSequence: number }>('/v1/catalog')).upstreamSequence;
}

// ------------------------------------------------------------------ hostile upstream

t.test(
  'hostile upstream: vendor feed signatures (upstream.publicKey)',
  { skip: pending('vendor-feed-signature') },
  async (t) => {
    const dir = t.testdir();
    const vendor = generateKeyPairSync('ed25519');
    const intruder = generateKeyPairSync('ed25519');
    const hostile = await startHostileUpstream(path.join(dir, 'feed'));
    t.teardown(hostile.close);
    hostile.signature = { kind: 'key', key: vendor.privateKey };
    const stack = await startStack(dir, {
      upstream: 'feed',
      releases: ['19.0'],
      upstreamExtra: { url: hostile.url, publicKey: spkiBase64(vendor.publicKey) },
    });
    t.teardown(stack.stop);

    const first = await stack.getJson<StatusDocument>('/v1/status');
    t.equal(
      first.lastSync?.outcome,
      'ok',
      `a feed signed by the vendor's key syncs: ${first.lastSync?.error}`,
    );
    t.equal(await upstreamSequenceServed(stack), 7);

    const refusals: [string, () => void, RegExp][] = [
      [
        'signed with another key',
        () => (hostile.signature = { kind: 'key', key: intruder.privateKey }),
        /signature/i,
      ],
      [
        'no feed.json.sig',
        () => (hostile.signature = { kind: 'none' }),
        /missing|no signature|feed\.json\.sig/i,
      ],
      [
        'a vendor signature of other bytes',
        () => (hostile.signature = { kind: 'other-bytes', key: vendor.privateKey }),
        /signature/i,
      ],
    ];
    for (const [what, arrange, expected] of refusals) {
      await t.test(what, async (t) => {
        arrange();
        publishFeed(stack, 8);
        const sync = await stack.syncNow();
        t.equal(sync.outcome, 'failed', 'the sync fails');
        t.match(sync.error, expected, `the error says why: ${sync.error}`);
        const status = await stack.getJson<StatusDocument>('/v1/status');
        t.equal(status.lastSync?.outcome, 'failed', '/v1/status shows the failure');
        t.match(status.lastSync?.error, expected, '/v1/status says why');
        t.equal(await upstreamSequenceServed(stack), 7, 'the previous catalog is still served');
      });
    }

    await t.test('the same feed with the vendor signature is accepted (control)', async (t) => {
      hostile.signature = { kind: 'key', key: vendor.privateKey };
      publishFeed(stack, 8);
      const sync = await stack.syncNow();
      t.equal(sync.outcome, 'ok', `synced: ${sync.error}`);
      t.equal(await upstreamSequenceServed(stack), 8);
    });
  },
);

t.test('hostile upstream: file names with traversal are refused, naming the field', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { upstream: 'feed', releases: ['19.0'] });
  t.teardown(stack.stop);
  let sequence = 8;
  for (const name of ['../x', 'a/b', '..\\x', '../../../../tmp/patchbay-e2e-escape', 'C:x', 'x\u0000.sh']) {
    await t.test(JSON.stringify(name), async (t) => {
      publishFeed(stack, sequence++, (feed) => {
        feed.patches[0]!.files[0]!.name = name;
      });
      const sync = await stack.syncNow();
      t.equal(sync.outcome, 'failed', 'the feed is refused whole');
      t.match(sync.error, /name/, `the error names the field: ${sync.error}`);
      t.equal(await upstreamSequenceServed(stack), 7, 'the previous catalog is still served');
    });
  }
  t.notOk(fs.existsSync(path.join(dir, 'x')), 'nothing written beside the data dir');
  t.notOk(fs.existsSync('/tmp/patchbay-e2e-escape'), 'nothing written outside the test dir');
});

t.test('hostile upstream: a 200 MB feed.json is cut off at upstream.maxFeedBytes', async (t) => {
  const dir = t.testdir();
  const hostile = await startHostileUpstream(path.join(dir, 'feed'));
  t.teardown(hostile.close);
  const stack = await startStack(dir, {
    upstream: 'feed',
    releases: ['19.0'],
    upstreamExtra: { url: hostile.url, maxFeedBytes: 1 * MiB },
  });
  t.teardown(stack.stop);
  t.equal(await upstreamSequenceServed(stack), 7, 'the normal feed synced first');
  const pid = stack.server.child.pid!;

  for (const contentLength of [true, false]) {
    await t.test(contentLength ? 'with Content-Length' : 'chunked, no Content-Length', async (t) => {
      const sentBefore = hostile.endlessBytesSent();
      hostile.feedBody = { kind: 'endless', bytes: 200 * 1024 * MiB, contentLength };
      t.teardown(() => void (hostile.feedBody = { kind: 'file' }));
      let peak = residentBytes(pid) ?? 0;
      const sampler = setInterval(() => (peak = Math.max(peak, residentBytes(pid) ?? 0)), 50);
      let sync;
      try {
        sync = await stack.syncNow();
      } finally {
        clearInterval(sampler);
      }
      t.equal(sync.outcome, 'failed', `the sync fails: ${JSON.stringify(sync)}`);
      t.match(
        sync.error,
        /maxFeedBytes|too large|larger|exceed|limit|1048576|1 MiB/i,
        `a clear error: ${sync.error}`,
      );
      const sent = hostile.endlessBytesSent() - sentBefore;
      t.ok(sent < 32 * MiB, `the download was cut off (${(sent / MiB).toFixed(1)} MiB sent of 200)`);
      if (residentBytes(pid) !== null) {
        t.ok(
          peak < 300 * MiB,
          `the server's memory stayed bounded (peak VmRSS ${(peak / MiB).toFixed(0)} MiB)`,
        );
      }
      t.equal(stack.server.child.exitCode, null, 'the server is alive');
      t.equal(await upstreamSequenceServed(stack), 7, 'the previous catalog is still served');
      t.equal((await fetch(`${stack.server.url}/readyz`)).status, 200, 'still ready');
    });
  }
});

// ------------------------------------------------------------------ report tokens

interface HistoryDocument {
  events: { seq: number; type: string; reported: boolean; message?: string }[];
}

t.test("report tokens: only a host's own token reports", { skip: pending('report-tokens') }, async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, {
    releases: ['19.0'],
    serverExtra: { auth: { reportTokens: 'required' } },
  });
  t.teardown(stack.stop);

  // enroll and revoke run as their own processes on the same config and data dir while serve runs
  const tokenCommand = async (command: 'enroll' | 'revoke', hostId: string) =>
    runJson<{ hostId: string; token: string }>(
      BIN.server,
      ['--config', stack.serverConfig, command, hostId],
      {
        cwd: dir,
      },
    );
  const enrolled: Record<string, string> = {};
  for (const host of ['host-a', 'host-b', 'host-revoked']) {
    const res = await tokenCommand('enroll', host);
    t.equal(res.code, 0, `enroll ${host}: ${res.stderr}`);
    t.equal(res.json.hostId, host);
    t.match(res.json.token, /^\S{20,}$/, 'a long token');
    enrolled[host] = res.json.token;
  }
  t.not(enrolled['host-a'], enrolled['host-b'], 'tokens differ per host');
  const revoked = await run(BIN.server, ['--config', stack.serverConfig, 'revoke', 'host-revoked'], {
    cwd: dir,
  });
  t.equal(revoked.code, 0, `revoke: ${revoked.stderr}`);
  const serverFiles = fs.readdirSync(path.join(dir, 'server-data'), { recursive: true }).map(String);
  const holdingToken = serverFiles.filter((file) => {
    const full = path.join(dir, 'server-data', file);
    return (
      fs.statSync(full).isFile() && fs.readFileSync(full).toString('latin1').includes(enrolled['host-a']!)
    );
  });
  t.same(holdingToken, [], 'the server stores no token itself (only a hash)');

  const clientReported = async (hostId: string) =>
    (await fetch(`${stack.server.url}/v1/clients/${hostId}`)).status === 200;

  // Each client in its own directory (its own queue); they run at once to keep the suite fast.
  const cases: {
    what: string;
    name: string;
    hostId: string;
    token: string | undefined;
    accepted: boolean;
  }[] = [
    {
      what: 'its own token',
      name: 'client-own',
      hostId: 'host-a',
      token: enrolled['host-a'],
      accepted: true,
    },
    { what: 'no token', name: 'client-none', hostId: 'host-b', token: undefined, accepted: false },
    {
      what: 'a wrong token',
      name: 'client-wrong',
      hostId: 'host-b',
      token: `${enrolled['host-b']!.slice(0, -4)}AAAA`,
      accepted: false,
    },
    {
      what: "another host's token",
      name: 'client-other',
      hostId: 'host-b',
      token: enrolled['host-a'],
      accepted: false,
    },
    {
      what: 'a revoked token',
      name: 'client-revoked',
      hostId: 'host-revoked',
      token: enrolled['host-revoked'],
      accepted: false,
    },
  ];
  const outcomes = await Promise.all(
    cases.map(async (c) => {
      const client = stack.writeClientConfig(c.name, '19.0', {
        hostId: c.hostId,
        ...(c.token ? { token: c.token } : {}),
      });
      const check = await run(BIN.client, ['--config', client.config, 'check']);
      const history = await runJson<HistoryDocument>(BIN.client, ['--config', client.config, 'history']);
      return { check, history: history.json };
    }),
  );
  for (const [i, c] of cases.entries()) {
    const { check, history } = outcomes[i]!;
    await t.test(
      `a client with ${c.what} ${c.accepted ? 'reports' : 'is refused; its report stays queued'}`,
      async (t) => {
        // the list is printed, but a host whose reports are refused must hear it: exit 1, the reason on stderr
        t.equal(check.code, c.accepted ? 0 : 1, `check: ${check.stderr}`);
        if (!c.accepted)
          t.match(
            check.stderr,
            /^patchbay-client: the staging server refused this host's report \(HTTP 40[13]: /m,
          );
        if (c.hostId === 'host-revoked')
          t.match(
            check.stderr,
            /HTTP 401: the token of host "host-revoked" has been revoked; enroll the host again\)/,
          );
        t.ok(history.events.length > 0, 'the client recorded events');
        if (c.accepted) {
          t.ok(
            history.events.every((e) => e.reported),
            'all events reported',
          );
          t.ok(await clientReported(c.hostId), `the server has ${c.hostId}`);
        } else {
          t.ok(
            history.events.every((e) => !e.reported),
            'no event counts as reported: they stay queued for a later send',
          );
          t.notOk(await clientReported(c.hostId), 'the server stored nothing from it');
        }
      },
    );
  }

  await t.test("status codes: 401 without a token, 403 with another host's", async (t) => {
    const report = {
      hostId: 'host-a',
      reportedAt: new Date().toISOString(),
      patches: [],
      events: [{ seq: 1000, type: 'check', at: new Date().toISOString(), outcome: 'ok' }],
    };
    const put = (token?: string) =>
      fetch(`${stack.server.url}/v1/clients/host-a/report`, {
        method: 'PUT',
        headers: {
          'content-type': 'application/json',
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
        },
        body: JSON.stringify(report),
      });
    const none = await put();
    t.equal(none.status, 401, 'no token: 401');
    t.match(await none.json(), { statusCode: 401, error: String, message: String });
    t.equal((await put(enrolled['host-b'])).status, 403, "host-b's token for host-a: 403");
    t.match((await put('not-a-token-at-all')).status, /^40[13]$/, 'an unknown token: 401 or 403');
    t.match((await put(enrolled['host-revoked'])).status, /^40[13]$/, 'a revoked token: 401 or 403');
    const own = await put(enrolled['host-a']);
    t.equal(own.status, 200, 'its own token: 200');
    const detail = await stack.getJson<{ events?: { seq: number }[] }>('/v1/clients/host-a');
    t.ok(JSON.stringify(detail).includes('1000'), 'only the accepted report was stored');
  });
});

// ------------------------------------------------------------------ the server's mirror key

/** the mirror key file the server makes at first start (signing.keyFile default) */
const mirrorKeyFile = (dir: string) => path.join(dir, 'server-data', 'keys', 'mirror.key');

t.test('server: /v1/catalog is signed by the key /v1/keys names, kept in a 0600 file', async (t) => {
  const dir = t.testdir();
  const stack = await startStack(dir, { upstream: 'feed', releases: ['19.0'] });
  t.teardown(stack.stop);
  const catalogBytes = Buffer.from(await (await fetch(`${stack.server.url}/v1/catalog`)).arrayBuffer());
  const sigRes = await fetch(`${stack.server.url}/v1/catalog.sig`);
  t.equal(sigRes.status, 200, 'GET /v1/catalog.sig');
  const signature = Buffer.from((await sigRes.text()).trim(), 'base64');
  const keys = await stack.getJson<{ mirror: string }>('/v1/keys');
  const mirrorKey = keys.mirror.startsWith('-----BEGIN')
    ? createPublicKey(keys.mirror)
    : createPublicKey({ key: Buffer.from(keys.mirror, 'base64'), format: 'der', type: 'spki' });
  t.ok(verify(null, catalogBytes, mirrorKey, signature), 'the catalog signature verifies against /v1/keys');
  const mode = fs.statSync(mirrorKeyFile(dir)).mode & 0o777;
  t.equal(mode, 0o600, 'the private key file is 0600');
});
