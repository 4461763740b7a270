// Reads the Windows registry through `reg query`, for the registry, msiProduct and msiPatch
// detect rules. reg.exe rather than PowerShell or a native addon: it ships with every Windows
// Server, starts in milliseconds (powershell.exe takes most of a second, and execution policy or
// constrained language mode may refuse it on a hardened host), and a native addon would need a
// compiled binary per Node ABI and CPU that nothing here can build or test. reg.exe's text output
// is also what the Linux tests replay from fixtures, through a stand-in `reg` on PATH.
import { execFile } from 'node:child_process';
import { ErrorCodes, PatchbayError, systemToolPath } from '@patchbay/core';

export type RegView = '64' | '32';

export interface RegValue {
  /** as reg.exe prints it; the default value's name is "(Default)" (localized) */
  name: string;
  /** REG_SZ, REG_EXPAND_SZ, REG_MULTI_SZ, REG_DWORD, REG_QWORD, REG_BINARY, REG_NONE … */
  type: string;
  /** as reg.exe prints it: REG_DWORD/QWORD as 0x hex, REG_MULTI_SZ items joined by a literal \0 */
  data: string;
}

export interface RegKeyContents {
  /** the key's full name as reg.exe prints it (HKEY_LOCAL_MACHINE\…) */
  key: string;
  values: RegValue[];
  /** full names of the key's subkeys (only when no value was asked for) */
  subkeys: string[];
}

export interface RegQueryRequest {
  /** HKLM\… or HKEY_LOCAL_MACHINE\… */
  key: string;
  view: RegView;
  /** a value's name; "" is the key's default value (/ve); absent: the whole key */
  value?: string;
}

/** The key (or value) is not there: an answer, not an error. */
export type RegQueryAnswer = { found: false } | ({ found: true } & RegKeyContents);

export type RegQuery = (request: RegQueryRequest) => Promise<RegQueryAnswer>;

/** What reg.exe says, on stderr with exit 1, when the key or value does not exist (English). */
const NOT_FOUND = /unable to find the specified registry key or value/i;
/** The data /ve shows for a default value that was never set (English). */
const UNSET_DEFAULT = '(value not set)';
const VALUE_LINE = /^ {4}(.*?) {4}(REG_[A-Z0-9_]+)(?: {4}(.*))?$/;
const REG_TIMEOUT_MS = 30_000;
const REG_MAX_BUFFER = 4 * 1024 * 1024;
/** reg.exe processes at once: detect rules run 16 at a time, but each of these is a process. */
const REG_CONCURRENCY = 4;

/** reg.exe's argv for a request. */
function regQueryArgs(request: RegQueryRequest): string[] {
  const args = ['query', request.key];
  if (request.value === '') args.push('/ve');
  else if (request.value !== undefined) args.push('/v', request.value);
  args.push(`/reg:${request.view}`);
  return args;
}

/**
 * reg.exe's output: a blank line, the key's name, its values each on a line indented four spaces
 * (`NAME    TYPE    DATA`), then, for a whole key, a blank line and its subkeys' full names.
 * Anything else is refused: a reader that guessed could call a patch installed.
 */
export function parseRegQueryOutput(stdout: string): RegKeyContents {
  const lines = stdout.split(/\r?\n/);
  let key: string | undefined;
  const values: RegValue[] = [];
  const subkeys: string[] = [];
  for (const line of lines) {
    if (line.trim() === '') continue;
    const value = VALUE_LINE.exec(line);
    if (value) {
      if (key === undefined || subkeys.length > 0) throw new Error(`a value line outside a key: "${line}"`);
      values.push({ name: value[1]!, type: value[2]!, data: value[3] ?? '' });
      continue;
    }
    if (!/^HKEY_[A-Z_]+(\\|$)/.test(line)) throw new Error(`unexpected line: "${line.slice(0, 200)}"`);
    if (key === undefined) key = line;
    else subkeys.push(line);
  }
  if (key === undefined) throw new Error('no key line in the output');
  return { key, values, subkeys };
}

