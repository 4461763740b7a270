// The parent's side of the fleet's load processes (fleet-worker.mjs): hosts split between
// `workers` processes, rounds run in all of them at once, their answers merged.
import { fork } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const WORKER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fleet-worker.mjs');

function ask(child, message) {
  return new Promise((resolve, reject) => {
    const onMessage = (answer) => {
      cleanup();
      if (answer.type === 'done') resolve(answer.result);
      else reject(new Error(`fleet worker crashed: ${answer.error}`));
    };
    const onExit = (code) => {
      cleanup();
      reject(new Error(`fleet worker exited with ${code}`));
    };
    const cleanup = () => {
      child.off('message', onMessage);
      child.off('exit', onExit);
    };
    child.on('message', onMessage);
    child.on('exit', onExit);
    child.send(message);
  });
}

function addCounts(into, from) {
  for (const [key, n] of Object.entries(from)) into[key] = (into[key] ?? 0) + n;
}

/** The value below which `share` of the sorted `values` lie. */
export function percentile(sorted, share) {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(share * sorted.length))];
}

function merge(results) {
  const merged = {
    seconds: Math.max(...results.map((r) => r.seconds)),
    reports: 0,
    acceptedMismatch: 0,
    latency: {},
    statuses: {},
    errors: {},
    errorSamples: [],
    acked: new Map(),
    /** the load processes' CPU time since they started, summed */
    cpuMs: 0,
    /** the load processes' CPU time in this round, summed */
    roundCpuMs: 0,
  };
  for (const r of results) {
    merged.reports += r.reports;
    merged.cpuMs += r.cpuMs;
    merged.roundCpuMs += r.roundCpuMs;
    merged.acceptedMismatch += r.acceptedMismatch;
    addCounts(merged.statuses, r.statuses);
    addCounts(merged.errors, r.errors);
    merged.errorSamples.push(...r.errorSamples);
    // concat, not push(...values): a round of 100,000 hosts has more values than a call has arguments
    for (const [kind, values] of Object.entries(r.latency))
      merged.latency[kind] = (merged.latency[kind] ?? []).concat(values);
    r.acked.forEach((acked, slot) => {
      if (acked) merged.acked.set(r.from + slot, acked);
    });
  }
  for (const values of Object.values(merged.latency)) values.sort((a, b) => a - b);
  return merged;
}

/** `hosts` simulated hosts in `workers` processes; `tokens`: host index -> report token. */
export async function startFleet({ hosts, workers, tokens }) {
  const children = [];
  try {
    for (let w = 0; w < workers; w++) {
      const from = Math.floor((hosts * w) / workers);
      const to = Math.floor((hosts * (w + 1)) / workers);
      const child = fork(WORKER, [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      children.push(child);
      const own = Object.fromEntries(Object.entries(tokens).filter(([i]) => i >= from && i < to));
      await ask(child, { type: 'start', hosts: [from, to], tokens: own });
    }
  } catch (err) {
    for (const child of children) child.kill('SIGKILL');
    throw err;
  }
  const share = (total) => Math.max(1, Math.round(total / workers));
  return {
    pids: children.map((c) => c.pid),
    /** every host once: refresh, then report; `concurrency` hosts at a time over all workers */
    async round(round, baseUrl, concurrency) {
      const results = await Promise.all(
        children.map((c) => ask(c, { type: 'round', round, baseUrl, concurrency: share(concurrency) })),
      );
      return merge(results);
    },
    async stop() {
      await Promise.all(
        children.map(async (child) => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          const exited = once(child, 'exit');
          child.send({ type: 'exit' });
          await exited;
        }),
      );
    },
  };
}
