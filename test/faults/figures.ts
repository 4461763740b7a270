// The fault suite's shared parts: how many trials to run, a seeded random source, and the
// figures each scenario records for scripts/fault-table.mjs.
//
//   npm test             quick seeded subset (PATCHBAY_FAULTS unset)
//   npm run test:faults  PATCHBAY_FAULTS=full: every trial, then the table
//
// Every scenario records { trials, invariantsChecked, violations, violated, bytes... } as one JSON
// line in test-output/faults/<suite>.jsonl; `violated` names each broken invariant with its
// detail, so a rare failure in a long run says what broke without a rerun. A violation is also
// a failed tap assertion, so the table and the test result can never disagree.
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FULL = process.env.PATCHBAY_FAULTS === 'full';
/** one seed for the whole run; PATCHBAY_FAULT_SEED replays a failure */
export const SEED = Number(process.env.PATCHBAY_FAULT_SEED ?? 20261124);
export const RESULTS_DIR =
  process.env.PATCHBAY_FAULT_RESULTS ?? path.join(REPO_ROOT, 'test-output', 'faults');

/** PATCHBAY_FAULT_TRIALS=N: that many trials whatever the mode (to hunt a rare violation) */
const TRIALS_OVERRIDE = process.env.PATCHBAY_FAULT_TRIALS;

/** trials for this run: `quick` under npm test, `full` under npm run test:faults */
export function trials(quick: number, full: number): number {
  if (TRIALS_OVERRIDE !== undefined) {
    const n = Number(TRIALS_OVERRIDE);
    if (!Number.isSafeInteger(n) || n < 1) {
      throw new RangeError(`PATCHBAY_FAULT_TRIALS must be a whole number >= 1, got "${TRIALS_OVERRIDE}"`);
    }
    return n;
  }
  return FULL ? full : quick;
}

/** mulberry32: small, fast, good enough to pick kill moments and fault kinds reproducibly. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let x = a;
    x = Math.imul(x ^ (x >>> 15), x | 1);
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61);
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296;
  };
}

/** One broken invariant: its name (the tap assertion's message) and what the check saw. */
export interface Violation {
  invariant: string;
  detail?: unknown;
}

/** at most this many violations are kept per scenario (the count stays exact) */
export const MAX_RECORDED_VIOLATIONS = 20;

export interface ScenarioFigures {
  /** the test file's area, e.g. "sync-faults", "server-crash" */
  suite: string;
  scenario: string;
  trials: number;
  invariantsChecked: number;
  violations: number;
  /** for transfer scenarios: bytes that crossed the wire in total, and the files' own size */
  bytesFetched?: number;
  fileBytes?: number;
  /** one line of extra context for the table (e.g. "kill points: 12 sync, 8 publish") */
  note?: string;
  /** the first MAX_RECORDED_VIOLATIONS violations, in the order they happened */
  violated?: Violation[];
}

/** What Invariants asserts through: a tap Test, or in figures.test.ts a recorder. */
export interface Asserter {
  fail(message: string, extra: object): boolean;
  equal(found: unknown, wanted: unknown, message: string): boolean;
}

/**
 * Counts invariant checks for one scenario and asserts each through tap, so a violation fails
 * the test with its message and is counted in the table.
 */
export class Invariants {
  checked = 0;
  violations = 0;
  readonly failures: Violation[] = [];

  constructor(
    private readonly t: Asserter,
    private readonly resultsDir: string = RESULTS_DIR,
  ) {}

  check(ok: boolean, invariant: string, detail?: unknown): boolean {
    this.checked += 1;
    if (!ok) {
      this.violations += 1;
      if (this.failures.length < MAX_RECORDED_VIOLATIONS) {
        this.failures.push(detail === undefined ? { invariant } : { invariant, detail });
      }
      this.t.fail(invariant, detail === undefined ? {} : { detail });
    }
    return ok;
  }

  /** append the scenario's figures, with the violations it saw, to the results file (after the checks ran) */
  record(figures: Omit<ScenarioFigures, 'invariantsChecked' | 'violations' | 'violated'>): void {
    recordFigures(
      {
        ...figures,
        invariantsChecked: this.checked,
        violations: this.violations,
        ...(this.failures.length > 0 ? { violated: this.failures } : {}),
      },
      this.resultsDir,
    );
    this.t.equal(
      this.violations,
      0,
      `${figures.scenario}: no invariant violated in ${figures.trials} trials`,
    );
  }
}

export function recordFigures(figures: ScenarioFigures, resultsDir: string = RESULTS_DIR): void {
  mkdirSync(resultsDir, { recursive: true });
  appendFileSync(
    path.join(resultsDir, `${figures.suite}.jsonl`),
    `${JSON.stringify({ ...figures, seed: SEED, full: FULL, at: new Date().toISOString() })}\n`,
  );
}
