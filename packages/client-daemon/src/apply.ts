import {
  ErrorCodes,
  dependantsWithin,
  errorMessage,
  failpoint,
  installedDependants,
  isPatchbayError,
} from '@patchbay/core';
import type { FeedFile, FeedPatch } from '@patchbay/core';
import { downloadPatchFiles, removeStaging, stagePatchFiles } from './downloader.js';
import type { PatchDownload } from './downloader.js';
import { detectInstalled } from './inventory.js';
import { DEFAULT_TIMEOUT_SECONDS, runPatchCommand } from './installer.js';
import type { Ledger } from './ledger.js';
import { flushReports } from './reporter.js';
import type { FlushResult } from './reporter.js';
import type { HostScan } from './scan.js';
import type { Session } from './session.js';

/** One line of `install --json` / `uninstall --json` / `download --json` (CONTRACT §3). */
export interface ActionResult {
  id: string;
  /** postponed: the installer asked to be run again later (retryExitCodes); not a failure */
  outcome: 'ok' | 'failed' | 'skipped' | 'postponed';
  message: string;
}

/** Result message for work a stopping daemon left undone (not a failure: nothing is recorded). */
const STOPPED = 'not finished: patchbay-client is stopping (a partial download is kept for resume)';

function isStopAbort(err: unknown): boolean {
  return isPatchbayError(err, ErrorCodes.ABORTED);
}

export interface ApplyOptions {
  /** checked between patches: the daemon stops after the current step, never mid-install */
  shouldStop?: () => boolean;
}

/** Reports right after each state change; after one fails, the rest wait for the final flush. */
class ReportPacer {
  private reachable = true;
  constructor(
    private readonly session: Session,
    private readonly ledger: Ledger,
  ) {}

  async afterChange(): Promise<void> {
    if (!this.reachable) return;
    const res = await this.flush();
    this.reachable = res.delivered;
  }

  flush(): Promise<FlushResult> {
    return flushReports({
      config: this.session.config,
      ledger: this.ledger,
      dispatcher: this.session.dispatcher,
      logger: this.session.logger,
      timeoutMs: this.session.config.timeoutSeconds * 1000,
      token: this.session.token,
      catalog: this.session.catalogSource.state,
    });
  }
}

export function createPacer(session: Session, ledger: Ledger): ReportPacer {
  return new ReportPacer(session, ledger);
}

function progressPrinter(
  session: Session,
): ((file: FeedFile, received: number, total: number) => void) | undefined {
  // a bar on a terminal stderr only (not --json/--quiet); see output.ts
  return session.out.transferProgress();
}

/** A crash point, armed by its name or by `<name>:<patchId>` (to hit one patch in particular). */
function crashPoint(name: string, patchId: string): void {
  failpoint(name);
  failpoint(`${name}:${patchId}`);
}

/** Progress hook that is also where the download crash points sit (bytes on disk, not yet committed). */
function progressHook(
  patchId: string,
  print: ((file: FeedFile, received: number, total: number) => void) | undefined,
): (file: FeedFile, received: number, total: number) => void {
  return (file, received, total) => {
    if (received >= total) crashPoint('download:before-commit', patchId);
    else if (received * 2 >= total) crashPoint('download:mid-body', patchId);
    print?.(file, received, total);
  };
}

/** Download one patch's files, recording a download event when bytes were fetched or it failed. */
export async function downloadWithEvent(
  session: Session,
  ledger: Ledger,
  patch: FeedPatch,
): Promise<PatchDownload> {
  try {
    const result = await downloadPatchFiles(patch, {
      upstreams: session.upstreams,
      store: session.store,
      dispatcher: session.dispatcher,
      retries: session.config.retries,
      stallTimeoutMs: session.config.timeoutSeconds * 1000,
      logger: session.logger,
      freeSpaceMarginBytes: session.config.cache.freeSpaceMarginBytes,
      onProgress: progressHook(patch.id, progressPrinter(session)),
      ...(session.stopSignal ? { signal: session.stopSignal } : {}),
    });
    crashPoint('download:before-event', patch.id);
    if (result.bytesFetched > 0) {
      ledger.noteCached(patch.id);
      await ledger.recordOutcome(
        patch.id,
        undefined,
        {
          type: 'download',
          outcome: 'ok',
          message: `${patch.files.length} file(s), ${result.bytesFetched} bytes`,
        },
        ledger.observed[patch.id]?.state === 'available' ? 'downloaded' : undefined,
      );
    }
    return result;
  } catch (err) {
    // stopped on request: nothing failed, the partial waits for the next run
    if (isStopAbort(err)) throw err;
    await ledger.recordOutcome(patch.id, undefined, {
      type: 'download',
      outcome: 'failed',
      message: errorMessage(err),
    });
    throw err;
  }
}

