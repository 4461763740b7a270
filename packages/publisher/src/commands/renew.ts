// patchbay-publish renew: new versions of the publisher's targets roles that expire soon,
// with the same content and a fresh expiry. Without it a vendor who publishes nothing for
// longer than the targets expiry (90 days by default) would freeze every host: TUF refuses
// expired targets, and `add` and `import-feed` only renew the roles they change.
import { ErrorCodes, PatchbayError } from '@patchbay/core';
import { loadRepository } from '@patchbay/core/tuf';
import { RepositoryEdit } from '../edit.js';
import { loadKeyring } from '../keyring.js';
import { describeWritten, type Outcome } from '../outcome.js';
import { readSettings } from '../settings.js';

export interface RenewOptions {
  repo: string;
  keys: string;
  /** renew the roles that expire within this many days (default: a third of the targets period) */
  withinDays?: number;
  /** renew these roles whatever their expiry (`targets` or `<product>~<release>`) */
  roles?: string[];
  now: Date;
}

const DAY_MS = 86_400_000;

export async function renew(opts: RenewOptions): Promise<Outcome> {
  const repo = await loadRepository(opts.repo);
  const settings = await readSettings(opts.repo);
  const edit = new RepositoryEdit(repo, await loadKeyring(opts.keys), settings, opts.now);
  const withinDays = opts.withinDays ?? Math.max(1, Math.floor(settings.expires.targets / 3));
  const horizon = opts.now.getTime() + withinDays * DAY_MS;
  const due = (expires: string, name: string): boolean =>
    (opts.roles?.includes(name) ?? false) || Date.parse(expires) <= horizon;

  const known = new Set(['targets', ...edit.roleNames()]);
  const unknown = (opts.roles ?? []).filter((name) => !known.has(name));
  if (unknown.length > 0) {
    throw new PatchbayError(
      ErrorCodes.USAGE,
      `--role ${unknown.join(', ')}: no such targets role (known: ${[...known].join(', ')})`,
      { roles: unknown },
    );
  }
  if (due(repo.targets.signed.expires, 'targets')) edit.targets();
  for (const name of edit.roleNames()) {
    const role = repo.roles.get(name);
    if (role && due(role.signed.expires, name)) edit.touchRole(name);
  }
  if (!edit.changed) {
    const text = `nothing expires within ${withinDays} days: nothing written`;
    return { ok: true, json: { written: [], withinDays }, lines: [text] };
  }
  const written = await edit.commit();
  return { ok: true, json: { written, withinDays }, lines: written.map(describeWritten) };
}
