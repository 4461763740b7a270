// patchbay-publish add: publish one patch from a PATCH.json (a feed patch whose files name
// only names, or no files at all) and the local files; sizes and SHA-256 are computed here.
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import { ErrorCodes, PatchbayError, readJsonFile, sha256File, type FeedPatch } from '@patchbay/core';
import { descriptorFromPatch, descriptorSchemaProblem, roleNameFor } from '@patchbay/core/tuf';
import { RepositoryEdit } from '../edit.js';
import { describeWritten, type Outcome } from '../outcome.js';
import { stagePatch, targetsInfo, updateTargetsInfo } from '../patches.js';

export interface AddOptions {
  repo: string;
  keys: string;
  patchFile: string;
  files: string[];
  vendor: string | undefined;
  /** display name of the product when it is new to the repository (default: its id) */
  productName: string | undefined;
  now: Date;
}

export async function add(opts: AddOptions): Promise<Outcome> {
  const usage = (message: string) => new PatchbayError(ErrorCodes.USAGE, message, {});
  let patch: Partial<FeedPatch> | undefined;
  try {
    patch = await readJsonFile<Partial<FeedPatch>>(opts.patchFile);
  } catch (err) {
    throw usage(`--patch ${opts.patchFile}: ${(err as Error).message}`);
  }
  if (patch === undefined) throw usage(`--patch ${opts.patchFile} does not exist`);
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch))
    throw usage(`--patch ${opts.patchFile} is not a JSON object`);

  const sources = new Map<string, string>();
  for (const file of opts.files) {
    const name = basename(file);
    if (sources.has(name)) throw usage(`two FILEs are named ${name}`);
    sources.set(name, file);
  }
  const listed = Array.isArray(patch.files) ? patch.files : undefined;
  const names = listed ? listed.map((f) => (f as { name?: unknown }).name) : [...sources.keys()];
  for (const name of names) {
    if (typeof name !== 'string')
      throw usage(`--patch ${opts.patchFile}: every files[] entry needs a "name"`);
    if (!sources.has(name))
      throw usage(`--patch ${opts.patchFile} names file ${name}, but no FILE argument is called that`);
  }
  for (const name of sources.keys()) {
    if (!names.includes(name))
      throw usage(`FILE ${sources.get(name)} is not among the files --patch ${opts.patchFile} names`);
  }

  const files = [];
  for (const name of names as string[]) {
    const path = sources.get(name)!;
    let size: number;
    try {
      const info = await stat(path);
      if (!info.isFile()) throw new Error('not a regular file');
      size = info.size;
    } catch (err) {
      throw usage(`FILE ${path}: ${(err as Error).message}`);
    }
    const sha256 = await sha256File(path);
    const given = listed?.find((f) => f.name === name);
    if (given?.sha256 !== undefined && given.sha256 !== sha256) {
      throw new PatchbayError(
        ErrorCodes.DIGEST_MISMATCH,
        `FILE ${path} has sha256 ${sha256}, but --patch says ${given.sha256}`,
        { file: path },
      );
    }
    if (given?.size !== undefined && given.size !== size) {
      throw new PatchbayError(
        ErrorCodes.SIZE_MISMATCH,
        `FILE ${path} has ${size} bytes, but --patch says ${given.size}`,
        { file: path },
      );
    }
    files.push({ name, url: name, size, sha256 });
  }
  const descriptor = descriptorFromPatch({ ...(patch as FeedPatch), files });
  const problem = descriptorSchemaProblem(descriptor, `--patch ${opts.patchFile}`);
  if (problem !== undefined) throw usage(problem);

  const edit = await RepositoryEdit.open(opts.repo, opts.keys, opts.now);
  if (opts.vendor === undefined && targetsInfo(edit).vendor === undefined) {
    throw usage('--vendor is required: the repository names no vendor yet');
  }
  const known = targetsInfo(edit).products.find((p) => p.id === descriptor.product);
  updateTargetsInfo(edit, opts.vendor, [
    {
      id: descriptor.product,
      name: opts.productName ?? known?.name ?? descriptor.product,
      releases: [descriptor.release],
    },
  ]);
  const outcome = await stagePatch(edit, { descriptor, sources });
  const written = await edit.commit();
  const role = roleNameFor(descriptor.product, descriptor.release);
  const lines = [
    outcome === 'unchanged'
      ? `${descriptor.id}: already published in role ${role}, unchanged`
      : `${descriptor.id}: ${outcome} in role ${role} (${descriptor.files.length} file${descriptor.files.length === 1 ? '' : 's'})`,
    ...written.map(describeWritten),
  ];
  return { ok: true, json: { patch: descriptor.id, role, outcome, written }, lines };
}