/** Download the selected patches and their missing requirements into the cache. */
export async function downloadPlanned(
  session: Session,
  ledger: Ledger,
  scan: HostScan,
  order: readonly FeedPatch[],
): Promise<ActionResult[]> {
  const pacer = createPacer(session, ledger);
  const results: ActionResult[] = [];
  for (const patch of order) {
    if (scan.known.downloaded.has(patch.id)) {
      results.push({ id: patch.id, outcome: 'skipped', message: 'already in the cache' });
      continue;
    }
    if (session.stopSignal?.aborted) {
      results.push({ id: patch.id, outcome: 'skipped', message: STOPPED });
      continue;
    }
    try {
      const res = await downloadWithEvent(session, ledger, patch);
      results.push({ id: patch.id, outcome: 'ok', message: `${res.bytesFetched} bytes` });
    } catch (err) {
      const stopped = isStopAbort(err);
      results.push({
        id: patch.id,
        outcome: stopped ? 'skipped' : 'failed',
        message: stopped ? STOPPED : errorMessage(err),
      });
    }
    await pacer.afterChange();
  }
  return results;
}

/**
 * What applyOne did: message '' on success, else the reason; output = the command's last
 * lines. `postponed`: the exit code was a retry code (message says so); `rebootCode`: a
 * reboot code ended a success.
 */
interface Applied {
  message: string;
  output?: string;
  postponed?: boolean;
  rebootCode?: number;
}

/**
 * Run one patch command end to end: files (downloaded as needed, staged, re-verified),
 * the argv, then the detect rule to confirm.
 */
async function applyOne(
  session: Session,
  ledger: Ledger,
  patch: FeedPatch,
  action: 'install' | 'uninstall',
): Promise<Applied> {
  const spec = action === 'install' ? patch.install : patch.uninstall;
  if (!spec) return { message: `patch ${patch.id} has no uninstaller` };
  let stagingDir: string | undefined;
  try {
    const { files: blobs } = await downloadWithEvent(session, ledger, patch);
    const staged = await stagePatchFiles(patch, blobs, session.paths.staging, session.store);
    stagingDir = staged.dir;
    await ledger.markPending(patch.id, action);
    crashPoint(`${action}:before-run`, patch.id);
    const timeoutMs = (spec.timeoutSeconds ?? DEFAULT_TIMEOUT_SECONDS) * 1000;
    let pidNoted: Promise<void> = Promise.resolve();
    const outcome = await runPatchCommand(patch, action, spec, {
      config: session.config,
      files: staged.files,
      cwd: staged.dir,
      logsDir: session.paths.logs,
      // a crash now leaves the command running: the next start waits for it (crash-recovery.ts)
      onSpawn: (pid) => {
        pidNoted = ledger
          .notePendingProcess(patch.id, pid, timeoutMs)
          .then(() => crashPoint(`${action}:while-running`, patch.id));
      },
    });
    await pidNoted;
    crashPoint(`${action}:after-run`, patch.id);
    if (outcome.kind === 'retry') return { message: outcome.message, postponed: true };
    if (outcome.kind === 'failure')
      return outcome.output
        ? { message: outcome.message, output: outcome.output }
        : { message: outcome.message };
    const detected = await detectInstalled(patch, session);
    if (action === 'install' && detected === false) {
      return {
        message: `install ${patch.id}: the command succeeded but the detect rule says it is not installed (log: ${outcome.logPath})`,
      };
    }
    if (action === 'uninstall' && detected === true) {
      return {
        message: `uninstall ${patch.id}: the command succeeded but the detect rule says it is still installed (log: ${outcome.logPath})`,
      };
    }
    return outcome.kind === 'reboot' && outcome.result.exitCode !== null
      ? { message: '', rebootCode: outcome.result.exitCode }
      : { message: '' };
  } catch (err) {
    if (isStopAbort(err)) return { message: STOPPED };
    return { message: `${action} ${patch.id}: ${errorMessage(err)}` };
  } finally {
    if (stagingDir) await removeStaging(stagingDir);
  }
}

