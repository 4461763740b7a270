// A seeded generator of hostile HTTP requests for the fuzz run, and a raw socket client that
// sends them byte for byte: a URL parser would normalise `..`, `%2e` and NUL away before
// the server ever saw them, which is exactly what the fuzz run must not let happen.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/** mulberry32: small, fast, and the same sequence for the same seed on every machine. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let x = state;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  readonly next: () => number;
  constructor(readonly seed: number) {
    this.next = seededRandom(seed);
  }
  int(maxExclusive: number): number {
    return Math.floor(this.next() * maxExclusive);
  }
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)] as T;
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
}

export interface RawRequest {
  /** which route family this request aims at, for the summary and for invariants */
  target: 'report' | 'blob' | 'client';
  method: string;
  /** sent exactly as written on the request line */
  rawPath: string;
  headers: Record<string, string>;
  body?: Buffer;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string>;
  body: Buffer;
}

/**
 * One request over its own socket with `Connection: close`; the response is read to EOF.
 * The request line is written as bytes (latin1 for the path, so NUL and raw UTF-8 bytes
 * go out unchanged).
 */
export async function sendRaw(
  host: string,
  port: number,
  req: RawRequest,
  timeoutMs = 10_000,
): Promise<RawResponse> {
  // A server that refuses a request before reading its body closes with unread bytes, so its
  // kernel sends RST, and an RST can discard the answer before the client reads it (0 bytes).
  // That is TCP, not the server: such a request is sent again (twice at most), the body held
  // back until the server has had a moment to answer early (as a client waiting on
  // `Expect: 100-continue` does; RFC 9110 lets a server answer before the body), so an early
  // refusal is read whole; a server that never answers it still fails.
  for (let attempt = 1; ; attempt += 1) {
    const outcome = await sendRawOnce(host, port, req, timeoutMs, attempt > 1 ? EARLY_ANSWER_WAIT_MS : 0);
    if (outcome !== RESET_BEFORE_ANSWER) return outcome;
    if (attempt >= 3) {
      throw new Error(
        `no complete HTTP response (reset before any byte, ${attempt} times) for ${req.method} ${JSON.stringify(req.rawPath.slice(0, 200))}`,
      );
    }
  }
}

const RESET_BEFORE_ANSWER = Symbol('reset before any byte of an answer');
/** How long a resent request waits for an early answer before it sends its body. */
const EARLY_ANSWER_WAIT_MS = 300;

function sendRawOnce(
  host: string,
  port: number,
  req: RawRequest,
  timeoutMs: number,
  bodyDelayMs: number,
): Promise<RawResponse | typeof RESET_BEFORE_ANSWER> {
  let reset = false;
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(
        new Error(
          `no response within ${timeoutMs} ms to ${req.method} ${JSON.stringify(req.rawPath.slice(0, 200))}`,
        ),
      );
    }, timeoutMs);
    socket.on('connect', () => {
      const headers: Record<string, string> = {
        host: `${host}:${port}`,
        connection: 'close',
        ...req.headers,
      };
      if (req.body !== undefined) headers['content-length'] = String(req.body.length);
      const head =
        `${req.method} ${req.rawPath} HTTP/1.1\r\n` +
        Object.entries(headers)
          .map(([k, v]) => `${k}: ${v}\r\n`)
          .join('') +
        '\r\n';
      socket.write(Buffer.from(head, 'latin1'));
      const body = req.body;
      if (body === undefined) return;
      if (bodyDelayMs === 0) socket.write(body);
      else {
        // an answer (or close) before the delay means the server refused without the body
        const delay = setTimeout(() => socket.write(body), bodyDelayMs);
        socket.once('data', () => clearTimeout(delay));
        socket.once('close', () => clearTimeout(delay));
      }
    });
    socket.on('data', (d: Buffer) => chunks.push(d));
    // The server may answer (400, 413) and close before it read the whole body: that is fine.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      // EPIPE too: our body write met the server's close, and the RST that follows can drop its answer.
      if (err.code === 'EPIPE' || err.code === 'ECONNRESET') {
        reset = true;
        return;
      }
      clearTimeout(timer);
      reject(err);
    });
    socket.on('close', () => {
      clearTimeout(timer);
      if (reset && chunks.length === 0 && req.body !== undefined) {
        resolve(RESET_BEFORE_ANSWER);
        return;
      }
      try {
        resolve(parseResponse(Buffer.concat(chunks), req.method === 'HEAD'));
      } catch (err) {
        reject(
          new Error(
            `${(err as Error).message} for ${req.method} ${JSON.stringify(req.rawPath.slice(0, 200))}`,
          ),
        );
      }
    });
  });
}

