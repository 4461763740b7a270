// End to end, the events pipeline (issue 14): a real staging server (child process) with mail
// to a real SMTP receiver, real clients (the built CLI) running the sample feed's real
// installer scripts, and the status page in headless Chromium.
// - A host re-imaged under the same hostId (a new data dir, seq back at 1) loses no event:
//   the server keeps events per (hostId, instanceId, seq), shows the new instance, warns.
// - A copied data dir (same instance, same seqs, other events): the server stores what it
//   has first and warns; the client is told (`conflicting`) and warns too.
// - A failed install's reason and the installer's last output lines reach the JSON API,
//   the status page and the failure mail.
import fs from 'node:fs';
import path from 'node:path';
import t from 'tap';
import { launchChromium } from './helpers/chromium.js';
import { BIN, runJson, waitFor } from './helpers/processes.js';
import { startSmtpSink } from './helpers/smtp.js';
import { startStack } from './helpers/stack.js';

/** critical, no requirements, installs fine */
const GOOD = 'T5KB0201';
/** its installer prints to stdout and stderr, then exits 3 (sample feed) */
const FAILING = 'T5KB0210';

interface Result {
  id: string;
  outcome: string;
  message: string;
}
interface ServerEvent {
  id: number;
  seq: number;
  type: string;
  patchId: string | null;
  outcome: string;
  message: string;
  instanceId: string;
  output: string | null;
}
interface ClientDoc {
  hostId: string;
  instanceId?: string;
  instances: { instanceId: string; firstSeenAt: string }[];
  patches: { id: string; state: string; reason?: string }[];
  events: ServerEvent[];
}

function ledgerOf(dataDir: string): { instanceId: string; events: { seq: number; type: string }[] } {
  return JSON.parse(fs.readFileSync(path.join(dataDir, 'ledger.json'), 'utf8'));
}

