// Named crash points for the fault suite (as etcd's gofail or FoundationDB's buggify):
// PATCHBAY_FAILPOINTS="publish:after-signature,install:after-run" makes the process kill
// itself with SIGKILL when it reaches one of those points, so a crash can land exactly
// between two writes that a random kill would almost never separate.
// The variable is read once; without it a failpoint is one Set lookup.
//
// patchbay-client (test/faults/client-crash.test.ts); the download:* and install:* points
// also answer to `<name>:<patchId>` to hit one patch in particular:
//   download:mid-body        half a file's bytes in the partial, not committed
//   download:before-commit   all bytes in the partial, not yet verified and renamed into place
//   download:before-event    files committed, the download event not yet in the ledger
//   install:before-run       pending mark saved, the installer not started
//   install:while-running    installer started (its pid saved): it outlives the client
//   install:after-run        installer exited, outcome not yet in the ledger
//   install:after-ledger     outcome and event saved, not yet reported
//   report:before-send       report built, PUT not sent
//   report:after-response    the server accepted the events, the ledger not yet acknowledged
//
// Failpoints of the staging server (exercised by test/faults/server-crash.test.ts):
//   sync:after-feed-archive  new feed bytes in upstream/feed.json, the accepted sequence not yet recorded
//   sync:after-accept        feed accepted (sequence and validators stored), nothing downloaded yet
//   store:before-rename      a blob complete and fsynced in store/tmp, not yet renamed into blobs/
//   sync:after-counter       mirror sequence counter raised, no catalog file written yet
//   publish:after-history    catalog/history/<sequence>.json written, signature and current.json not
//   publish:after-signature  current.json.sig is the new one, current.json still the old (a torn pair)
//   publish:after-current    current.json switched, the sync report not yet stored
//   sync:after-report        the finished sync report stored (the process's last log lines may be unwritten)
//   tuf:after-snapshot       trust v2: the served TUF repository's new snapshot written, its
//                            timestamp.json not yet (hosts keep the previous timestamp)
//   atomic:before-rename:<file name>  writeFileAtomic of that file (e.g. current.json, feed.json):
//                            the temp file written and fsynced, not yet renamed (any program)

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
