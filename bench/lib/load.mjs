// The two load generators behind one call. wrk (C, epoll) costs the least CPU per request and
// per byte, which matters on a 2-core machine where the generator shares the CPU with the
// server; autocannon (a devDependency) is the fallback that is always there. Each run is a
// separate process; the result is { tool, seconds, requests, bytes, errors, statuses, bad }
// (bad: answers with a status of 400 or more).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { run } from './procs.mjs';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'autocannon-worker.mjs');

/** @param {{url: string, paths: string[], connections: number, duration: number, headers?: Record<string,string>, tool: 'wrk'|'autocannon'}} spec */
export async function loadTest(spec) {
  return spec.tool === 'wrk' ? wrkRun(spec) : autocannonRun(spec);
}

export async function autocannonRun(spec) {
  const { tool: _tool, ...rest } = spec;
  const result = await run(process.execPath, [WORKER, JSON.stringify(rest)], {
    timeoutMs: ((spec.duration ?? 60) + 60) * 1000,
  });
  const line = result.stdout.trim().split('\n').pop();
  try {
    return JSON.parse(line);
  } catch {
    throw new Error(`autocannon worker failed (exit ${result.code}):\n${result.stderr.slice(-3000)}`);
  }
}

// wrk's Lua hooks: rotate the paths across requests, and print the summary as JSON at the end
// (wrk's own text output rounds the figures).
const WRK_SCRIPT = `
local paths = {}
local headers = {}
local counter = 0
function init(args)
  for i = 1, #args do
    local k, v = string.match(args[i], "^H:([^:]+):(.*)$")
    if k then headers[k] = v else paths[#paths + 1] = args[i] end
  end
end
function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter % #paths) + 1], headers)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('WRKJSON {"requests":%d,"bytes":%d,"us":%d,"errors":%d,"timeouts":%d,"non2xx3xx":%d,"p99us":%d}\\n',
    summary.requests, summary.bytes, summary.duration, e.connect + e.read + e.write, e.timeout, e.status,
    latency:percentile(99)))
end
`;

export async function wrkRun(spec) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'patchbay-wrk-'));
  try {
    const script = path.join(dir, 'rotate.lua');
    writeFileSync(script, WRK_SCRIPT);
    const headerArgs = Object.entries(spec.headers ?? {}).map(([k, v]) => `H:${k}:${v}`);
    // One thread: the second core is the server's. No response() hook: with one, wrk keeps
    // every body for Lua, which would make it the bottleneck on 16 MB blobs.
    const args = [
      '-t1',
      `-c${spec.connections}`,
      `-d${spec.duration}s`,
      '--timeout',
      '30s',
      '-s',
      script,
      spec.url,
      '--',
      ...spec.paths,
      ...headerArgs,
    ];
    const result = await run('wrk', args, { timeoutMs: (spec.duration + 60) * 1000 });
    const match = /WRKJSON (\{.*\})/.exec(result.stdout);
    if (!match) throw new Error(`wrk failed (exit ${result.code}):\n${result.stdout}\n${result.stderr}`);
    const summary = JSON.parse(match[1]);
    return {
      tool: 'wrk',
      seconds: summary.us / 1e6,
      requests: summary.requests,
      bytes: summary.bytes,
      errors: summary.errors + summary.timeouts,
      timeouts: summary.timeouts,
      // wrk counts statuses >= 400 as errors.status; anything else is 2xx or 3xx.
      statuses: { ok: summary.requests - summary.non2xx3xx },
      bad: summary.non2xx3xx,
      latencyP99Ms: summary.p99us / 1000,
    };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
