// The real client reporter against the real server's event quota (issue 14): a report refused
// with 429 loses nothing; its events stay in the client's ledger on disk and go out once the
// window frees. The server's clock is injected; the client's is the real one (its reportedAt).
import { join } from 'node:path';
import t from 'tap';
import { CLIENT_CONFIG_DEFAULTS, type ClientConfig } from '@patchbay/core';
import { Ledger, flushReports } from '@patchbay/client-daemon';
import { silentLogger, startHarness } from './fixtures/http-harness.js';

t.test('a 429 for the event quota keeps the events on disk; they go out when the window frees', async (t) => {
  let ms = Date.now();
  const h = await startHarness(t, { now: () => new Date(ms), reports: { hostEventsPerDay: 3 } });
  const ledgerFile = join(h.config.dataDir, 'client-ledger.json');
  const ledger = await Ledger.open(ledgerFile);
  const config: ClientConfig = {
    ...CLIENT_CONFIG_DEFAULTS,
    server: [h.base],
    hostId: 'quota-host',
    hostname: 'quota-host.corp',
  };
  const flush = () => flushReports({ config, ledger, logger: silentLogger, timeoutMs: 10_000 });
  const check = () => ledger.addEvent({ type: 'check', outcome: 'ok' });

  for (let i = 0; i < 3; i++) check();
  const first = await flush();
  t.match(first, { delivered: true, sent: 3, pending: 0 });

  check();
  check();
  const refused = await flush();
  t.match(refused, { delivered: false, sent: 0, pending: 2 });
  t.match(refused.error, /answered 429.*has reported its 3 new events/);
  const onDisk = await Ledger.open(ledgerFile);
  t.same(
    onDisk.pendingEvents().map((e) => e.seq),
    [4, 5],
    'the refused events are kept in the ledger on disk',
  );

  ms += 24 * 60 * 60 * 1000;
  const later = await flush();
  t.match(later, { delivered: true, sent: 2, pending: 0 });
  const history = (await (await fetch(`${h.base}/v1/reports/history?host=quota-host`)).json()) as unknown[];
  t.equal(history.length, 5, 'every event arrived once');
});
