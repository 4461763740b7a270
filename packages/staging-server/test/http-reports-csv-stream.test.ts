// The large CSV downloads (the host view, history, installs) are streamed a page at a time
// (CSV_PAGE rows): over real HTTP they arrive whole, in order, the header once.
import t, { type Test } from 'tap';
import { CSV_PAGE } from '../src/http/routes/reports-query.js';
import { report, startHarness } from './fixtures/http-harness.js';
import { patch } from './fixtures/http-mirror.js';

const HOSTS = Math.ceil(CSV_PAGE * 1.2);

async function csvLines(t: Test, url: string): Promise<{ lines: string[]; streamed: boolean }> {
  const res = await fetch(url);
  if (res.status !== 200) throw new Error(`${url}: ${res.status} ${await res.text()}`);
  const text = await res.text();
  t.ok(text.endsWith('\r\n'), 'the last line is whole');
  return {
    lines: text.slice(0, -2).split('\r\n'),
    // no Content-Length: the body was sent as it was made
    streamed: res.headers.get('content-length') === null,
  };
}

/** The value of the last column of a CSV line ("id"), as a number. */
const lastNumber = (line: string): number => Number(/"(\d+)"$/.exec(line)?.[1]);

t.test('CSV downloads larger than a page arrive whole: host view, history, installs', async (t) => {
  const h = await startHarness(t);
  h.mirror.publish([patch('P1'), patch('P2')]);
  await h.store.ingestMany(
    Array.from({ length: HOSTS }, (_, i) =>
      report(`host-${String(i).padStart(5, '0')}`, {
        patches: [{ id: 'P1', state: i % 2 === 0 ? 'installed' : 'failed' }],
        events: [
          { seq: 1, type: 'check', at: '2026-11-24T09:00:00.000Z', outcome: 'ok' },
          { seq: 2, type: 'install', patchId: 'P1', at: '2026-11-24T09:01:00.000Z', outcome: 'ok' },
        ],
      }),
    ),
  );

  const hosts = await csvLines(t, `${h.base}/v1/reports/compliance?view=hosts&format=csv&sort=hostId`);
  t.ok(hosts.streamed, 'the host view is streamed');
  t.equal(hosts.lines.length, HOSTS + 1, 'a line per host and the header');
  t.equal(hosts.lines.filter((l) => l.startsWith('"hostId"')).length, 1, 'the header once');
  t.match(hosts.lines[1], /^"host-00000",.*"installed","unreported"$/);
  t.match(hosts.lines.at(-1), new RegExp(`^"host-${String(HOSTS - 1).padStart(5, '0')}"`));

  const history = await csvLines(t, `${h.base}/v1/reports/history?format=csv&limit=${HOSTS * 2}`);
  t.ok(history.streamed, 'the history is streamed');
  t.equal(history.lines.length, HOSTS * 2 + 1, 'every event and the header');
  t.equal(history.lines.filter((l) => l.startsWith('"at"')).length, 1, 'the header once');
  const json = (await (await fetch(`${h.base}/v1/reports/history?limit=${HOSTS * 2}`)).json()) as {
    id: number;
  }[];
  t.same(
    history.lines.slice(1).map(lastNumber),
    json.map((e) => e.id),
    'the events of the JSON answer, in its order, none twice',
  );

  const capped = await csvLines(t, `${h.base}/v1/reports/history?format=csv&limit=${CSV_PAGE + 7}`);
  t.equal(capped.lines.length, CSV_PAGE + 8, 'a limit past a page boundary is kept');

  const installs = await csvLines(t, `${h.base}/v1/reports/installs?format=csv&limit=10000`);
  t.equal(installs.lines.length, HOSTS + 1, 'every install and the header');
  t.same(
    new Set(installs.lines.slice(1).map((l) => /^"[^"]*","(host-\d+)"/.exec(l)?.[1])).size,
    HOSTS,
    'one install per host',
  );
});
