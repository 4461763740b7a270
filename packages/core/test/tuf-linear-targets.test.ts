// core/tuf replaces @tufjs/models' quadratic targets-map copies with linear loops
// (src/tuf/linear-targets.ts). What the library produced must not change: the same
// targets, the same canonical JSON (signatures are over it), the same refusals. (The speed is
// measured by the benchmark's trust v2 check case, not asserted here.)
import t from 'tap';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, MetadataKind, Targets } from '@tufjs/models';
import { createSigner, generateEd25519KeyPair, tufKey } from '../src/tuf/index.js';

function roleJson(count: number): Record<string, unknown> {
  const targets: Record<string, unknown> = {};
  for (let i = 0; i < count; i++) {
    targets[`p/1.0/P${i}/f${i}.sh`] = {
      length: i + 1,
      hashes: { sha256: i.toString(16).padStart(64, '0') },
      custom: { n: i },
    };
  }
  return {
    _type: 'targets',
    spec_version: '1.0.31',
    version: 3,
    expires: '2030-01-01T00:00:00Z',
    targets,
    'x-extra': { kept: true },
  };
}

t.test('fromJSON and toJSON keep every target, field and the canonical bytes', async (t) => {
  const { _type: _ignored, ...signed } = roleJson(3000);
  const parsed = Targets.fromJSON(signed as never);
  t.equal(Object.keys(parsed.targets).length, 3000);
  t.equal(parsed.targets['p/1.0/P7/f7.sh']?.length, 8);
  t.same(parsed.targets['p/1.0/P7/f7.sh']?.custom, { n: 7 });
  t.same(parsed.unrecognizedFields, { 'x-extra': { kept: true } });
  t.equal(
    canonicalize(parsed.toJSON()),
    canonicalize({ _type: 'targets', ...signed }),
    'the same canonical JSON',
  );
  t.throws(() => Targets.fromJSON({ ...signed, targets: [] } as never), /targets must be an object/);
  t.throws(() => Targets.fromJSON({ ...signed, targets: 'x' } as never), /targets must be an object/);
  t.equal(Object.keys(Targets.fromJSON({ ...signed, targets: undefined } as never).targets).length, 0);
});

t.test('a role signed after the round trip verifies against its key', async (t) => {
  const { privateKey } = generateEd25519KeyPair();
  const key = tufKey(privateKey);
  const md = Metadata.fromJSON(MetadataKind.Targets, { signed: roleJson(500), signatures: [] } as never);
  md.sign(createSigner(privateKey));
  const again = Metadata.fromJSON(MetadataKind.Targets, JSON.parse(JSON.stringify(md.toJSON())) as never);
  t.doesNotThrow(() => key.verifySignature(again as never), 'signature over the canonical signed verifies');
});
