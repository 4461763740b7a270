import t from 'tap';
import { createHash } from 'node:crypto';
import { TargetFile, Targets } from '@tufjs/models';
import { canonicalize } from '@tufjs/canonical-json';
import { ErrorCodes } from '../src/errors.js';
import { parseCatalog } from '../src/feed.js';
import type { FeedPatch } from '../src/types.js';
import {
  SPEC_VERSION,
  catalogFromRoles,
  descriptorBytes,
  descriptorFromPatch,
  patchTargets,
  readDescriptors,
  type PatchDescriptor,
} from '../src/tuf/index.js';
import { ROLE, samplePatch } from './fixtures/tuf-repo.js';

const sha = (data: string | Buffer) => createHash('sha256').update(data).digest('hex');

function roleWith(targets: TargetFile[]): Targets {
  const role = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: '2030-01-01T00:00:00Z' });
  for (const target of targets) role.addTarget(target);
  return role;
}

/** A descriptor target whose length and hash fit `patch` (whatever it holds), with custom set. */
function descriptorTarget(path: string, patch: unknown): TargetFile {
  const bytes = Buffer.from(canonicalize(patch as object));
  return TargetFile.fromJSON(path, {
    length: bytes.length,
    hashes: { sha256: sha(bytes) },
    custom: { patchbay: { patch: patch as never } },
  });
}

function fileTarget(
  patch: FeedPatch | PatchDescriptor,
  index = 0,
  change: Partial<{ length: number; sha256: string }> = {},
) {
  const file = patch.files[index]!;
  return new TargetFile({
    path: `${patch.product}/${patch.release}/${patch.id}/${file.name}`,
    length: change.length ?? file.size,
    hashes: { sha256: change.sha256 ?? file.sha256 },
  });
}

t.test('a descriptor is the feed patch without urls; its targets carry it in custom', async (t) => {
  const patch = samplePatch();
  const descriptor = descriptorFromPatch(patch);
  t.same(descriptor.files, [
    { name: 'T5KB0042.sh', size: patch.files[0]!.size, sha256: patch.files[0]!.sha256 },
  ]);
  t.equal(descriptor.install.command[0], 'sh');
  const [dTarget, fTarget, ...rest] = patchTargets(descriptor);
  t.equal(rest.length, 0);
  t.equal(dTarget!.path, 'arcserve-backup/19.0/T5KB0042.json');
  t.equal(dTarget!.length, descriptorBytes(descriptor).length);
  t.equal(dTarget!.hashes.sha256, sha(descriptorBytes(descriptor)));
  t.same(dTarget!.custom, { patchbay: { patch: descriptor } });
  t.same(dTarget!.toJSON().custom, { patchbay: { patch: descriptor } }, 'custom is in the signed JSON');
  t.equal(fTarget!.path, 'arcserve-backup/19.0/T5KB0042/T5KB0042.sh');
  t.same(fTarget!.hashes, { sha256: patch.files[0]!.sha256 });

  const { description: _d, detect: _x, ...minimal } = patch;
  t.notOk(
    'description' in descriptorFromPatch({ ...minimal, description: undefined }),
    'undefined fields dropped',
  );
});

t.test('readDescriptors accepts a well-formed role and ignores other targets', async (t) => {
  const descriptor = descriptorFromPatch(samplePatch());
  const extra = new TargetFile({
    path: 'arcserve-backup/19.0/README.txt',
    length: 1,
    hashes: { sha256: sha('x') },
  });
  const { descriptors, refused } = readDescriptors(ROLE, roleWith([...patchTargets(descriptor), extra]));
  t.same(refused, []);
  t.equal(descriptors.length, 1);
  t.same(descriptors[0]!.descriptor, descriptor);
  t.same(descriptors[0]!.files, [
    { ...descriptor.files[0], targetPath: 'arcserve-backup/19.0/T5KB0042/T5KB0042.sh' },
  ]);
});

