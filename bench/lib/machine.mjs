// What the figures were measured on, printed above the table.
import { spawnSync } from 'node:child_process';
import os from 'node:os';

export function describeMachine() {
  const cpus = os.cpus();
  return {
    date: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    cpu: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    ramGiB: Math.round(os.totalmem() / 2 ** 30),
    node: process.version,
    kernel: `${os.type()} ${os.release()}`,
    loadavg: os.loadavg().map((l) => l.toFixed(2)),
    calibrationMs: calibrationMs(),
  };
}

export function machineLines(m, end) {
  return [
    `date      ${m.date}`,
    `machine   ${m.cpu}, ${m.cores} cores, ${m.ramGiB} GiB RAM, ${m.kernel}`,
    `node      ${m.node}`,
    `load avg  ${m.loadavg.join(' ')} (1/5/15 min) at start` +
      (end ? `, ${end.loadavg.join(' ')} at end` : ''),
    `cpu check ${m.calibrationMs} ms at start${end ? `, ${end.calibrationMs} ms at end` : ''} ` +
      '(node, 10^8 additions incl. process start; lower is a quieter machine)',
  ];
}

/**
 * A fixed CPU-bound loop (10^8 additions) timed in a fresh process: how much CPU this run
 * actually got. Other work on the machine (or a noisy host) shows here first.
 */
export function calibrationMs() {
  const started = performance.now();
  spawnSync(process.execPath, ['-e', 'let s = 0; for (let i = 0; i < 1e8; i++) s += i;']);
  return Math.round(performance.now() - started);
}
