// JSON answers streamed from pages (http/json-stream.ts), over real HTTP on loopback: a large
// body arrives whole and parses as the same value; an error in the middle cuts the body
// (the client's parse fails) and is logged; an error before the first part is an error status.
import { Writable } from 'node:stream';
import Fastify from 'fastify';
import t, { type Test } from 'tap';
import { jsonArrayParts, sendJsonStream } from '../src/http/json-stream.js';

const PAGES = 8;
const PER_PAGE = 1000;

interface Item {
  id: number;
  name: string;
  hosts?: Record<string, string>;
}

/** PAGES pages of PER_PAGE items; every 2000th carries a map of 12,000 entries. */
async function* itemPages(failAtPage = -1): AsyncGenerator<Item[]> {
  for (let p = 0; p < PAGES; p++) {
    if (p === failAtPage) throw new Error(`page ${p} could not be read`);
    yield Array.from({ length: PER_PAGE }, (_, i) => {
      const id = p * PER_PAGE + i;
      const item: Item = { id, name: `item "${id}" \u2028` };
      if (id % 2000 === 0)
        item.hosts = Object.fromEntries(Array.from({ length: 12_000 }, (_, h) => [`host-${h}`, 'installed']));
      return item;
    });
  }
}

/** An item with a map as a compliance row leaves: its fields, then the map 1000 members a part. */
function* encodeInParts(item: Item): Generator<string> {
  const { hosts, ...fields } = item;
  if (hosts === undefined) {
    yield JSON.stringify(item);
    return;
  }
  yield JSON.stringify(fields).slice(0, -1) + ',"hosts":{';
  const members = Object.entries(hosts).map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`);
  for (let i = 0; i < members.length; i += 1000)
    yield (i === 0 ? '' : ',') + members.slice(i, i + 1000).join(',');
  yield '}}';
}

async function start(t: Test) {
  const logged: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      logged.push(chunk.toString());
      done();
    },
  });
  const app = Fastify({ logger: { level: 'warn', stream } });
  app.get<{ Querystring: { fail?: string } }>('/items', (request, reply) =>
    sendJsonStream(reply, jsonArrayParts(itemPages(Number(request.query.fail ?? -1)), encodeInParts)),
  );
  const base = await app.listen({ host: '127.0.0.1', port: 0 });
  t.teardown(() => app.close());
  return { base, logged };
}

async function expected(): Promise<Item[]> {
  const all: Item[] = [];
  for await (const page of itemPages()) all.push(...page);
  return all;
}

t.test('a large body arrives whole, streamed, and is what JSON.stringify makes', async (t) => {
  const { base } = await start(t);
  const res = await fetch(`${base}/items`);
  t.equal(res.status, 200);
  t.match(res.headers.get('content-type'), /^application\/json/);
  t.equal(res.headers.get('content-length'), null, 'sent as it was made (chunked)');
  const text = await res.text();
  t.ok(text.length > 1_000_000, `a large body (${(text.length / 1e6).toFixed(1)} MB)`);
  t.equal(text, JSON.stringify(await expected()), 'byte for byte');
});

t.test('parts of an array: empty pages, empty arrays', async (t) => {
  const collect = async (parts: AsyncIterable<string>) => {
    let text = '';
    for await (const part of parts) text += part;
    return text;
  };
  t.equal(await collect(jsonArrayParts([])), '[]');
  t.equal(await collect(jsonArrayParts([[], [], []])), '[]');
  t.equal(await collect(jsonArrayParts([[1], [], [2, 3]])), '[1,2,3]');
});

t.test('an error in the middle cuts the body short and is logged', async (t) => {
  const { base, logged } = await start(t);
  const res = await fetch(`${base}/items?fail=4`);
  t.equal(res.status, 200, 'the answer had started');
  let text = '';
  const decoder = new TextDecoder();
  const read = (async () => {
    for await (const chunk of res.body!) text += decoder.decode(chunk as Uint8Array, { stream: true });
  })();
  await t.rejects(read, 'the body ends in an error, not an end');
  t.ok(text.length > 0, 'part of the body arrived');
  t.throws(() => JSON.parse(text), 'what arrived does not parse');
  t.match(logged.join(''), /page 4 could not be read/, 'the error is logged');
});

t.test('an error before the first part is an error status', async (t) => {
  const { base } = await start(t);
  const res = await fetch(`${base}/items?fail=0`);
  t.equal(res.status, 500);
  t.match(await res.json(), { message: 'page 0 could not be read' });
});
