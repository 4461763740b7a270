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

/**
 * Remove all but the newest `keep` of `<prefix><stamp><suffix>` in logsDir. Never throws: what
 * cannot be read or removed waits for the next run. Returns the names removed.
 */
async function pruneOldest(logsDir: string, prefix: string, suffix: string, keep: number): Promise<string[]> {
  const names = await readdir(logsDir).catch(() => [] as string[]);
  const ours = names
    .filter((n) => n.startsWith(prefix) && n.endsWith(suffix))
    .filter((n) => STAMP.test(n.slice(prefix.length, -suffix.length)))
    .sort();
  const removed: string[] = [];
  for (const name of ours.slice(0, Math.max(0, ours.length - keep))) {
    const gone = await rm(path.join(logsDir, name), { force: true }).then(
      () => true,
      () => false,
    );
    if (gone) removed.push(name);
  }
  return removed;
}

/** All but the newest `keep` installer logs ({log}) of one patch and action; run logs untouched. */
export function pruneInstallerLogs(
  logsDir: string,
  patchId: string,
  action: 'install' | 'uninstall',
  keep = INSTALLER_LOGS_KEPT,
): Promise<string[]> {
  return pruneOldest(logsDir, `${patchId}-${action}-`, '.installer.log', keep);
}

/** All but the newest `keep` run logs of one patch and action; installer logs untouched. */
export function pruneRunLogs(
  logsDir: string,
  patchId: string,
  action: 'install' | 'uninstall',
  keep = RUN_LOGS_KEPT,
): Promise<string[]> {
  return pruneOldest(logsDir, `${patchId}-${action}-`, '.log', keep);
}
