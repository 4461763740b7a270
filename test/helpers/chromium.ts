// Headless Chromium (Debian's package, driven by playwright-core) for the status page's
// browser checks. Without the background-networking flags Chromium dials out (updates, sync,
// variations), and this network refuses every connection that does not stay on loopback.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Test } from 'tap';
import { chromium, type BrowserContext } from 'playwright-core';

export const CHROMIUM = '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

/** Why the browser checks cannot run here, or undefined. Under CI they never skip. */
export function chromiumSkipReason(): string | undefined {
  if (fs.existsSync(CHROMIUM) || process.env.CI) return undefined;
  return `${CHROMIUM} is absent: apt-get install chromium to run the status page's browser checks`;
}

/**
 * A fresh headless Chromium profile, closed and removed at `t`'s teardown. Where the browser
 * is absent outside CI, says so in `t` and returns undefined (the caller skips its page
 * checks); under CI a missing browser is a failure, said plainly.
 */
export async function launchChromium(
  t: Test,
  options: { viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {},
): Promise<BrowserContext | undefined> {
  const skip = chromiumSkipReason();
  if (skip) {
    t.comment(`skipped: ${skip}`);
    return undefined;
  }
  if (!fs.existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is absent; .ci/run installs Debian's chromium`);
  const userDataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'patchbay-chromium-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    args: CHROMIUM_ARGS,
    ...options,
  });
  t.teardown(async () => {
    await context.close();
    fs.rmSync(userDataDir, { recursive: true, force: true });
  });
  return context;
}
