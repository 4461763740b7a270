// buildReport: what a report carries from the ledger (issue 14), checked against core's schema.
import path from 'node:path';
import t from 'tap';
import { validateReport } from '@patchbay/core';
import type { ClientConfig } from '@patchbay/core';
import { Ledger } from '../src/ledger.js';
import { buildReport } from '../src/reporter.js';

// buildReport reads hostId, hostname and products only; the rest of a config is not needed here.
const config = {
  hostId: 'db-01',
  hostname: 'db-01.corp',
  products: [{ id: 'arcserve-backup', release: '19.0', installDir: '/opt/x' }],
} as unknown as ClientConfig;

t.test(
  'a report carries the instance id, failure reasons and output, within the schema bounds',
  async (t) => {
    const ledger = await Ledger.open(path.join(t.testdir(), 'ledger.json'));
    ledger.observe([{ id: 'P1', state: 'failed', reason: `install P1: exit code 3 ${'x'.repeat(5000)}` }]);
    await ledger.recordOutcome('P1', 'failed', {
      type: 'install',
      outcome: 'failed',
      message: `install P1: ${'m'.repeat(20_000)}`,
      output: `${'o'.repeat(5000)}\nthe last line`,
    });
    const report = buildReport(config, ledger);
    t.equal(report.instanceId, ledger.instanceId);
    t.match(report.patches[0], { id: 'P1', state: 'failed', reason: /^install P1: exit code 3 x+$/ });
    t.equal(report.patches[0]?.reason?.length, 4096, 'an overlong reason is cut, not refused');
    const event = report.events[0];
    t.equal(event?.message?.length, 16_384);
    t.match(event?.output, /the last line$/, 'the output keeps its end');
    t.doesNotThrow(() => validateReport(JSON.parse(JSON.stringify(report))), 'the server would take it');
    t.equal(ledger.events[0]?.message?.length, 20_012, 'the ledger keeps the whole message');
  },
);
