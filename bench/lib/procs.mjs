// Child processes for the benchmark: the programs under test, the baselines and the load
// generators all run as separate processes, so a figure never includes the harness's own work.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const BIN = {
  server: path.join(REPO_ROOT, 'packages/staging-server/bin/patchbay-server.js'),
  client: path.join(REPO_ROOT, 'packages/client-daemon/bin/patchbay-client.js'),
  upstream: path.join(REPO_ROOT, 'packages/sample-feed/bin/patchbay-upstream.js'),
};

/** Peak and current resident set of a live process, in bytes, from /proc (Linux only). */
export function memoryOf(pid) {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const kb = (key) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
    return { peak: kb('VmHWM'), current: kb('VmRSS') };
  } catch {
    return { peak: NaN, current: NaN };
  }
}

/** CPU time (user + system) a live process has used, in seconds, from /proc (Linux only). */
export function cpuSecondsOf(pid) {
  try {
    // the fields after the command name, which is in parentheses and may hold spaces
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return NaN;
  }
}
/** USER_HZ: what /proc/<pid>/stat counts in; 100 on every Linux port node runs on */
const CLOCK_TICKS = 100;

/** A process and all its descendants (nginx's workers, PostgreSQL's backends), from /proc. */
export function processTree(pid) {
  const pids = [pid];
  for (let i = 0; i < pids.length; i++) {
    try {
      const children = readFileSync(`/proc/${pids[i]}/task/${pids[i]}/children`, 'utf8').trim();
      if (children) pids.push(...children.split(/\s+/).map(Number));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

/** memoryOf summed over a process tree: each process's own peak, so an upper bound. */
export function treeMemoryOf(pid) {
  const tree = processTree(pid).map(memoryOf);
  const sum = (key) => tree.reduce((total, m) => total + (Number.isFinite(m[key]) ? m[key] : 0), 0);
  return { peak: sum('peak'), current: sum('current'), processes: tree.length };
}

/** cpuSecondsOf summed over a process tree (its live processes). */
export function treeCpuSecondsOf(pid) {
  return processTree(pid)
    .map(cpuSecondsOf)
    .reduce((total, s) => total + (Number.isFinite(s) ? s : 0), 0);
}

/**
 * Follow a process's peak RSS until it exits: VmHWM is read every 50 ms, so the last reading
 * before exit is the peak (the kernel keeps it, we cannot read it after the process is gone).
 */
export function watchPeakRss(pid) {
  let peak = 0;
  const read = () => {
    const { peak: now } = memoryOf(pid);
    if (Number.isFinite(now) && now > peak) peak = now;
  };
  read();
  const timer = setInterval(read, 50);
  return {
    peak: () => {
      read();
      return peak;
    },
    stop: () => {
      clearInterval(timer);
      read();
      return peak;
    },
  };
}

/** Run a program to completion; stdout and stderr are captured. */
export async function run(cmd, args, opts = {}) {
  const started = process.hrtime.bigint();
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const peak = opts.watchRss ? watchPeakRss(child.pid) : undefined;
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr += d.length < 1e6 ? d : ''));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
  const [code, signal] = await once(child, 'exit');
  clearTimeout(timer);
  const ms = Number(process.hrtime.bigint() - started) / 1e6;
  return { code, signal, stdout, stderr, ms, peakRss: peak?.stop() };
}

/** Like run, but a non-zero exit throws with the program's output. */
export async function runOk(cmd, args, opts = {}) {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new Error(
      `${path.basename(cmd)} ${args.join(' ').slice(0, 200)} exited ${result.code ?? result.signal}\n` +
        `${result.stdout.slice(-2000)}\n${result.stderr.slice(-4000)}`,
    );
  }
  return result;
}

/**
 * Start a long-running program. `ready` decides when it is up: by default the first stdout
 * line that is JSON with a `url` (patchbay-server serve --json, patchbay-upstream --json).
 */
export async function startLongRunning(cmd, args, opts = {}) {
  const child = spawn(cmd, args, {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  // Keep the tail only: a server logging at info writes a lot over a benchmark.
  child.stderr.setEncoding('utf8').on('data', (d) => (stderr = (stderr + d).slice(-20_000)));
  const script = args.find((a) => !a.startsWith('-'));
  const name = path.basename(script && cmd === process.execPath ? script : cmd);
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`${name} did not start in time\n${stderr}`)),
      opts.timeoutMs ?? 60_000,
    );
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before it was ready\n${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let parsed;
      try {
        parsed = JSON.parse(line);
      } catch {
        return;
      }
      if (parsed?.url) {
        clearTimeout(timer);
        resolve(parsed.url.replace(/\/$/, ''));
      }
    });
  });
  const stop = async () => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit');
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    const [code] = await exited;
    clearTimeout(killer);
    return code;
  };
  return { url, child, pid: child.pid, stderr: () => stderr, stop };
}

/** Poll until `check` resolves truthy, or fail naming `what`. */
export async function waitFor(what, check, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  let lastError;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${lastError.message}` : ''}`);
}