/** Where reg.exe is: System32's on Windows, by its full path (systemToolPath says why). */
export function regExecutable(platform: NodeJS.Platform, env: NodeJS.ProcessEnv): string {
  return systemToolPath('reg', platform, env);
}

function regError(
  request: RegQueryRequest,
  reason: string,
  extra: Record<string, unknown> = {},
): PatchbayError {
  const what = request.value === undefined ? request.key : `${request.key} value "${request.value}"`;
  return new PatchbayError(ErrorCodes.REGISTRY, `reg query ${what} (/reg:${request.view}): ${reason}`, {
    key: request.key,
    view: request.view,
    ...(request.value !== undefined ? { value: request.value } : {}),
    reason,
    ...extra,
  });
}

/** At most `limit` calls of `fn` running at once; the rest wait their turn in order. */
export function bounded<A, R>(limit: number, fn: (arg: A) => Promise<R>): (arg: A) => Promise<R> {
  let running = 0;
  const waiting: (() => void)[] = [];
  return async (arg) => {
    if (running >= limit) await new Promise<void>((resolve) => waiting.push(resolve));
    running++;
    try {
      return await fn(arg);
    } finally {
      running--;
      waiting.shift()?.();
    }
  };
}

export interface RegQueryOptions {
  /** default process.platform; only chooses which reg.exe runs */
  platform?: NodeJS.Platform;
  /** reg.exe's environment (default process.env): SystemRoot on Windows, PATH elsewhere */
  env?: NodeJS.ProcessEnv;
  /** how long one reg.exe may take (default 30 s) */
  timeoutMs?: number;
}

/**
 * `reg query` as a function. Outside Windows there is no reg.exe: a `reg` on PATH is used if one
 * is there (the tests' stand-in); when none is, every query fails at once with that reason,
 * without trying to start it again.
 */
export function createRegQuery(options: RegQueryOptions = {}): RegQuery {
  const platform = options.platform ?? process.platform;
  const env = options.env ?? process.env;
  const executable = regExecutable(platform, env);
  let missing: string | undefined;
  const run = (request: RegQueryRequest): Promise<RegQueryAnswer> =>
    new Promise((resolve, reject) => {
      if (missing) return reject(regError(request, missing));
      execFile(
        executable,
        regQueryArgs(request),
        {
          env,
          windowsHide: true,
          timeout: options.timeoutMs ?? REG_TIMEOUT_MS,
          maxBuffer: REG_MAX_BUFFER,
          encoding: 'utf8',
        },
        (err, stdout, stderr) => {
          const spawnCode = (err as NodeJS.ErrnoException | null)?.code;
          if (spawnCode === 'ENOENT') {
            missing = `no reg.exe on this host (${platform}): Windows registry and MSI rules cannot be evaluated`;
            return reject(regError(request, missing));
          }
          if (err) {
            const exitCode = typeof err.code === 'number' ? err.code : null;
            if (exitCode === 1 && NOT_FOUND.test(stderr)) return resolve({ found: false });
            const said = stderr.trim().split(/\r?\n/)[0] ?? '';
            const reason = err.killed
              ? `reg.exe timed out or was killed (${err.signal ?? 'no signal'})`
              : exitCode === null
                ? `reg.exe did not run: ${err.message}`
                : `reg.exe exited ${exitCode}${said ? `: ${said}` : ''}`;
            return reject(regError(request, reason, { exitCode }));
          }
          try {
            const contents = parseRegQueryOutput(stdout);
            // /ve on a key whose default value was never set still prints a line for it
            if (request.value === '')
              contents.values = contents.values.filter((v) => v.data !== UNSET_DEFAULT);
            resolve({ found: true, ...contents });
          } catch (parseErr) {
            reject(regError(request, `unreadable output: ${(parseErr as Error).message}`));
          }
        },
      );
    });
  return bounded(REG_CONCURRENCY, run);
}
