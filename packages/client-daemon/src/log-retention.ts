// How many logs of one patch and action the client keeps in logs/: a patch whose install fails
// or is postponed is tried again each scheduled run, and each try writes a run log (and an
// installer log, which msiexec makes megabytes long). Oldest removed first.
import { readdir, rm } from 'node:fs/promises';
import path from 'node:path';

/** Installer logs kept per patch and action: a verbose msiexec log runs to megabytes. */
export const INSTALLER_LOGS_KEPT = 5;

/** Run logs (the command's own output, a few KiB) kept per patch and action. */
export const RUN_LOGS_KEPT = 20;

/** The time stamp logPathFor puts in a log's name (an ISO time with - for : and .): sorts by time. */
const STAMP = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}-\d{2}-\d{3}Z$/;

/** The oldest of `names` shaped `<prefix><stamp><suffix>`, all but the newest `keep` of them. */
function oldestBeyond(names: readonly string[], prefix: string, suffix: string, keep: number): string[] {
  const ours = names
    .filter((n) => n.startsWith(prefix) && n.endsWith(suffix))
    .filter((n) => STAMP.test(n.slice(prefix.length, -suffix.length)))
    .sort();
  return ours.slice(0, Math.max(0, ours.length - keep));
}

/** How many of each kind of a patch's logs are kept. */
export interface LogsKept {
  /** the command's own output, `<patchId>-<action>-<stamp>.log` */
  run: number;
  /** the installer's own log ({log}), `<…>.installer.log` */
  installer: number;
}

/**
 * All but the newest run logs and installer logs of one patch and action, each kind counted
 * on its own (an installer log's name also ends in `.log`, but its stamp is not followed by
 * just `.log`, so it never counts as a run log). `current` (this run's logs) are never removed,
 * even when a clock set back makes older names sort after them. Never throws: what cannot be
 * read or removed waits for the next run. Returns the names removed.
 */
export async function prunePatchLogs(
  logsDir: string,
  patchId: string,
  action: 'install' | 'uninstall',
  opts: { keep?: LogsKept; current?: readonly string[] } = {},
): Promise<string[]> {
  const keep = opts.keep ?? { run: RUN_LOGS_KEPT, installer: INSTALLER_LOGS_KEPT };
  const prefix = `${patchId}-${action}-`;
  const names = await readdir(logsDir).catch(() => [] as string[]);
  const current = new Set(opts.current ?? []);
  const doomed = [
    ...oldestBeyond(names, prefix, '.installer.log', keep.installer),
    ...oldestBeyond(names, prefix, '.log', keep.run),
  ].filter((name) => !current.has(name));
  const removed: string[] = [];
  for (const name of doomed) {
    const gone = await rm(path.join(logsDir, name), { force: true }).then(
      () => true,
      () => false,
    );
    if (gone) removed.push(name);
  }
  return removed;
}