/**
 * A retry exit code: not a failure. The patch's state stays as it was (never `failed`), an
 * event with outcome `postponed` says which code and what waits for it; the next install
 * (the daemon's next scheduled one, or a manual one) runs it again.
 */
async function recordPostponed(
  session: Session,
  ledger: Ledger,
  patchId: string,
  action: 'install' | 'uninstall',
  reason: string,
  waiting: readonly string[],
): Promise<string> {
  const waits = waiting.length > 0 ? `; waiting for it: ${waiting.join(', ')}` : '';
  const when = action === 'install' ? 'postponed to the next install' : 'postponed: uninstall it again later';
  const message = `${reason}; ${when}${waits}`;
  await ledger.recordOutcome(patchId, undefined, { type: action, outcome: 'postponed', message }, undefined);
  session.logger.warn({ patchId, reason, waiting }, `${action} postponed`);
  return message;
}

/** A success's event message when the exit code `rebootCode` asked for a reboot. */
function rebootNote(done: 'installed' | 'uninstalled', rebootCode: number): string {
  return `${done}; exit code ${rebootCode} asks for a reboot of the host`;
}

/** A success; `rebootCode`: the exit code that asked for a reboot (flagged as rebootRequired is). */
function installedMessage(patch: FeedPatch, rebootCode: number | undefined): string {
  if (rebootCode !== undefined) return rebootNote('installed', rebootCode);
  return patch.rebootRequired ? 'installed; the host needs a reboot' : '';
}

/**
 * Install in plan order. A failure fails its dependants in the plan ("requirement X
 * failed"); a postponed install (retry exit code) skips them this run. The run continues
 * with unrelated patches. Each outcome is written to the ledger and reported right after.
 */
export async function installPlanned(
  session: Session,
  ledger: Ledger,
  order: readonly FeedPatch[],
  opts: ApplyOptions = {},
): Promise<ActionResult[]> {
  const pacer = createPacer(session, ledger);
  const results: ActionResult[] = [];
  const doomed = new Map<string, string>();
  /** dependants of a postponed install: skipped this run, their state untouched */
  const waiting = new Map<string, string>();
  for (const patch of order) {
    if (opts.shouldStop?.()) {
      results.push({ id: patch.id, outcome: 'skipped', message: 'not started: patchbay-client is stopping' });
      continue;
    }
    const inherited = doomed.get(patch.id);
    const waitsFor = waiting.get(patch.id);
    if (inherited === undefined && waitsFor !== undefined) {
      results.push({ id: patch.id, outcome: 'skipped', message: waitsFor });
      continue;
    }
    const applied: Applied =
      inherited !== undefined ? { message: inherited } : await applyOne(session, ledger, patch, 'install');
    const { message } = applied;
    if (message === STOPPED) {
      results.push({ id: patch.id, outcome: 'skipped', message });
      continue;
    }
    if (applied.postponed) {
      const dependants = dependantsWithin(order, patch.id).filter((d) => !doomed.has(d));
      for (const d of dependants) if (!waiting.has(d)) waiting.set(d, `requirement ${patch.id} postponed`);
      const said = await recordPostponed(session, ledger, patch.id, 'install', message, dependants);
      results.push({ id: patch.id, outcome: 'postponed', message: said });
    } else if (message) {
      await ledger.recordOutcome(patch.id, 'failed', {
        type: 'install',
        outcome: 'failed',
        message,
        ...(applied.output !== undefined ? { output: applied.output } : {}),
      });
      results.push({ id: patch.id, outcome: 'failed', message });
      session.logger.error({ patchId: patch.id, reason: message }, 'install failed');
      for (const dependant of dependantsWithin(order, patch.id)) {
        if (!doomed.has(dependant)) doomed.set(dependant, `requirement ${patch.id} failed`);
      }
    } else {
      if (patch.rebootRequired || applied.rebootCode !== undefined) ledger.flagReboot(patch.id);
      await ledger.recordOutcome(patch.id, 'installed', {
        type: 'install',
        outcome: 'ok',
        message: installedMessage(patch, applied.rebootCode),
      });
      results.push({ id: patch.id, outcome: 'ok', message: 'installed' });
      session.logger.info({ patchId: patch.id, rebootExitCode: applied.rebootCode }, 'installed');
    }
    crashPoint('install:after-ledger', patch.id);
    await pacer.afterChange();
  }
  return results;
}

