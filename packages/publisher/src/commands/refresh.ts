// patchbay-publish snapshot / timestamp: re-sign with a new version, the content taken from
// the repository as it is (a vendor site keeping its metadata fresh between publications).
import { RepositoryEdit } from '../edit.js';
import { describeWritten, type Outcome } from '../outcome.js';

export interface RefreshOptions {
  repo: string;
  keys: string;
  role: 'snapshot' | 'timestamp';
  now: Date;
}

export async function refresh(opts: RefreshOptions): Promise<Outcome> {
  const edit = await RepositoryEdit.open(opts.repo, opts.keys, opts.now);
  const written = opts.role === 'snapshot' ? await edit.publishSnapshot() : [await edit.publishTimestamp()];
  return { ok: true, json: { written }, lines: written.map(describeWritten) };
}
