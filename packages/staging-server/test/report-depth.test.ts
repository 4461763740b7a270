// Issue 14: a report with an unknown field nested 10,000 deep (20 KB) answered 500 (a stack
// overflow in JSON.stringify). Any JSON body nested deeper than the server reads is a 400
// naming the limit, and nothing of it is stored.
import t from 'tap';
import { putReport, report, startHarness } from './fixtures/http-harness.js';

/** A report whose extra field is `depth` objects deep, as text (JSON.stringify overflows too). */
function nestedReport(hostId: string, depth: number): string {
  const base = JSON.stringify(report(hostId));
  return `${base.slice(0, -1)},"extra":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`;
}

t.test('a body nested 10,000 deep is a 400, nothing stored; a modest depth is fine', async (t) => {
  const h = await startHarness(t);
  const res = await putReport(h.base, 'deep-host', nestedReport('deep-host', 10_000));
  t.equal(res.status, 400);
  const body = (await res.json()) as { message: string };
  t.match(body.message, /nested deeper than \d+ levels/);
  const clients = (await (await fetch(`${h.base}/v1/clients`)).json()) as { hostId: string }[];
  t.notOk(
    clients.some((c) => c.hostId === 'deep-host'),
    'nothing stored',
  );

  const fine = await putReport(h.base, 'deep-host', nestedReport('deep-host', 20));
  t.equal(fine.status, 200, 'unknown fields of ordinary depth are still ignored, not fatal');
});