/** Why an uninstall is refused before anything runs, or undefined when it may go ahead. */
export function uninstallRefusal(
  scan: HostScan,
  id: string,
  cascade: boolean,
): { reason: string; hint?: string; order: string[] } | { reason?: undefined; order: string[] } {
  const dependants = installedDependants(scan.catalog.patches, scan.known.installed, id);
  if (dependants.length > 0 && !cascade) {
    return {
      reason: `uninstall ${id} refused: installed patches require it: ${dependants.join(', ')} (use --cascade to uninstall them first)`,
      order: [],
    };
  }
  const order = [...dependants, id];
  const byId = new Map(scan.catalog.patches.map((p) => [p.id, p]));
  const noUninstaller = order.filter((pid) => !byId.get(pid)?.uninstall);
  if (noUninstaller.length > 0) {
    return {
      reason: `uninstall ${id} refused: no uninstaller for ${noUninstaller.join(', ')}`,
      hint: `the catalog gives ${noUninstaller.join(', ')} no uninstall command, so patchbay cannot remove it: use the vendor's own removal procedure`,
      order: [],
    };
  }
  return { order };
}

/** Uninstall in order (dependants first); a failure stops the rest, which still need what failed. */
export async function uninstallOrdered(
  session: Session,
  ledger: Ledger,
  scan: HostScan,
  order: readonly string[],
): Promise<ActionResult[]> {
  const pacer = createPacer(session, ledger);
  const byId = new Map(scan.catalog.patches.map((p) => [p.id, p]));
  const results: ActionResult[] = [];
  let stoppedBy: string | undefined;
  for (const id of order) {
    const patch = byId.get(id);
    if (!patch) continue;
    if (stoppedBy) {
      results.push({ id, outcome: 'skipped', message: `not uninstalled: ${stoppedBy}` });
      continue;
    }
    const applied = await applyOne(session, ledger, patch, 'uninstall');
    const { message } = applied;
    if (applied.postponed) {
      // what remains of the order still needs this patch: it waits too
      const rest = order.slice(order.indexOf(id) + 1);
      const said = await recordPostponed(session, ledger, id, 'uninstall', message, rest);
      results.push({ id, outcome: 'postponed', message: said });
      stoppedBy = `${id} was postponed`;
    } else if (message) {
      // still installed (or unknown): keep what the ledger knew, clear the pending mark
      await ledger.recordOutcome(
        id,
        undefined,
        {
          type: 'uninstall',
          outcome: 'failed',
          message,
          ...(applied.output !== undefined ? { output: applied.output } : {}),
        },
        'failed',
      );
      results.push({ id, outcome: 'failed', message });
      stoppedBy = `${id} failed to uninstall`;
    } else {
      if (applied.rebootCode !== undefined) ledger.flagReboot(id);
      await ledger.recordOutcome(id, 'uninstalled', {
        type: 'uninstall',
        outcome: 'ok',
        message: applied.rebootCode === undefined ? '' : rebootNote('uninstalled', applied.rebootCode),
      });
      results.push({ id, outcome: 'ok', message: 'uninstalled' });
    }
    await pacer.afterChange();
  }
  return results;
}
