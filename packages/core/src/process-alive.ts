// Whether a pid names a live process: the one test behind every "is its writer / lock
// holder still there?" decision (stale temp files, stale data-dir locks).

/**
 * True when a process with this pid exists: signal 0 reached it, or EPERM (it exists but
 * belongs to someone else). ESRCH, or a pid the kernel cannot hold (ERR_INVALID_ARG_TYPE
 * past 2^31), means no such process.
 */
export function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
