// Runs patchbay-server (`sync` or `serve`) as a child process, follows its pino log lines to
// know how far it got, and kills it with SIGKILL at the moment a kill plan picks.
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createInterface } from 'node:readline';
import type { SyncReport } from '@patchbay/staging-server';
import { BIN, REPO_ROOT } from '../helpers/processes.js';

export type KillPlan =
  /** ms after spawn: start-up, the feed fetch, early downloads */
  | { kind: 'early'; delayMs: number }
  /** ms after the sync logged which files it fetches: in the middle of the downloads */
  | { kind: 'download'; delayMs: number }
  /** ms after the last file was stored: holding back, building, signing, publishing */
  | { kind: 'publish'; delayMs: number }
  /** ms after 'catalog published': current.json switched, the report being stored */
  | { kind: 'after-publish'; delayMs: number }
  /** no timed kill: the process dies at this failpoint (PATCHBAY_FAILPOINTS) */
  | { kind: 'failpoint'; name: string };

/** How far the killed process got, from its last log lines. */
export type Phase = 'startup' | 'feed' | 'download' | 'publish' | 'after-publish' | 'finished';

export interface KilledRun {
  phase: Phase;
  /** killed by a signal (ours or a failpoint's); false when it exited by itself first */
  killed: boolean;
  /** the log showed 'sync started' (so its 'running' report had been stored) */
  syncStarted: boolean;
  /**
   * the log showed the sync started and not its end. Only what the log showed: pino writes
   * asynchronously, so the last lines before a SIGKILL can be lost while the process was
   * further on; judge the sync by the stored report (judgeSyncCut), not by this.
   */
  midSync: boolean;
  failpointHit: string | undefined;
  stderr: string;
}

interface LogLine {
  msg?: string;
  level?: number;
  files?: number;
}

/**
 * Spawn `patchbay-server --config CONFIG --json COMMAND` with debug logs on and kill it as
 * `plan` says. Resolves once the process is gone.
 */
export async function runAndKill(
  config: string,
  command: 'sync' | 'serve',
  plan: KillPlan,
  timeoutMs = 60_000,
): Promise<KilledRun> {
  const env: NodeJS.ProcessEnv = { ...process.env, PATCHBAY_LOG_LEVEL: 'debug' };
  if (plan.kind === 'failpoint') env.PATCHBAY_FAILPOINTS = plan.name;
  else delete env.PATCHBAY_FAILPOINTS;
  const child = spawn(process.execPath, [BIN.server, '--config', config, '--json', command], {
    cwd: REPO_ROOT,
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  // 'close', not 'exit': every log line has been read by then.
  const exited = once(child, 'close');
  let stderr = '';
  let phase: Phase = 'startup';
  let started = false;
  let finished = false;
  let filesToFetch = -1;
  let stored = 0;
  let failpointHit: string | undefined;
  let timer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const killAfter = (ms: number): void => {
    if (timer === undefined) timer = setTimeout(kill, ms);
  };
  const safety = setTimeout(kill, timeoutMs);
  if (plan.kind === 'early') killAfter(plan.delayMs);

  createInterface({ input: child.stderr! }).on('line', (line) => {
    stderr += `${line}\n`;
    const hit = /^failpoint (\S+): SIGKILL$/.exec(line);
    if (hit) failpointHit = hit[1];
    let entry: LogLine;
    try {
      entry = JSON.parse(line) as LogLine;
    } catch {
      return;
    }
    switch (entry.msg) {
      case 'sync started':
        started = true;
        phase = 'feed';
        break;
      case 'files to fetch':
        filesToFetch = entry.files ?? 0;
        phase = filesToFetch > 0 ? 'download' : 'publish';
        if (plan.kind === 'download') killAfter(filesToFetch > 0 ? plan.delayMs : 0);
        if (plan.kind === 'publish' && filesToFetch === 0) killAfter(plan.delayMs);
        break;
      case 'blob stored':
        stored += 1;
        if (stored === filesToFetch) {
          phase = 'publish';
          if (plan.kind === 'publish') killAfter(plan.delayMs);
        }
        break;
      case 'catalog published':
        phase = 'after-publish';
        if (plan.kind === 'after-publish') killAfter(plan.delayMs);
        break;
      case 'sync finished':
        // sync-run logs it first, then the report is stored (serve logs it once more after).
        if (started) {
          finished = true;
          phase = 'finished';
        }
        // serve goes on serving: a kill planned for a moment that never came lands now.
        if (command === 'serve') killAfter(50);
        break;
      default:
    }
  });
  const [code, signal] = (await exited) as [number | null, NodeJS.Signals | null];
  clearTimeout(timer);
  clearTimeout(safety);
  void code;
  return {
    phase,
    killed: signal === 'SIGKILL',
    syncStarted: started,
    midSync: started && !finished,
    failpointHit,
    stderr,
  };
}

/** What a kill did to the sync in progress, judged from the durable report, not the log. */
export interface SyncCut {
  /** the stored report is still 'running': the restart must say the sync was interrupted */
  interrupted: boolean;
  /** a report newer than the one stored before this run is on disk */
  newReportStored: boolean;
  /** the log stopped before 'sync finished' though the finished report was stored: lines lost */
  logBehind: boolean;
}

/**
 * `before` and `after`: the last sync report stored in state.sqlite before the run and right
 * after the kill (storedLastSync). The log is a lower bound on progress, never an upper one.
 */
export function judgeSyncCut(
  run: Pick<KilledRun, 'killed' | 'midSync'>,
  before: Pick<SyncReport, 'startedAt' | 'outcome'> | undefined,
  after: Pick<SyncReport, 'startedAt' | 'outcome'> | undefined,
): SyncCut {
  const newReportStored = after !== undefined && after.startedAt !== before?.startedAt;
  const interrupted = run.killed && after?.outcome === 'running';
  return { interrupted, newReportStored, logBehind: run.midSync && newReportStored && !interrupted };
}
