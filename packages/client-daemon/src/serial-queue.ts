/**
 * One host-changing step at a time inside the daemon (the data-dir lock guards
 * against other processes; this guards against our own cron jobs). A job whose key
 * is already waiting or running is not queued again, so a slow job is never
 * started twice.
 */
export class SerialQueue {
  private tail: Promise<void> = Promise.resolve();
  private readonly keys = new Set<string>();

  /** True while a job with this key waits or runs. */
  has(key: string): boolean {
    return this.keys.has(key);
  }

  /** Run `fn` after the jobs before it; `{ skipped: true }` when `key` is already queued or running. */
  run<T>(key: string, fn: () => Promise<T>): Promise<{ skipped: true } | { skipped: false; value: T }> {
    if (this.keys.has(key)) return Promise.resolve({ skipped: true });
    this.keys.add(key);
    const result = this.tail.then(async () => {
      try {
        return { skipped: false as const, value: await fn() };
      } finally {
        this.keys.delete(key);
      }
    });
    this.tail = result.then(
      () => undefined,
      () => undefined,
    );
    return result;
  }

  /** Resolves when every job queued so far has finished. */
  idle(): Promise<void> {
    return this.tail;
  }
}