t.test('readDescriptors refuses each broken descriptor with its reason, keeping the others', async (t) => {
  const good = descriptorFromPatch(samplePatch({ id: 'T5KB0001' }));
  const cases: { name: string; targets: (d: PatchDescriptor) => TargetFile[]; reason: RegExp }[] = [
    {
      name: 'no custom.patchbay.patch',
      targets: (d) => [
        new TargetFile({
          path: 'arcserve-backup/19.0/T5KB0042.json',
          length: 2,
          hashes: { sha256: sha('{}') },
        }),
        fileTarget(d),
      ],
      reason: /has no custom\.patchbay\.patch object/,
    },
    {
      name: 'fails the feed schema',
      targets: (d) => [
        descriptorTarget('arcserve-backup/19.0/T5KB0042.json', { ...d, severity: 'urgent' }),
        fileTarget(d),
      ],
      reason:
        /descriptor arcserve-backup\/19\.0\/T5KB0042\.json: \/severity must be one of "critical", "recommended", "optional"/,
    },
    {
      name: 'missing install (schema required)',
      targets: (d) => {
        const { install: _install, ...rest } = d;
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', rest), fileTarget(d)];
      },
      reason: /must have required property 'install'/,
    },
    {
      name: 'id differs from the path',
      targets: (d) => [
        descriptorTarget('arcserve-backup/19.0/T5KB0042.json', { ...d, id: 'T5KB0043' }),
        fileTarget(d),
      ],
      reason: /id "T5KB0043" differs from the path's "T5KB0042"/,
    },
    {
      name: 'release differs from the path',
      targets: (d) => [
        descriptorTarget('arcserve-backup/19.0/T5KB0042.json', { ...d, release: '18.0' }),
        fileTarget(d),
      ],
      reason: /release "18\.0" differs from the path's "19\.0"/,
    },
    {
      name: 'outside the role',
      targets: (d) => {
        const other = { ...d, release: '18.0' };
        return [descriptorTarget('arcserve-backup/18.0/T5KB0042.json', other), fileTarget(other)];
      },
      reason: /is outside role arcserve-backup~19\.0/,
    },
    {
      name: 'length and hash not of the canonical JSON',
      targets: (d) => [
        TargetFile.fromJSON('arcserve-backup/19.0/T5KB0042.json', {
          length: 10,
          hashes: { sha256: sha('other') },
          custom: { patchbay: { patch: d as never } },
        }),
        fileTarget(d),
      ],
      reason: /length and sha256 are not those of its custom\.patchbay\.patch/,
    },
    {
      name: 'file target missing',
      targets: (d) => [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', d)],
      reason: /file T5KB0042\.sh: target arcserve-backup\/19\.0\/T5KB0042\/T5KB0042\.sh is not in role/,
    },
    {
      name: 'file target length differs',
      targets: (d) => [
        descriptorTarget('arcserve-backup/19.0/T5KB0042.json', d),
        fileTarget(d, 0, { length: 1 }),
      ],
      reason: /has length 1, the descriptor says/,
    },
    {
      name: 'file target sha256 differs',
      targets: (d) => [
        descriptorTarget('arcserve-backup/19.0/T5KB0042.json', d),
        fileTarget(d, 0, { sha256: sha('x') }),
      ],
      reason: /has sha256 2d711642.*, the descriptor says/,
    },
    {
      name: 'unsafe file name',
      targets: (d) => {
        const bad = { ...d, files: [{ ...d.files[0]!, name: '..sh' }] };
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', bad)];
      },
      reason: /\.json: file "\.\.sh" is not a plain file name/,
    },
    {
      name: "a device name in a patch that may run on Windows (signed metadata gets the feed's rules)",
      targets: (d) => {
        const bad = { ...d, platforms: ['win32'], files: [{ ...d.files[0]!, name: 'NUL.sh' }] };
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', bad)];
      },
      reason: /\.json: file "NUL\.sh" is not a plain file name: "NUL" is a reserved device name on Windows/,
    },
    {
      name: 'duplicate file names',
      targets: (d) => {
        const bad = { ...d, files: [d.files[0]!, d.files[0]!] };
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', bad), fileTarget(d)];
      },
      reason: /\.json: duplicate file name "T5KB0042\.sh"/,
    },
    {
      name: 'an exit code in two lists',
      targets: (d) => {
        const bad = {
          ...d,
          install: { ...d.install, rebootExitCodes: [3010], retryExitCodes: [1618, 3010] },
        };
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', bad), fileTarget(d)];
      },
      reason: /T5KB0042\.json: install: exit code 3010 is in both rebootExitCodes and retryExitCodes$/,
    },
    {
      name: '{log} in a detect rule (it has no installer log)',
      targets: (d) => {
        const bad = { ...d, detect: { command: ['check', '--log', '{log}'] } };
        return [descriptorTarget('arcserve-backup/19.0/T5KB0042.json', bad), fileTarget(d)];
      },
      reason: /T5KB0042\.json: detect: placeholder \{log\} is for install and uninstall argv only$/,
    },
  ];
  for (const c of cases) {
    const broken = descriptorFromPatch(samplePatch());
    const { descriptors, refused } = readDescriptors(
      ROLE,
      roleWith([...c.targets(broken), ...patchTargets(good)]),
    );
    t.same(
      descriptors.map((d) => d.descriptor.id),
      ['T5KB0001'],
      `${c.name}: the good descriptor stays`,
    );
    t.equal(refused.length, 1, c.name);
    t.match(refused[0], { role: ROLE, patchId: 'T5KB0042', error: c.reason }, c.name);
  }
});

t.test('catalogFromRoles: verified roles as a Catalog the feed parser accepts', async (t) => {
  const aFile = { name: 'T5KB0040.sh', url: 'files/T5KB0040.sh', size: 3, sha256: sha('a!\n') };
  const a = descriptorFromPatch(samplePatch({ id: 'T5KB0040', files: [aFile] }));
  const b = descriptorFromPatch(samplePatch({ id: 'T5KB0042', requires: ['T5KB0040'] }));
  const c = descriptorFromPatch(samplePatch({ id: 'T5KB0050', product: 'arcserve-backup', release: '18.0' }));
  const targets = new Targets({
    version: 4,
    specVersion: SPEC_VERSION,
    expires: '2030-01-01T00:00:00Z',
    unrecognizedFields: {
      'x-patchbay': {
        vendor: 'Arcserve',
        products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['18.0', '19.0'] }],
      },
    },
  });
  const roles = new Map([
    [ROLE, roleWith([...patchTargets(b), ...patchTargets(a)])],
    ['arcserve-backup~18.0', roleWith(patchTargets(c))],
  ]);
  const { catalog, heldBack } = catalogFromRoles({
    targets,
    roles,
    fileUrl: (file) => `/v1/blobs/sha256/${file.sha256}`,
    now: new Date('2026-12-01T10:00:00.123Z'),
  });
  t.same(heldBack, []);
  t.equal(catalog.vendor, 'Arcserve');
  t.equal(catalog.sequence, 4);
  t.equal(catalog.publishedAt, '2026-12-01T10:00:00Z');
  t.equal(catalog.expiresAt, '2030-01-01T00:00:00Z');
  t.same(
    catalog.patches.map((p) => p.id),
    ['T5KB0050', 'T5KB0040', 'T5KB0042'],
    'by role name, then id',
  );
  t.equal(catalog.patches[2]!.files[0]!.url, `/v1/blobs/sha256/${b.files[0]!.sha256}`);
  t.doesNotThrow(() => parseCatalog(JSON.stringify(catalog)), 'a valid patchbay-catalog/1');

  const held = catalogFromRoles({
    targets,
    roles,
    fileUrl: () => 'x',
    unavailable: [
      {
        path: 'arcserve-backup/19.0/T5KB0040/T5KB0040.sh',
        sha256: a.files[0]!.sha256,
        reason: 'digest mismatch on the mirror',
      },
    ],
  });
  t.same(
    held.catalog.patches.map((p) => p.id),
    ['T5KB0050'],
  );
  t.match(held.heldBack, [
    { patchId: 'T5KB0040', error: /file T5KB0040\.sh is unavailable on the mirror: digest mismatch/ },
    { patchId: 'T5KB0042', error: /requires held-back patch T5KB0040/ },
  ]);
});

