import {
  ErrorCodes,
  PatchbayError,
  errorMessage,
  formatError,
  isPatchbayError,
  nextStep,
  nextStepForMessage,
} from '@patchbay/core';
import { hostRebootedSince } from '../auto-policy.js';
import { assertNotExpired } from '../loaded-catalog.js';
import type { LoadedCatalog } from '../loaded-catalog.js';
import { recoverFromCrash } from '../crash-recovery.js';
import { lockDataDir } from '../lock.js';
import { bootTime } from '../reboot.js';
import type { Ledger } from '../ledger.js';
import type { Session } from '../session.js';
import type { ActionResult } from '../apply.js';
import { flushReports } from '../reporter.js';
import type { FlushResult } from '../reporter.js';

/** Parsed command line for one command. */
export interface CommandArgs {
  positionals: string[];
  all: boolean;
  critical: boolean;
  cascade: boolean;
  once: boolean;
  /** history filters (--patch, --type, --since, --until) */
  filter: HistoryFilter;
  /** detect --rule JSON, --product ID */
  rule?: string;
  product?: string;
}

export interface HistoryFilter {
  patch?: string;
  type?: string;
  /** inclusive, epoch ms */
  since?: number;
  /** exclusive, epoch ms */
  until?: number;
}

/**
 * Run `fn` holding the data-dir lock, with the ledger open and any action a crash
 * left half-done recorded as interrupted first.
 */
export async function withHostLock<T>(session: Session, fn: (ledger: Ledger) => Promise<T>): Promise<T> {
  const release = await lockDataDir(session.paths, session.logger);
  try {
    const ledger = await session.openLedger();
    const interrupted = await recoverFromCrash(session, ledger);
    if (interrupted.length > 0) {
      session.logger.warn(
        { patchIds: interrupted },
        'actions interrupted by a previous crash recorded as failed',
      );
    }
    const reboot = ledger.rebootFlag;
    if (reboot && hostRebootedSince(reboot, bootTime())) {
      await ledger.clearReboot();
      session.logger.info({ patchIds: reboot.patchIds }, 'the host has rebooted; pending reboot cleared');
    }
    return await fn(ledger);
  } finally {
    await release().catch(() => undefined);
  }
}

/**
 * A result as CONTRACT §3's `--json` gives it: outcome ok, failed or skipped. A postponed one
 * (an installer's retry exit code) is `skipped` there, marked `"postponed": true` (extension).
 */
function contractResult(
  result: ActionResult,
): ActionResult | (Omit<ActionResult, 'outcome'> & { outcome: 'skipped'; postponed: true }) {
  return result.outcome === 'postponed' ? { ...result, outcome: 'skipped', postponed: true } : result;
}

export function printResults(
  session: Session,
  results: readonly ActionResult[],
  extra: Record<string, unknown> = {},
): void {
  session.out.document({ results: results.map(contractResult), ...extra });
  const shown = session.out.tableOr(
    ['ID', 'OUTCOME', 'MESSAGE'],
    results.map((r) => [r.id, r.outcome, r.message]),
    'nothing to do',
  );
  if (!shown) return;
  const count = (outcome: ActionResult['outcome']): number =>
    results.filter((r) => r.outcome === outcome).length;
  const postponed = count('postponed') > 0 ? `, ${count('postponed')} postponed` : '';
  session.out.line(`${count('ok')} ok, ${count('failed')} failed, ${count('skipped')} skipped${postponed}`);
  // one hint for the failures, from the first whose message suggests one (unreachable, refused, …)
  for (const r of results) {
    if (r.outcome !== 'failed') continue;
    const hint = nextStepForMessage(r.message, {
      program: 'patchbay-client',
      hostId: session.config.hostId,
      ...(session.configFile ? { configFile: session.configFile } : {}),
    });
    if (hint) {
      session.out.note(`${session.out.errStyle.paint('yellow', 'hint:')} ${hint}`);
      break;
    }
  }
}

/**
 * Exit status of the installer's "try again later" (retryExitCodes) when nothing failed:
 * EX_TEMPFAIL of sysexits.h, which schedulers and mail systems read as "retry later".
 */
