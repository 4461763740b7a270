import t from 'tap';
import { createHash, generateKeyPairSync } from 'node:crypto';
import { chmod, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { canonicalize } from '@tufjs/canonical-json';
import { Metadata, Root } from '@tufjs/models';
import { ErrorCodes, isPatchbayError } from '../src/errors.js';
import {
  SPEC_VERSION,
  computeKeyId,
  createSigner,
  generateEd25519KeyPair,
  keyIdOf,
  publicKeyFromTufKey,
  readPrivateKeyFile,
  readPublicKeyFile,
  tufKey,
  tufKeyJson,
  writePrivateKeyFile,
  writePublicKeyFile,
} from '../src/tuf/index.js';

t.test(
  'the TUF key object is the raw public key in hex; its id is SHA-256 of the canonical JSON',
  async (t) => {
    const { publicKey } = generateEd25519KeyPair();
    const json = tufKeyJson(publicKey);
    const raw = publicKey.export({ format: 'jwk' }).x!;
    t.same(json, {
      keytype: 'ed25519',
      scheme: 'ed25519',
      keyval: { public: Buffer.from(raw, 'base64url').toString('hex') },
    });
    t.match(json.keyval.public, /^[0-9a-f]{64}$/);
    // The python-tuf key id: sha256 of {"keytype":"ed25519","keyval":{"public":"..."},"scheme":"ed25519"}.
    const expected = createHash('sha256')
      .update(`{"keytype":"ed25519","keyval":{"public":"${json.keyval.public}"},"scheme":"ed25519"}`)
      .digest('hex');
    t.equal(computeKeyId(json), expected);
    t.equal(canonicalize(json).length > 0, true);
    t.equal(tufKey(publicKey).keyID, expected);
    t.equal(keyIdOf(publicKey), expected);
    t.ok(publicKeyFromTufKey(tufKey(publicKey)).equals(publicKey), 'back to the same public key');
    // A Key from another copy of @tufjs/models (tuf-js's own) is not `instanceof` ours: its JSON counts.
    const foreign = { keyID: 'x', keyType: 'ed25519', toJSON: () => tufKey(publicKey).toJSON() };
    t.equal(computeKeyId(foreign as never), expected);
  },
);

t.test('a signer makes signatures @tufjs/models verifies, under the key id', async (t) => {
  const { privateKey, publicKey } = generateEd25519KeyPair();
  const root = new Root({
    version: 1,
    specVersion: SPEC_VERSION,
    expires: '2030-01-01T00:00:00Z',
    consistentSnapshot: true,
  });
  for (const role of ['root', 'targets', 'snapshot', 'timestamp']) root.addKey(tufKey(publicKey), role);
  const metadata = new Metadata(root);
  metadata.sign(createSigner(privateKey));
  t.same(Object.keys(metadata.signatures), [keyIdOf(publicKey)]);
  t.match(metadata.signatures[keyIdOf(publicKey)]!.sig, /^[0-9a-f]{128}$/);
  t.doesNotThrow(() => metadata.verifyDelegate('root', metadata));
});

t.test('key files: private PKCS#8 PEM mode 0600, public SPKI PEM; no overwrite', async (t) => {
  const dir = t.testdir();
  const { privateKey, publicKey } = generateEd25519KeyPair();
  const keyFile = join(dir, 'keys', 'root-1.key');
  await writePrivateKeyFile(keyFile, privateKey);
  await writePublicKeyFile(join(dir, 'keys', 'root-1.pub'), publicKey);
  if (process.platform !== 'win32') t.equal((await stat(keyFile)).mode & 0o777, 0o600);
  t.match(await readFile(keyFile, 'utf8'), /^-----BEGIN PRIVATE KEY-----/);
  t.match(await readFile(join(dir, 'keys', 'root-1.pub'), 'utf8'), /^-----BEGIN PUBLIC KEY-----/);
  t.ok((await readPrivateKeyFile(keyFile)).equals(privateKey));
  t.ok((await readPublicKeyFile(join(dir, 'keys', 'root-1.pub'))).equals(publicKey));
  await t.rejects(writePrivateKeyFile(keyFile, generateEd25519KeyPair().privateKey), {
    code: ErrorCodes.KEY_FILE,
    message: /already exists/,
  });
  await writePrivateKeyFile(keyFile, generateEd25519KeyPair().privateKey, { replace: true });
  t.notOk((await readPrivateKeyFile(keyFile)).equals(privateKey), 'replace: true replaces');
});

t.test(
  'a private key file that group or others can read is refused, naming the file and chmod 600',
  { skip: process.platform === 'win32' },
  async (t) => {
    const dir = t.testdir();
    const keyFile = join(dir, 'targets-1.key');
    await writePrivateKeyFile(keyFile, generateEd25519KeyPair().privateKey);
    for (const mode of [0o640, 0o604, 0o644]) {
      await chmod(keyFile, mode);
      const err = await readPrivateKeyFile(keyFile).catch((e: unknown) => e);
      t.ok(isPatchbayError(err, ErrorCodes.KEY_FILE), mode.toString(8));
      t.match((err as Error).message, keyFile);
      t.match((err as Error).message, /chmod 600/);
    }
    await chmod(keyFile, 0o400);
    t.ok(await readPrivateKeyFile(keyFile), '0400 is private too');
  },
);

t.test('unreadable, missing, non-PEM and non-Ed25519 key files are PB_ERR_KEY_FILE', async (t) => {
  const dir = t.testdir();
  await t.rejects(readPrivateKeyFile(join(dir, 'absent.key')), {
    code: ErrorCodes.KEY_FILE,
    message: /absent\.key is unreadable/,
  });
  await writeFile(join(dir, 'junk.key'), 'not a key', { mode: 0o600 });
  await t.rejects(readPrivateKeyFile(join(dir, 'junk.key')), {
    code: ErrorCodes.KEY_FILE,
    message: /not a PKCS#8 PEM/,
  });
  const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
  await writeFile(join(dir, 'rsa.key'), rsa.privateKey.export({ type: 'pkcs8', format: 'pem' }), {
    mode: 0o600,
  });
  await t.rejects(readPrivateKeyFile(join(dir, 'rsa.key')), {
    code: ErrorCodes.KEY_FILE,
    message: /rsa key, not Ed25519/,
  });
  await writeFile(join(dir, 'rsa.pub'), rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  await t.rejects(readPublicKeyFile(join(dir, 'rsa.pub')), {
    code: ErrorCodes.KEY_FILE,
    message: /not Ed25519/,
  });
  await t.rejects(readPublicKeyFile(join(dir, 'junk.key')), {
    code: ErrorCodes.KEY_FILE,
    message: /not an SPKI PEM/,
  });
});
