import { errorMessage } from '@patchbay/core';
import type { ClientConfig, ContentStore, FeedPatch, HostKnowledge, Logger } from '@patchbay/core';
import { evaluateDetectRule, sharedRegQuery } from './detect-rule.js';
import type { DetectRuleDeps } from './detect-rule.js';
import { placeholderContext } from './host.js';
import type { Ledger } from './ledger.js';

export interface InventoryDeps extends DetectRuleDeps {
  config: ClientConfig;
  ledger: Ledger;
  store: ContentStore;
  logger: Logger;
}

/** Cached blob paths by file name (for {file:NAME} in detect rules). */
export function cachedFiles(store: ContentStore, patch: FeedPatch): Record<string, string> {
  return Object.fromEntries(patch.files.map((f) => [f.name, store.blobPath(f.sha256)]));
}

/**
 * Evaluate a patch's detect rule: true/false, or undefined when it has none.
 * A rule that cannot be evaluated (bad placeholder, reg.exe refused) counts as "not installed", logged.
 */
export async function detectInstalled(
  patch: FeedPatch,
  deps: Pick<InventoryDeps, 'config' | 'store' | 'logger' | 'regQuery'>,
): Promise<boolean | undefined> {
  if (!patch.detect) return undefined;
  try {
    const ctx = placeholderContext(deps.config, patch, cachedFiles(deps.store, patch));
    const outcome = await evaluateDetectRule(patch.detect, ctx, deps);
    if (outcome.problem)
      deps.logger.warn({ patchId: patch.id, ...outcome.problem.fields }, outcome.problem.message);
    return outcome.installed;
  } catch (err) {
    deps.logger.warn(
      { patchId: patch.id, err: errorMessage(err) },
      'detect rule failed; treating as not installed',
    );
    return false;
  }
}

/**
 * Detect rules and cache lookups in flight at once. Each is a file-system round trip through
 * libuv's thread pool; one after the other they were most of a `check` at 20,000 patches
 * (docs/performance.md). Command rules still run one at a time: a vendor's detect command
 * (a package query) may not expect company.
 */
const INVENTORY_CONCURRENCY = 16;

/**
 * What this host has: a detect rule, when the patch has one, is the truth; without
 * one the ledger decides. Failures and uninstalls come from the ledger, unless the
 * patch is (again) installed.
 */
export async function takeInventory(
  relevant: readonly FeedPatch[],
  deps: InventoryDeps,
): Promise<HostKnowledge> {
  const installed = new Set<string>();
  const downloaded = new Set<string>();
  const failed = new Map<string, string>();
  const uninstalled = new Set<string>();
  // Patches often share a file, and sibling patches read the same registry value (their
  // versions compared with different thresholds): one lookup per digest, one reg.exe per query.
  const has = onceEach(
    (hex: string) => deps.store.has(hex),
    (hex) => hex,
  );
  const reg = deps.regQuery ?? sharedRegQuery();
  const ruleDeps = { ...deps, regQuery: onceEach(reg, (request) => JSON.stringify(request)) };
  let commands: Promise<unknown> = Promise.resolve();
  const detect = (patch: FeedPatch): Promise<boolean | undefined> => {
    if (!patch.detect || !('command' in patch.detect)) return detectInstalled(patch, ruleDeps);
    const run = commands.then(() => detectInstalled(patch, ruleDeps));
    commands = run.catch(() => undefined);
    return run;
  };
  const facts = await mapConcurrently(relevant, INVENTORY_CONCURRENCY, async (patch) => ({
    detected: await detect(patch),
    present: (await Promise.all(patch.files.map((f) => has(f.sha256)))).every(Boolean),
  }));
  relevant.forEach((patch, i) => {
    const { detected, present } = facts[i]!;
    const record = deps.ledger.patches[patch.id];
    const isInstalled = detected ?? record?.state === 'installed';
    if (isInstalled) installed.add(patch.id);
    else if (record?.state === 'failed') failed.set(patch.id, record.message ?? 'install failed');
    else if (record?.state === 'uninstalled') uninstalled.add(patch.id);
    if (present) downloaded.add(patch.id);
  });
  return { installed, downloaded, failed, uninstalled };
}

/** `fn` called once per key: a second call with the same key gets the first call's promise. */
function onceEach<A, R>(fn: (arg: A) => Promise<R>, keyOf: (arg: A) => string): (arg: A) => Promise<R> {
  const calls = new Map<string, Promise<R>>();
  return (arg) => {
    const key = keyOf(arg);
    let call = calls.get(key);
    if (!call) {
      call = fn(arg);
      calls.set(key, call);
    }
    return call;
  };
}

/** `fn` over `items` with at most `limit` running, results in input order. */
async function mapConcurrently<T, R>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<R>,
): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}