export const EXIT_POSTPONED = 75;

/** 1 when anything failed; else EXIT_POSTPONED when an installer asked to be run later; else 0. */
export function exitCodeFor(results: readonly ActionResult[]): number {
  if (results.some((r) => r.outcome === 'failed')) return 1;
  return results.some((r) => r.outcome === 'postponed') ? EXIT_POSTPONED : 0;
}

/** How download, install and uninstall end: report what happened, print it, exit 1 on a failure (75 postponed). */
export async function finishActions(
  session: Session,
  ledger: Ledger,
  results: readonly ActionResult[],
  offline: boolean,
): Promise<number> {
  await reportNow(session, ledger);
  printResults(session, results, offline ? { offline: true } : {});
  return exitCodeFor(results);
}

/**
 * A catalog refused on trust grounds: bad/missing signature, changed key, rollback, expiry; under
 * trust v2 any TUF metadata tuf-js refused (PB_ERR_TUF_VERIFY).
 */
export function isTrustRefusal(err: unknown): boolean {
  return (
    isPatchbayError(err, ErrorCodes.SIGNATURE) ||
    isPatchbayError(err, ErrorCodes.CATALOG_STALE) ||
    isPatchbayError(err, ErrorCodes.TUF_VERIFY)
  );
}

/**
 * Load the catalog for a command. With `forAction` (install, download, uninstall) an
 * expired catalog is refused too. A refusal is recorded as an 'error' event and reported
 * (report delivery does not depend on the catalog), then thrown: the command exits 1.
 */
export async function loadCatalog(
  session: Session,
  ledger: Ledger,
  forAction?: string,
): Promise<LoadedCatalog> {
  try {
    const loaded = await session.catalogSource.load();
    if (forAction) assertNotExpired(loaded, forAction);
    else warnIfExpired(session, loaded);
    return loaded;
  } catch (err) {
    if (isTrustRefusal(err)) {
      ledger.addEvent({ type: 'error', outcome: 'failed', message: `catalog refused: ${errorMessage(err)}` });
      await ledger.save();
      session.logger.error({ err: errorMessage(err) }, 'catalog refused');
      await reportNow(session, ledger);
    }
    throw err;
  }
}

/** The freeze warning of `check` and `status`: an expired catalog is listed, never acted on. */
export function warnIfExpired(session: Session, loaded: LoadedCatalog): void {
  if (!loaded.expired) return;
  session.out.warn(
    `warning: catalog ${loaded.catalog.sequence} expired at ${loaded.catalog.expiresAt}: ` +
      'installs and downloads are refused until the staging server publishes a fresh one',
  );
}

/**
 * Send pending events and the current states now (kept on disk when no server answers). A
 * server that refuses this host's token is said on stderr with what to do: until the host is
 * enrolled, none of its reports get through.
 */
export async function reportNow(session: Session, ledger: Ledger): Promise<FlushResult> {
  const result = await flushReports({
    config: session.config,
    ledger,
    dispatcher: session.dispatcher,
    logger: session.logger,
    timeoutMs: session.config.timeoutSeconds * 1000,
    token: session.token,
    catalog: session.catalogSource.state,
  });
  const { refused } = result;
  if (!result.delivered && refused) {
    // the command did its work, but this host's reports do not get through: it exits 1 (cli.ts)
    session.reportRefused = `HTTP ${refused.status}${refused.reason ? `: ${refused.reason}` : ''}`;
    const hint = nextStep(
      new PatchbayError(ErrorCodes.HTTP_STATUS, result.error ?? '', { status: refused.status }),
      {
        program: 'patchbay-client',
        hostId: session.config.hostId,
        ...(session.configFile ? { configFile: session.configFile } : {}),
      },
    );
    session.out.stderrWrite(
      formatError(
        'patchbay-client',
        `the staging server refused this host's report (${session.reportRefused}); ` +
          `${result.pending} event(s) wait on disk and go with the next report`,
        hint,
        session.out.errStyle,
      ),
    );
  }
  return result;
}