t.test(
  'catalogFromRoles holds back refused descriptors, undeclared releases and ids in two roles',
  async (t) => {
    const ok = descriptorFromPatch(samplePatch({ id: 'T5KB0001' }));
    const dup = descriptorFromPatch(samplePatch({ id: 'T5KB0002' }));
    const dup18 = descriptorFromPatch(samplePatch({ id: 'T5KB0002', release: '18.0' }));
    const undeclared = descriptorFromPatch(samplePatch({ id: 'T5KB0003', release: '20.0' }));
    const refusedOne = descriptorFromPatch(samplePatch({ id: 'T5KB0004' }));
    const targets = new Targets({
      version: 1,
      specVersion: SPEC_VERSION,
      expires: '2030-01-01T00:00:00Z',
      unrecognizedFields: {
        'x-patchbay': {
          vendor: 'Arcserve',
          products: [{ id: 'arcserve-backup', name: 'Arcserve Backup', releases: ['18.0', '19.0'] }],
        },
      },
    });
    const { catalog, heldBack } = catalogFromRoles({
      targets,
      roles: new Map([
        [ROLE, roleWith([...patchTargets(ok), ...patchTargets(dup), patchTargets(refusedOne)[0]!])],
        ['arcserve-backup~18.0', roleWith(patchTargets(dup18))],
        ['arcserve-backup~20.0', roleWith(patchTargets(undeclared))],
      ]),
      fileUrl: () => 'x',
    });
    t.same(
      catalog.patches.map((p) => p.id),
      ['T5KB0001'],
    );
    t.same(Object.fromEntries(heldBack.map((h) => [h.patchId, h.error])), {
      T5KB0002: 'patch id T5KB0002 is in role arcserve-backup~18.0 and role arcserve-backup~19.0',
      T5KB0003:
        'product "arcserve-backup" release "20.0" is not declared in the targets\' x-patchbay products',
      T5KB0004: heldBack.find((h) => h.patchId === 'T5KB0004')!.error,
    });
    t.match(heldBack.find((h) => h.patchId === 'T5KB0004')!.error, /is not in role/);
  },
);

t.test('catalogFromRoles refuses targets without a valid x-patchbay', async (t) => {
  const bare = new Targets({ version: 1, specVersion: SPEC_VERSION, expires: '2030-01-01T00:00:00Z' });
  t.throws(() => catalogFromRoles({ targets: bare, roles: new Map(), fileUrl: () => 'x' }), {
    code: ErrorCodes.TUF_VERIFY,
    message: /targets x-patchbay: \/ is missing/,
  });
  const noVendor = new Targets({
    version: 1,
    specVersion: SPEC_VERSION,
    expires: '2030-01-01T00:00:00Z',
    unrecognizedFields: { 'x-patchbay': { products: [] } },
  });
  t.throws(() => catalogFromRoles({ targets: noVendor, roles: new Map(), fileUrl: () => 'x' }), {
    code: ErrorCodes.TUF_VERIFY,
    message: /vendor/,
  });
});
