import { setTimeout as sleep } from 'node:timers/promises';

/** A random delay in 0..jitterSeconds (inclusive), in ms; `random` returns [0, 1) like Math.random. */
export function jitterDelayMs(jitterSeconds: number, random: () => number = Math.random): number {
  if (jitterSeconds <= 0) return 0;
  const max = jitterSeconds * 1000;
  return Math.min(max, Math.floor(random() * (max + 1)));
}

/** Wait `ms`; resolves false (at once) when `signal` aborts, true otherwise. */
export async function waitUnlessAborted(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return false;
  if (ms <= 0) return true;
  return sleep(ms, true, { signal }).catch(() => false);
}