function parseResponse(raw: Buffer, head: boolean): RawResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no complete HTTP response (${raw.length} bytes received)`);
  const lines = raw.subarray(0, split).toString('latin1').split('\r\n');
  const statusMatch = /^HTTP\/1\.[01] (\d{3})/.exec(lines[0] ?? '');
  if (!statusMatch) throw new Error(`bad status line ${JSON.stringify(lines[0])}`);
  const headers: Record<string, string> = {};
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = head ? Buffer.alloc(0) : raw.subarray(split + 4);
  if (!head && headers['transfer-encoding']?.toLowerCase() === 'chunked') body = dechunk(body);
  return { status: Number(statusMatch[1]), headers, body };
}

function dechunk(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let offset = 0;
  for (;;) {
    const eol = data.indexOf('\r\n', offset);
    if (eol < 0) break;
    const size = parseInt(data.subarray(offset, eol).toString('latin1'), 16);
    if (!Number.isFinite(size) || size === 0) break;
    parts.push(data.subarray(eol + 2, eol + 2 + size));
    offset = eol + 2 + size + 2;
  }
  return Buffer.concat(parts);
}

/** The contract's error shape (CONTRACT §2), or the reason it is not. */
export function errorShapeProblem(res: RawResponse): string | null {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    return `body is not JSON: ${JSON.stringify(res.body.toString('utf8').slice(0, 200))}`;
  }
  const body = parsed as { statusCode?: unknown; error?: unknown; message?: unknown };
  if (body === null || typeof body !== 'object') return 'body is not an object';
  if (body.statusCode !== res.status) return `statusCode ${String(body.statusCode)} != ${res.status}`;
  if (typeof body.error !== 'string') return 'no string "error"';
  if (typeof body.message !== 'string') return 'no string "message"';
  return null;
}

// ---------------------------------------------------------------- hostile values

const NASTY_STRINGS = [
  '',
  ' ',
  '\u0000',
  'a\u0000b',
  '../../../../etc/passwd',
  '..\\..\\windows\\win.ini',
  '%2e%2e%2f%2e%2e%2f',
  '\u202e\u0645\u0631\u062d\u0628\u0627',
  '𝕡𝕒𝕥𝕔𝕙',
  '\ud800',
  '<script>alert(1)</script>',
  "'; DROP TABLE events; --",
  '${jndi:ldap://127.0.0.1/x}',
  '{{7*7}}',
  '\r\nX-Injected: 1',
  'CON',
  'x'.repeat(300),
];

function nastyValue(rng: Rng, depth = 0): unknown {
  switch (rng.int(14)) {
    case 0:
      return rng.pick(NASTY_STRINGS);
    case 1:
      return 'x'.repeat(rng.pick([1000, 65_536, 300_000]));
    case 2:
      return rng.pick([1e308, -1e308, 2 ** 53 + 1, -0, 0.5, -1, 1e21, 1e-320]);
    case 3:
      return rng.pick([null, true, false]);
    case 4:
      return [];
    case 5:
      return {};
    case 6:
      return depth > 2 ? null : [nastyValue(rng, depth + 1), nastyValue(rng, depth + 1)];
    case 7:
      return depth > 2 ? null : { [rng.pick(NASTY_STRINGS)]: nastyValue(rng, depth + 1) };
    case 8:
      return deepNest(rng.pick([50, 300]), rng.chance(0.5));
    case 9:
      return JSON.parse(
        '{"__proto__":{"polluted":true},"constructor":{"prototype":{"polluted":true}}}',
      ) as unknown;
    case 10:
      return rng.int(2 ** 31);
    case 11:
      return new Date(rng.int(2 ** 42)).toISOString();
    case 12:
      return String.fromCodePoint(
        ...Array.from({ length: 40 }, () => rng.int(0x10ffff)).filter((c) => c < 0xd800 || c > 0xdfff),
      );
    default:
      return rng.pick(['2026-13-45T99:99:99Z', 'yesterday', '0000-00-00T00:00:00Z', '9999-12-31T23:59:59Z']);
  }
}

function deepNest(depth: number, arrays: boolean): unknown {
  let value: unknown = 0;
  for (let i = 0; i < depth; i++) value = arrays ? [value] : { a: value };
  return value;
}

/** A valid report for `hostId`, with `seq` numbers from `seqBase`. */
export function validReport(hostId: string, seqBase: number): Record<string, unknown> {
  const now = new Date().toISOString();
  return {
    hostId,
    hostname: `${hostId}.corp`,
    daemonVersion: '0.1.0',
    platform: 'linux',
    reportedAt: now,
    products: [{ id: 'arcserve-backup', release: '19.0' }],
    patches: [{ id: 'T5KB0201', state: 'installed', since: now }],
    events: [{ seq: seqBase, type: 'install', patchId: 'T5KB0201', at: now, outcome: 'ok', message: '' }],
  };
}

/** Mutate one or more places of a JSON document: set, delete, retype, or add a key. */
function mutate(rng: Rng, doc: unknown, steps: number): unknown {
  const copy = structuredClone(doc) as Record<string, unknown>;
  for (let i = 0; i < steps; i++) {
    // walk to a random container
    let container: Record<string, unknown> | unknown[] = copy;
    for (let d = 0; d < 3 && rng.chance(0.6); d++) {
      const keys = Object.keys(container);
      if (keys.length === 0) break;
      const child = (container as Record<string, unknown>)[rng.pick(keys)];
      if (child === null || typeof child !== 'object') break;
      container = child as Record<string, unknown>;
    }
    const keys = Object.keys(container);
    const key =
      keys.length > 0 && rng.chance(0.8) ? rng.pick(keys) : rng.pick(NASTY_STRINGS.concat(['extra', 'seq']));
    if (rng.chance(0.2)) delete (container as Record<string, unknown>)[key];
    else (container as Record<string, unknown>)[key] = nastyValue(rng);
  }
  return copy;
}

// ---------------------------------------------------------------- hostile path parts

const SEGMENT_ATTACKS = [
  '..',
  '.',
  '...',
  '%2e%2e',
  '%2E%2E',
  '.%2e',
  '%2e.',
  '..%2f..%2f..%2fetc%2fpasswd',
  '..%5c..%5cwindows',
  '%252e%252e%252f',
  '..%00',
  '%00',
  'a%00b',
  '..%c0%af..%c0%af',
  '%c0%ae%c0%ae',
  '%ef%bc%8e%ef%bc%8e',
  '%e2%80%ae',
  '%ff%fe',
  '%',
  '%zz',
  '~',
  '~root',
  'CON',
  'nul',
  'a;b',
  'a?b=1',
  'a#b',
  '\\..\\..\\',
  '//',
  'host-a/../../..',
  '..;/',
  '%3F',
  '%23',
  '%20',
  '+',
];

/** Raw bytes that a URL parser would reject or rewrite; sent as-is on the socket. */
const RAW_BYTES = ['\u0000', '\u00ff', '\u00c3\u00a9', '\t', '\u007f', '\u00e2\u0080\u00ae'];

/** Percent-encode every byte of the UTF-8 form (encodeURIComponent throws on lone surrogates). */
function percentEncode(value: string): string {
  return [...Buffer.from(value, 'utf8')].map((b) => `%${b.toString(16).padStart(2, '0')}`).join('');
}

function hostileSegment(rng: Rng): string {
  switch (rng.int(7)) {
    case 0:
    case 1:
      return rng.pick(SEGMENT_ATTACKS);
    case 2:
      return rng.pick(SEGMENT_ATTACKS) + '/' + rng.pick(SEGMENT_ATTACKS);
    case 3:
      return 'h'.repeat(rng.pick([254, 1024, 10 * 1024]));
    case 4:
      return `host-${rng.int(1000)}${rng.pick(RAW_BYTES)}x`;
    case 5:
      return percentEncode(rng.pick(NASTY_STRINGS));
    default:
      return (
        `..%2f`.repeat(rng.int(20) + 1) + rng.pick(['etc%2fpasswd', 'staging-server.json', 'canary.txt'])
      );
  }
}

function hostileDigest(rng: Rng, knownDigests: readonly string[]): string {
  const known = knownDigests.length > 0 ? rng.pick(knownDigests) : 'a'.repeat(64);
  switch (rng.int(9)) {
    case 0:
      return known.toUpperCase();
    case 1:
      return known + rng.pick(['', '/', '/..', '%00', '.sig', '/../../../staging-server.json']);
    case 2:
      return known.slice(0, rng.int(64));
    case 3:
      return known.repeat(rng.pick([2, 20, 200]));
    case 4:
      return '%2e%2e/'.repeat(rng.int(8) + 1) + rng.pick(['staging-server.json', 'etc/passwd', 'canary.txt']);
    case 5:
      return `${known.slice(0, 2)}/${known}`;
    case 6:
      return `%${known.slice(0, 62)}`;
    case 7:
      return known.slice(0, 63) + rng.pick(RAW_BYTES);
    default:
      return hostileSegment(rng);
  }
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'text/plain',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'application/xml',
  '',
  'application/json, text/plain',
  'application/\u0000json',
];

export interface GeneratorInput {
  rng: Rng;
  /** digests of blobs the mirror really has */
  knownDigests: readonly string[];
}

/** One hostile request, chosen and shaped by the seeded generator. */
export function generateRequest({ rng, knownDigests }: GeneratorInput): RawRequest {
  const roll = rng.int(10);
  if (roll < 5) return reportRequest(rng);
  if (roll < 8) {
    return {
      target: 'blob',
      method: rng.chance(0.7) ? 'GET' : 'HEAD',
      rawPath: `/v1/blobs/sha256/${hostileDigest(rng, knownDigests)}`,
      headers: rng.chance(0.2)
        ? { range: rng.pick(['bytes=0-0', 'bytes=-1', 'bytes=99999999999-', 'bytes=a-b']) }
        : {},
    };
  }
  return {
    target: 'client',
    method: rng.chance(0.8) ? 'GET' : 'HEAD',
    rawPath: `/v1/clients/${hostileSegment(rng)}`,
    headers: {},
  };
}

let seq = 1;

function reportRequest(rng: Rng): RawRequest {
  const goodHost = `fuzz-host-${rng.int(50)}`;
  const pathHost = rng.chance(0.6) ? goodHost : hostileSegment(rng);
  const report = validReport(goodHost, seq++);
  let body: Buffer;
  switch (rng.int(9)) {
    case 0:
      body = Buffer.from(
        rng.pick(['', '{', 'null', '[]', '"x"', '1e999', '{"hostId":', '\u0000', 'undefined']),
      );
      break;
    case 1:
      body = Buffer.from(JSON.stringify(nastyValue(rng)));
      break;
    case 2:
      // arrays where objects belong (and the reverse)
      body = Buffer.from(
        JSON.stringify({
          ...report,
          products: { id: 'arcserve-backup' },
          patches: rng.chance(0.5) ? {} : [[]],
          events: [[1, 2]],
        }),
      );
      break;
    case 3:
      body = Buffer.from(
        JSON.stringify(report).replace(
          /"hostId":"[^"]*"/,
          `"hostId":"${rng.pick(['a\\u0000b', '..', '../x', ''])}"`,
        ),
      );
      break;
    case 7:
      // nesting far deeper than any object the generator builds, as raw JSON text
      body = Buffer.from(
        rng.chance(0.5)
          ? '['.repeat(100_000) + ']'.repeat(100_000)
          : '{"a":'.repeat(50_000) + '1' + '}'.repeat(50_000),
      );
      break;
    case 4:
      // random bytes
      body = Buffer.from(Array.from({ length: rng.int(2000) }, () => rng.int(256)));
      break;
    default:
      body = Buffer.from(JSON.stringify(mutate(rng, report, rng.int(4) + 1)));
  }
  const contentType = rng.chance(0.7) ? 'application/json' : rng.pick(CONTENT_TYPES);
  const headers: Record<string, string> = {};
  if (contentType !== '') headers['content-type'] = contentType;
  return {
    target: 'report',
    method: rng.chance(0.95) ? 'PUT' : rng.pick(['POST', 'PATCH', 'DELETE']),
    rawPath: `/v1/clients/${pathHost}/report`,
    headers,
    body,
  };
}

// ---------------------------------------------------------------- file system snapshots

export type Snapshot = Map<string, string>;

/** Every path under `root` (except the `skip` subtrees) with its size and mtime. */
export function snapshotTree(root: string, skip: readonly string[] = []): Snapshot {
  const out: Snapshot = new Map();
  const walk = (dir: string): void => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (skip.some((s) => full === s)) continue;
      const stat = fs.lstatSync(full);
      out.set(path.relative(root, full), entry.isDirectory() ? 'dir' : `${stat.size}:${stat.mtimeMs}`);
      if (entry.isDirectory()) walk(full);
    }
  };
  walk(root);
  return out;
}

/** Paths added, removed or changed between two snapshots. */
export function diffSnapshots(before: Snapshot, after: Snapshot): string[] {
  const changes: string[] = [];
  for (const [p, v] of after) {
    if (!before.has(p)) changes.push(`added ${p}`);
    else if (before.get(p) !== v && v !== 'dir') changes.push(`changed ${p}`);
  }
  for (const p of before.keys()) if (!after.has(p)) changes.push(`removed ${p}`);
  return changes;
}
