// Real child processes for the end-to-end suite: the built programs, over loopback only.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');

export const BIN = {
  server: path.join(REPO_ROOT, 'packages/staging-server/bin/patchbay-server.js'),
  client: path.join(REPO_ROOT, 'packages/client-daemon/bin/patchbay-client.js'),
  upstream: path.join(REPO_ROOT, 'packages/sample-feed/bin/patchbay-upstream.js'),
  sampleFeed: path.join(REPO_ROOT, 'packages/sample-feed/bin/patchbay-sample-feed.js'),
} as const;

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Run a program to completion and capture its output. */
export async function run(
  bin: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<RunResult> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 60_000);
  const [code] = (await once(child, 'exit')) as [number | null];
  clearTimeout(timer);
  return { code, stdout, stderr };
}

/** Run with --json and parse stdout; fails loudly with the program's stderr when it is not JSON. */
export async function runJson<T = unknown>(
  bin: string,
  args: readonly string[],
  opts: Parameters<typeof run>[2] = {},
): Promise<RunResult & { json: T }> {
  const result = await run(bin, [...args, '--json'], opts);
  let json: T;
  try {
    json = JSON.parse(result.stdout) as T;
  } catch {
    throw new Error(
      `${path.basename(bin)} ${args.join(' ')} --json printed no JSON (exit ${result.code})\nstdout: ${result.stdout}\nstderr: ${result.stderr}`,
    );
  }
  return { ...result, json };
}

export interface LongRunning {
  url: string;
  child: ChildProcess;
  stderr: () => string;
  /** SIGTERM, then SIGKILL after 5 s; resolves with the exit code */
  stop: () => Promise<number | null>;
}

/**
 * Start a long-running program that prints one JSON line `{"url": ...}` on stdout once it
 * listens (patchbay-server serve --json, patchbay-upstream --json).
 */
export async function startListening(
  bin: string,
  args: readonly string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {},
): Promise<LongRunning> {
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env: { ...process.env, PATCHBAY_LOG_LEVEL: 'warn', ...opts.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const lines = createInterface({ input: child.stdout! });
  const url = await new Promise<string>((resolve, reject) => {
    // On a loaded machine a start can be slow; one that never reports is killed, or its
    // pipes would keep the test process (and tap's file timeout) waiting.
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${path.basename(bin)} did not report its URL in time\n${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${path.basename(bin)} exited with ${code} before listening\n${stderr}`));
    });
    lines.on('line', (line) => {
      try {
        const parsed = JSON.parse(line) as { url?: string };
        if (parsed.url) {
          clearTimeout(timer);
          resolve(parsed.url.replace(/\/$/, ''));
        }
      } catch {
        // not the URL line
      }
    });
  });
  const stop = async (): Promise<number | null> => {
    if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
    const exited = once(child, 'exit') as Promise<[number | null]>;
    child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
    const [code] = await exited;
    clearTimeout(killer);
    return code;
  };
  return { url, child, stderr: () => stderr, stop };
}

/** Poll until `check` resolves truthy, or fail with `what` after timeoutMs. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await check();
      if (value) return value;
    } catch (err) {
      lastError = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}