t.test('events pipeline: re-imaged hosts and failure details', async (t) => {
  const smtp = await startSmtpSink();
  t.teardown(smtp.close);
  const stack = await startStack(t.testdir(), {
    releases: ['19.0'],
    serverExtra: {
      notify: {
        smtp: { host: '127.0.0.1', port: smtp.port, secure: false },
        from: 'patchbay@example.test',
        to: ['admins@example.test'],
        events: ['installed', 'failed'],
        digest: 'off',
      },
    },
  });
  t.teardown(stack.stop);
  const mailsAbout = (re: RegExp) => smtp.mails.filter((m) => re.test(m.subject ?? ''));

  await t.test('a re-imaged host (same hostId, new data dir) loses no event', async (t) => {
    const first = stack.writeClientConfig('host-r', '19.0');
    const before = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      first.config,
      'install',
      GOOD,
    ]);
    t.equal(before.code, 0, before.stderr);
    const oldLedger = ledgerOf(first.dataDir);
    t.match(oldLedger.instanceId, /^[0-9a-f-]{36}$/, 'the data dir has its instance id');
    await waitFor(
      'the first install mail',
      async () => mailsAbout(/T5KB0201 installed on host-r/).length === 1,
    );

    // Re-image: the same config and hostId, an empty data dir and a product without the patch.
    fs.rmSync(path.join(first.installDir, 'patches'), { recursive: true, force: true });
    const second = stack.writeClientConfig('host-r', '19.0', { dataDir: './data-reimaged' });
    const after = await runJson<{ results: Result[] }>(BIN.client, [
      '--config',
      second.config,
      'install',
      GOOD,
    ]);
    t.equal(after.code, 0, after.stderr);
    t.same(
      after.json.results.map((r) => [r.id, r.outcome]),
      [[GOOD, 'ok']],
    );
    const newLedger = ledgerOf(path.join(path.dirname(second.config), 'data-reimaged'));
    t.not(newLedger.instanceId, oldLedger.instanceId, 'a new data dir is a new instance');
    const oldSeqs = new Set(oldLedger.events.map((e) => e.seq));
    t.ok(
      newLedger.events.some((e) => e.type === 'install' && oldSeqs.has(e.seq)),
      'the new install reuses a seq the server already holds (the case that lost events)',
    );

    const history = await stack.getJson<ServerEvent[]>('/v1/reports/history?host=host-r&type=install');
    t.same(
      history.map((e) => [e.patchId, e.outcome, e.instanceId]),
      [
        [GOOD, 'ok', newLedger.instanceId],
        [GOOD, 'ok', oldLedger.instanceId],
      ],
      'both installs are on the server, each with its instance',
    );
    const doc = await stack.getJson<ClientDoc>('/v1/clients/host-r');
    t.equal(doc.instanceId, newLedger.instanceId, 'the host view names the current instance');
    t.same(
      doc.instances.map((i) => i.instanceId).sort(),
      [oldLedger.instanceId, newLedger.instanceId].sort(),
    );
    await waitFor(
      'the second install mail',
      async () => mailsAbout(/T5KB0201 installed on host-r/).length === 2,
    );
    t.match(
      stack.server.stderr(),
      /new client instance/,
      'the server warns that the host id reports from a new instance',
    );
  });

  await t.test(
    'a copied data dir: events under taken keys are not stored, and both sides say so',
    async (t) => {
      const original = stack.writeClientConfig('host-c', '19.0');
      t.equal((await runJson(BIN.client, ['--config', original.config, 'check'])).code, 0);
      // a second machine set up from a copy of the first: same host id, same data dir contents
      const clone = stack.writeClientConfig('host-c-copy', '19.0', { hostId: 'host-c' });
      fs.cpSync(original.dataDir, clone.dataDir, { recursive: true });
      // the original goes on (install events), then the copy reports a check under the same seqs
      t.equal((await runJson(BIN.client, ['--config', original.config, 'install', GOOD])).code, 0);
      const cloned = await runJson(BIN.client, ['--config', clone.config, 'check']);
      t.equal(cloned.code, 0);
      t.match(cloned.stderr, /did not store them; was this data directory copied from another host\?/);
      t.match(stack.server.stderr(), /event not stored: another event with different content/);
      const history = await stack.getJson<ServerEvent[]>('/v1/reports/history?host=host-c');
      t.same(
        history.filter((e) => e.type === 'install').map((e) => [e.patchId, e.outcome]),
        [[GOOD, 'ok']],
        "the original's install is kept as it was",
      );
    },
  );

  await t.test(
    'a failed install: reason and installer output in the API, the mail and the page',
    async (t) => {
      const host = stack.writeClientConfig('host-f', '19.0');
      const res = await runJson<{ results: Result[] }>(BIN.client, [
        '--config',
        host.config,
        'install',
        FAILING,
      ]);
      t.equal(res.code, 1);
      t.match(res.json.results[0], {
        id: FAILING,
        outcome: 'failed',
        message: /exit code 3 is not a success code/,
      });

      const doc = await stack.getJson<ClientDoc>('/v1/clients/host-f');
      const patch = doc.patches.find((p) => p.id === FAILING);
      t.equal(patch?.state, 'failed');
      t.match(patch?.reason, /exit code 3 is not a success code/, 'the reported patch carries its reason');
      const event = doc.events.find((e) => e.type === 'install' && e.patchId === FAILING);
      t.equal(event?.outcome, 'failed');
      t.match(event?.output, /T5KB0210: stopping service CASUniversalAgent/, 'stdout of the installer');
      t.match(
        event?.output,
        /ERROR: service CASUniversalAgent is locked by another process; nothing was changed/,
        'stderr of the installer',
      );
      t.notMatch(event?.output, /^# /m, "patchbay's own log lines are not the installer's output");
      const history = await stack.getJson<ServerEvent[]>(`/v1/reports/history?host=host-f&patch=${FAILING}`);
      t.equal(history.find((e) => e.type === 'install')?.output, event?.output, 'the history API has it too');

      const mail = await waitFor('the failure mail', async () =>
        smtp.mails.find((m) => /install of T5KB0210 failed on host-f/.test(m.subject ?? '')),
      );
      t.match(mail.text, /exit code 3 is not a success code/);
      t.match(mail.text, /Installer output \(last lines\):/);
      t.match(mail.text, /\| T5KB0210: ERROR: service CASUniversalAgent is locked by another process/);
      t.match(String(mail.html), /<pre[^>]*>[^<]*ERROR: service CASUniversalAgent is locked/);

      const context = await launchChromium(t);
      if (!context) return; // no browser here (outside CI): said in the output
      const page = await context.newPage();
      await page.goto(`${stack.server.url}/#host=host-f`);
      await page.waitForSelector('#host-patches', { timeout: 60_000 });
      t.match(
        await page.locator(`#host-patches tr[data-patch="${FAILING}"] td`).last().textContent(),
        /exit code 3 is not a success code/,
        'the Reason column is filled',
      );
      const shown = await page.locator(`#host-events tr[data-event="${event?.id}"] pre[data-field="output"]`);
      t.match(
        await shown.textContent(),
        /ERROR: service CASUniversalAgent is locked/,
        'the output on the page',
      );

      // the re-imaged host's page says so
      await page.goto(`${stack.server.url}/#host=host-r`);
      await page.waitForSelector('#host-instances', { timeout: 60_000 });
      t.equal(await page.locator('#host-instances').getAttribute('data-count'), '2');
      t.match(await page.locator('#host-instances').textContent(), /re-imaged/);
    },
  );
});
