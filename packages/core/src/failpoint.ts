// Named crash points for the fault suite (as etcd's gofail or FoundationDB's buggify):
// PATCHBAY_FAILPOINTS="publish:after-signature,install:after-run" makes the process kill
// itself with SIGKILL when it reaches one of those points, so a crash can land exactly
// between two writes that a random kill would almost never separate.
// The variable is read once; without it a failpoint is one Set lookup.

const armed: ReadonlySet<string> = new Set(
  (process.env.PATCHBAY_FAILPOINTS ?? '')
    .split(',')
    .map((name) => name.trim())
    .filter(Boolean),
);

/** Names of the failpoints armed in this process (for a log line at start). */
export function armedFailpoints(): string[] {
  return [...armed];
}

/** Die here, now, as a power cut would, when `name` is armed. */
export function failpoint(name: string): void {
  if (armed.size === 0 || !armed.has(name)) return;
  process.stderr.write(`failpoint ${name}: SIGKILL\n`);
  process.kill(process.pid, 'SIGKILL');
}
